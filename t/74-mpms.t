# Every MPM: the integration suite's core (clone, fetch and push; the
# refusals; a database outage and restart) under the prefork and worker
# MPMs too.  The rest of the suite runs under event, the harness's default
# (BBT_MPM chooses another for any test).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use BBT::Env qw(run_cmd in_children);
use BBT::Util qw(slurp spew);

my $ROOT = $BBT::Env::ROOT;
my @core = qw(t/20-git-basic.t t/21-git-denied.t t/23-db-outage.t);
my @mpms = qw(prefork worker);
# Each test starts servers of its own: two at a time for each MPM, both
# MPMs at once (the tests wait on their servers as much as they compute).
my $out_dir = tempdir(CLEANUP => 1);
my @status = in_children(scalar @mpms, sub {
    my $mpm = $mpms[$_[0] - 1];
    my ($rc, $out, $err) = run_cmd(cmd => ['prove', '-j2', @core], cwd => $ROOT, timeout => 600,
                                   env => { BBT_MPM => $mpm });
    spew("$out_dir/$mpm", "$out$err");
    return $rc ? 1 : 0;
});
for my $i (0 .. $#mpms) {
    my $out = slurp("$out_dir/$mpms[$i]");
    is($status[$i], 0, "$mpms[$i]: @core") or diag $out;
    note $out;
}
done_testing;
