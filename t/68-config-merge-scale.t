# The startup check of routes a later section replaces (BBT362) compares
# every pair of sections that set them, and a site may have thousands of
# them: each <LocationMatch> is compiled once, when the sections are
# collected, not again for each pair (which took some 250 bytes of the
# configuration's pool a pair, 2 GB for 2,000 <Location>s and as many
# <LocationMatch>es), and a virtual host's pass compares only the pairs
# that involve something of its own, not the main server's sections with
# each other once more for each virtual host.  So httpd -t with that many
# sections and a hundred virtual hosts runs within 300 MB of address space,
# and still finds the two sections replaced among them.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;

plan skip_all => 'the sanitizers reserve terabytes of address space' if $ENV{BBT_SANITIZE};

my $env = BBT::Env->new(httpd => 0)->start;

my $n = 2000;
my $conf = <<'EOC';
<Location /t>
    AuthType BBToken
    AuthName "t"
    BBTokenRoutes none
    Require bbtoken
</Location>
EOC
$conf .= "<Location /t/P$_/r.git>\n    BBTokenRoutes none\n</Location>\n" for 1 .. $n;
$conf .= <<"EOC" for 1 .. $n;
<LocationMatch "^/t/Q$_/">
    AuthType BBToken
    AuthName "t"
    BBTokenRoutes none
    Require bbtoken
</LocationMatch>
EOC
# The two that replace a narrower section's routes: one matching below
# /t/P1/r.git, and a virtual host's covering /t/P2/r.git.
$conf .= <<'EOC';
<LocationMatch "^/t/P1/">
    AuthType BBToken
    AuthName "t"
    BBTokenRoutes none
    Require bbtoken
</LocationMatch>
EOC
$conf .= "<VirtualHost 127.0.0.1:" . (40000 + $_) . ">\n</VirtualHost>\n" for 1 .. 100;
$conf .= <<'EOC';
<VirtualHost 127.0.0.1:40101>
    <Location /t/P2>
        BBTokenRoutes none
    </Location>
</VirtualHost>
EOC

my $limit = 300 * 1024;
my ($rc, $out) = $env->config_test($conf, undef, ['sh', '-c', "ulimit -v $limit && exec \"\$@\"", 'sh']);
is($rc, 0, "httpd -t with $n <Location>s, $n <LocationMatch>es and 101 virtual hosts, within 300 MB")
    or diag substr($out, 0, 2000);
my @got;
push @got, "$1 $2" while $out =~ /BBT362: \S+:\d+: (<\w+ [^>]*>) sets .*?, and (<\w+ [^>]*>) \(/g;
is_deeply(\@got, ['<Location /t/P1/r.git> <LocationMatch "^/t/P1/">', '<Location /t/P2/r.git> <Location /t/P2>'],
          '  the two sections replaced are found') or diag substr($out, 0, 2000);
my @other = grep { !/BBT362/ } $out =~ /(BBT3\d\d: [^\n]*)/g;
is_deeply(\@other, [], '  and nothing else is said') or diag join "\n", @other[0 .. ($#other < 5 ? $#other : 5)];

done_testing;
