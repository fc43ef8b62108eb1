# build/test.sh with BBT_KEEP=1 keeps what it ran in: every test's
# directory is in the run's own (BBT_TMPDIR), which the script's exit
# removed, with the directory the README says BBT_KEEP keeps.  Now the
# servers are stopped all the same, the run's directory is kept and the
# script says where; without BBT_KEEP both go.  The test run here is a tiny
# one, whose environment stays up (detached, as the demo's does), so that
# what stops its servers is the script.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(remove_tree);
use File::Temp qw(tempdir);
use BBT::Env qw(run_cmd);
use BBT::Util qw(port_open slurp spew exited);

my $ROOT = $BBT::Env::ROOT;
my $base = tempdir('test-keep-XXXXXX', DIR => $ENV{BBT_TMPDIR} || '/tmp', CLEANUP => 1);
chmod 0755, $base;
my $tiny = "$base/tiny.t";
spew($tiny, <<"EOT");
use strict;
use warnings;
use lib '$ROOT/t/lib';
use Test::More;
use BBT::Env;
my \$env = BBT::Env->new->start;
my (\$pm) = BBT::Env::slurp("\$env->{pgdata}/postmaster.pid") =~ /\\A(\\d+)/;
diag "env: \$env->{dir} \$env->{httpd_pid} \$pm \$env->{port}";
\$env->detach;
ok(1, 'started');
done_testing;
EOT

my @kept;
END { remove_tree($_) for @kept }
for my $keep (1, undef) {
    my $what = $keep ? 'BBT_KEEP=1' : 'without BBT_KEEP';
    my ($rc, $out, $err) = run_cmd(cmd => ["$ROOT/build/test.sh", $tiny], timeout => 600,
                                   env => { BBT_KEEP => $keep });
    is($rc, 0, "build/test.sh $what") or diag "$out$err";
    my ($dir, $httpd, $pm, $port) = "$out$err" =~ /^# env: (\S+) (\d+) (\d+) (\d+)$/m
        or BAIL_OUT("what the tiny test said: $out$err");
    my ($run) = $dir =~ m{\A(.*/bbt-run-\w+)/[^/]+\z} or BAIL_OUT("not in a run's directory: $dir");
    ok(exited($httpd) && exited($pm), '  the servers are stopped');
    ok(!port_open($port), '  httpd\'s port is free');
    if ($keep) {
        push @kept, $run;
        ok(-f "$dir/httpd.conf" && -f "$dir/pg/data/PG_VERSION", "  the test's directory is kept");
        like($err, qr/^# BBT_KEEP: kept \Q$run\E\b/m, '  and the script says where');
    } else {
        ok(!-e $run, '  the run\'s directory is removed');
    }
}
done_testing;
