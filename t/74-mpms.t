# Every MPM: the integration suite's core (clone, fetch and push; the
# refusals; a database outage and restart) under the prefork and worker
# MPMs too.  The rest of the suite runs under event, the harness's default
# (BBT_MPM chooses another for any test).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(run_cmd);

my $ROOT = $BBT::Env::ROOT;
my @core = qw(t/20-git-basic.t t/21-git-denied.t t/23-db-outage.t);
# Each test starts servers of its own: three at a time.
for my $mpm (qw(prefork worker)) {
    my ($rc, $out, $err) = run_cmd(cmd => ['prove', '-j3', @core], cwd => $ROOT, timeout => 600,
                                   env => { BBT_MPM => $mpm });
    is($rc, 0, "$mpm: @core") or diag "$out$err";
    note $out;
}
done_testing;
