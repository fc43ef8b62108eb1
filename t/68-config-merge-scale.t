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
#
# Nor does a virtual host's own DocumentRoot, which nearly every one has,
# have them compared again: it gives URLs only to the main server's
# directories under it, and only those are compared again, with the main
# server's other sections; the URLs of each pass are let go when it ends.
# Each virtual host's pass through 2,000 <Location>s and 2,000
# <Directory>s once took 50 ms and 0.5 MB that stayed: 400 of them, 20 s
# and 195 MB.  The pairs compared, which the check says at debug level
# (BBT363), are those of the main server's pass and of the one directory a
# virtual host's DocumentRoot gives a URL, and httpd -t runs within 100 MB.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env;

plan skip_all => 'the sanitizers reserve terabytes of address space' if $ENV{BBT_SANITIZE};

my $env = BBT::Env->new(httpd => 0)->start;
# Thousands of sections: seconds of CPU for httpd -t, more on a loaded
# machine than config_test's minute.
$env->{config_test_timeout} = 600;

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
my @other = grep { !/BBT36[23]/ } $out =~ /(BBT3\d\d: [^\n]*)/g;
is_deeply(\@other, [], '  and nothing else is said') or diag join "\n", @other[0 .. ($#other < 5 ? $#other : 5)];

# 2,000 <Location>s and 2,000 <Directory>s with routes, and 400 virtual
# hosts: (exit code, output, pairs compared) with each virtual host's
# DocumentRoot line made by $root (none if it gives undef).  One
# <Directory> has a URL in the virtual host whose DocumentRoot is
# @DIR@/site, where <Location /t> covers it.
my $d = $env->dir;
my $nv = 400;
make_path("$d/site", map { "$d/vh$_" } 1 .. $nv);
my $many = sub {
    my ($root) = @_;
    my $c = <<'EOC';
<Location /t>
    AuthType BBToken
    AuthName "t"
    BBTokenRoutes none
    Require bbtoken
</Location>
<Directory "@DIR@/site/t/P1/r.git">
    BBTokenRoutes none
</Directory>
EOC
    $c .= "<Location /t/P$_/r.git>\n    BBTokenRoutes none\n</Location>\n" for 1 .. $n;
    $c .= "<Directory \"\@DIR\@/dirs/d$_\">\n    BBTokenRoutes none\n</Directory>\n" for 1 .. $n;
    for my $v (1 .. $nv) {
        my $r = $root->($v);
        $c .= "<VirtualHost 127.0.0.1:" . (40000 + $v) . ">\n" . (defined $r ? "    DocumentRoot \"$r\"\n" : '')
            . "</VirtualHost>\n";
    }
    my ($rc, $out) = $env->config_test($c, undef, ['sh', '-c', 'ulimit -v 102400 && exec "$@"', 'sh']);
    my ($pairs) = $out =~ /BBT363: .* compared (\d+) pairs of sections over \d+ servers/;
    return ($rc, $out, $pairs);
};
my ($rc0, $out0, $pairs0) = $many->(sub { undef });
is($rc0, 0, "httpd -t with $n <Location>s, $n <Directory>s and $nv virtual hosts, within 100 MB")
    or diag substr($out0, 0, 2000);
ok($pairs0, "  compares $pairs0 pairs (BBT363)") or diag substr($out0, 0, 2000);
my ($rc1, $out1, $pairs1) = $many->(sub { $_[0] == $nv ? "$d/site" : "$d/vh$_[0]" });
is($rc1, 0, '  and with a DocumentRoot in each virtual host, within 100 MB') or diag substr($out1, 0, 2000);
cmp_ok($pairs1 // 1e12, '<=', $pairs0 + 2 * $n + 2,
       '  which compares no more pairs but the directory its DocumentRoot gives one virtual host with each section')
    or diag substr($out1, 0, 2000);
@got = ();
push @got, "$1 $2" while $out1 =~ /BBT362: \S+:\d+: (<\w+ [^>]*>) sets .*?, and (<\w+ [^>]*>) \(/g;
is_deeply(\@got, [qq{<Directory "$d/site/t/P1/r.git"> <Location /t>}], '  and finds that one replaced')
    or diag substr($out1, 0, 2000);

done_testing;
