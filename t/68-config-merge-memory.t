# The startup check of routes a later section replaces (BBT362) compares
# pairs of sections, and what one comparison takes must not grow with the
# number of pairs or with PCRE2's appetite.
#
# An <If> with routes is asked of every section of AuthType BBToken
# whether it may be merged over it (or its routes do nothing, BBT352):
# 6000 of each once took some 300 MB, each pair's paths made again in the
# configuration's pool.  They are worked out once, when the sections are
# collected, and httpd -t runs within 300 MB of address space.
#
# A <LocationMatch> is asked by PCRE2 whether it may match a path or one
# below it; backtracking, PCRE2 keeps a frame of every capture group for
# each step, and its own limit of that heap is some 20 GB: a <Location> of
# a 120,000-character path and a pattern of 2000 groups took 5 GB.  The
# heap is held to 16 MB, and a pattern that runs out of it is said to
# match (and warned about), as one that runs out of steps is.  Within the
# address space httpd -t is given here PCRE2 would stop by itself, failing
# to allocate more, and still answer: what tells is the peak of its
# resident memory, which /usr/bin/time says.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Util qw(slurp);

plan skip_all => 'the sanitizers reserve terabytes of address space' if $ENV{BBT_SANITIZE};

my $env = BBT::Env->new(httpd => 0)->start;
my $d = $env->dir;
# Each httpd -t here takes seconds of CPU: on a loaded machine (CI running
# the suite in parallel) a minute of wall time was not enough.
$env->{config_test_timeout} = 600;

# httpd -t under ulimit -v $limit (KB), its peak resident memory in KB
# written to $peak if given: (exit code, output).
sub config_test_within {
    my ($conf, $limit, $peak) = @_;
    my @time = $peak ? ('/usr/bin/time', '-f', '%M', '-o', $peak) : ();
    return $env->config_test($conf, undef, ['sh', '-c', "ulimit -v $limit && exec \"\$@\"", 'sh', @time]);
}

my $n = 6000;
my $conf = '';
$conf .= "<Location /a$_>\n    AuthType BBToken\n    AuthName \"a\"\n    Require bbtoken\n</Location>\n" for 1 .. $n;
$conf .= "<Location /b$_>\n    <If \"true\">\n        BBTokenRoutes none\n    </If>\n</Location>\n" for 1 .. $n;
my ($rc, $out) = config_test_within($conf, 300 * 1024);
is($rc, 0, "httpd -t with $n <Location>s of AuthType BBToken and $n <If>s with routes in others, within 300 MB")
    or diag substr($out, 0, 2000);
my $said = () = $out =~ /BBT352: \S+:\d+: <If "true"> sets routes, but is not AuthType BBToken/g;
is($said, $n, '  each <If> applies over none of them: BBT352') or diag substr($out, 0, 2000);
unlike($out, qr/BBT362/, '  and none is replaced');

SKIP: {
    skip '/usr/bin/time is not installed', 4 unless -x '/usr/bin/time';
    my $path = '/t/' . ('a' x 120000);
    my $re = '^/t/(?:a|/)*[^a/]' . ('()' x 2000);
    my $heavy = <<"EOC";
<Location $path>
    AuthType BBToken
    AuthName "t"
    BBTokenRoutes none
    Require bbtoken
</Location>
<LocationMatch "$re">
    BBTokenRoutes none
</LocationMatch>
EOC
    my $peak = "$d/peak";
    unlink $peak;
    ($rc, $out) = config_test_within($heavy, 600 * 1024, $peak);
    is($rc, 0, 'httpd -t with a <LocationMatch> of 2000 groups after a <Location> of a 120,000-character path')
        or diag substr($out, 0, 2000);
    my ($kb) = slurp($peak) =~ /^(\d+)$/m;
    ok(defined $kb, '  its peak resident memory is known') or diag slurp($peak);
    cmp_ok($kb // 1e9, '<', 100 * 1024, '  and under 100 MB (PCRE2\'s heap held to 16 MB)');
    # (the error log cuts the line short, within the path)
    like($out, qr/BBT362: \S+:\d+: <Location \/t\/a{1000}/, '  the pattern that ran out of it is said to match');
}

done_testing;
