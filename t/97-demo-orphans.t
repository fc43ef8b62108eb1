# build/demo.sh stop after the demo's httpd parent and postmaster were
# killed (kill -9, the OOM killer): httpd's children are then init's, and
# the event MPM's ignore the TERM stop sends them.  stop kills what of the
# demo's is left after its grace (SIGKILL), frees the port and removes the
# directory; a start over such a demo does the same first.  Before, stop
# waited, said "still running ... it is kept" and failed, and so did every
# start after it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use Time::HiRes qw(sleep time);
use BBT::Env qw(run_cmd);
use BBT::Util qw(free_port port_open slurp exited);

plan skip_all => 'the demo runs as root' unless $> == 0;
my $ROOT = $BBT::Env::ROOT;
my $base = tempdir('demo-orphans-XXXXXX', DIR => $ENV{BBT_TMPDIR} || '/tmp', CLEANUP => 1);
chmod 0755, $base;

sub demo {
    my ($dir, $what, $port) = @_;
    return run_cmd(cmd => ['bash', "$ROOT/build/demo.sh", $what], timeout => 600,
                   env => { BBTOKEN_DEMO_DIR => $dir, BBTOKEN_DEMO_PORT => $port });
}
# The children of $parent, by /proc's ppid.
sub children {
    my ($parent) = @_;
    return map { m{^/proc/(\d+)/} ? $1 : () }
        grep { slurp($_) =~ /^\d+ \(.*\) \S (\d+) /s && $1 == $parent } glob '/proc/[0-9]*/stat';
}

my $dir = "$base/demo";
my $port = free_port();
my @orphans;
END {
    # What a failed stop left: the orphans this test made, by their pids.
    kill 'KILL', grep { !exited($_) } @orphans;
    demo($dir, 'stop', 0) if -e $dir;
}
# The demo killed twice over: stop, and a start over it, each find the
# same scene.
for my $what (qw(stop start)) {
    my ($rc, $out, $err) = demo($dir, 'start', $port);
    is($rc, 0, 'demo.sh start') or BAIL_OUT("$out$err");
    my ($httpd) = slurp("$dir/run/httpd.pid") =~ /^(\d+)$/m;
    my ($pm) = slurp("$dir/pg/data/postmaster.pid") =~ /\A(\d+)/;
    ok($httpd && $pm, 'httpd\'s and the postmaster\'s pids') or BAIL_OUT('no pids');
    @orphans = children($httpd);
    ok(@orphans >= 2, "httpd's children: @orphans");
    kill 'KILL', $httpd, $pm;
    my $deadline = time + 60;
    sleep 0.05 until (exited($httpd) && exited($pm)) || time > $deadline;
    ok(exited($httpd) && exited($pm), 'both killed');
    ok(scalar(grep { !exited($_) } @orphans), '  httpd\'s children outlive it') or diag "@orphans";

    ($rc, $out, $err) = $what eq 'stop' ? demo($dir, 'stop', $port) : demo($dir, 'start', $port);
    is($rc, 0, "demo.sh $what over the killed demo") or diag "$out$err";
    ok(!grep({ !exited($_) } @orphans), '  httpd\'s orphaned children are gone') or diag "@orphans";
    if ($what eq 'stop') {
        ok(!-e $dir, '  the directory is removed');
        ok(!port_open($port), '  the port is free');
    } else {
        ok(port_open($port), '  a new httpd answers on the port');
        ($rc, $out, $err) = demo($dir, 'stop', $port);
        is($rc, 0, 'demo.sh stop') or diag "$out$err";
    }
}
done_testing;
