# The demo interrupted while it starts (Ctrl-C, SIGINT): the harness dies
# out of the command it waits for (BBT::Env makes the signal a die), and
# that command, in a process group of its own that the terminal's signal
# does not reach, is ended with it (TERM, then KILL) before the cleanup
# removes the directory; the cleanup removes the directory's mark last.
# Before, initdb went on as postgres in the directory being removed, and
# left pg/ behind without the mark: build/demo.sh refused both to stop and
# to start ("is not the demo's").
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX ();
use File::Temp qw(tempdir);
use Time::HiRes qw(sleep time);
use BBT::Env qw(run_cmd);
use BBT::Util qw(free_port slurp exited);

my $ROOT = $BBT::Env::ROOT;
my $base = tempdir('demo-interrupt-XXXXXX', DIR => $ENV{BBT_TMPDIR} || '/tmp', CLEANUP => 1);
chmod 0755, $base;

# Wait (a minute at most) for $cond; whether it came.
sub wait_for {
    my ($cond) = @_;
    my $deadline = time + 60;
    sleep 0.02 until $cond->() || time > $deadline;
    return $cond->();
}
# The processes of process group $pgid that run (a zombie does not).
sub group_members {
    my ($pgid) = @_;
    return map { m{^/proc/(\d+)/} ? $1 : () }
        grep { slurp($_) =~ /^\d+ \(.*\) (\S) \d+ (\d+) /s && $2 == $pgid && $1 ne 'Z' } glob '/proc/[0-9]*/stat';
}
# Wait for child $pid to exit (it is killed after a minute); its status.
sub reap {
    my ($pid) = @_;
    my $deadline = time + 60;
    while (time < $deadline) {
        return $? if waitpid($pid, POSIX::WNOHANG()) == $pid;
        sleep 0.02;
    }
    kill 'KILL', $pid;
    waitpid $pid, 0;
    return -1;
}

# run_cmd interrupted: a command that ignores nothing, and one whose
# processes ignore TERM, each a shell with a child in its group.  This
# test's child runs run_cmd and is sent SIGINT once the command has
# started; when the child has died of it, nothing of the command's group
# runs.
for my $c (['ignores nothing', ''], ['ignores TERM', "trap '' TERM; "]) {
    my ($what, $trap) = @$c;
    my $started = "$base/started." . length $trap;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        eval { run_cmd(cmd => ['sh', '-c', "${trap}sleep 600 & echo \$\$ \$! > '$started.tmp'; mv '$started.tmp' '$started'; wait"],
                       timeout => 600) };
        POSIX::_exit($@ =~ /^caught SIGINT/ ? 0 : 1);
    }
    ok(wait_for(sub { -s $started }), "$what: the command started") or next;
    my ($pgid, $sleep) = split ' ', slurp($started);
    is(getpgrp($pgid), $pgid, '  in a process group of its own');
    kill 'INT', $pid;
    is(reap($pid), 0, '  SIGINT: run_cmd dies of it');
    is(join(' ', group_members($pgid)), '', '  and no process of the command\'s group runs');
    ok(exited($sleep), '  its child is gone too');
    kill 'KILL', -$pgid;
}

# A directory the cleanup cannot remove whole (here a file system mounted
# in it, as root) keeps its mark with what is left: build/demo.sh knows it
# for the demo's, to stop and remove once it can.
SKIP: {
    my $d = "$base/kept";
    my $env = BBT::Env->new(dir => $d, httpd => 0)->start;
    mkdir "$d/scratch/mnt" or die $!;
    my ($rc, $out, $err) = run_cmd(cmd => ['mount', '-t', 'tmpfs', 'bbt-test', "$d/scratch/mnt"], timeout => 60);
    skip "cannot mount here: $err", 3 if $rc;
    {
        local $SIG{__WARN__} = sub { };
        $env->cleanup;
    }
    run_cmd(cmd => ['umount', "$d/scratch/mnt"], timeout => 60);
    ok(!-e "$d/pg", 'the cleanup removes what it can');
    ok(-d "$d/scratch/mnt", '  not the mount point');
    ok(-e "$d/.bbt-env", '  and keeps the mark beside it');
}

# The demo itself, interrupted where the brief's run was: initdb under way
# (pg/data/postmaster.pid is there while it runs).  Nothing of it runs
# after, and build/demo.sh finds either nothing or a directory of its own
# it stops and removes, and starts again.
my $dir = "$base/demo";
END { run_cmd(cmd => ['bash', "$ROOT/build/demo.sh", 'stop'], timeout => 600, env => { BBTOKEN_DEMO_DIR => $dir }) if -e $dir }
SKIP: {
    skip 'the demo runs as root', 5 unless $> == 0;
    my %env = (BBTOKEN_DEMO_DIR => $dir, BBTOKEN_DEMO_PORT => free_port());
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        @ENV{keys %env} = values %env;
        open STDOUT, '>', "$base/demo.out";
        open STDERR, '>&', \*STDOUT;
        { exec 'perl', "$ROOT/build/demo.pl" }
        POSIX::_exit(127);
    }
    ok(wait_for(sub { -e "$dir/pg/data/postmaster.pid" }), 'demo.pl: its cluster is being made') or diag slurp("$base/demo.out");
    kill 'INT', $pid;
    my $status = reap($pid);
    ok($status > 0, '  SIGINT ends demo.pl') or diag slurp("$base/demo.out");
    my @left = grep { m{^/proc/(\d+)/} && !exited($1) && (index(slurp($_), "$dir/") >= 0) } glob '/proc/[0-9]*/cmdline';
    is("@left", '', '  nothing runs on its directory');
    my ($rc, $out, $err) = run_cmd(cmd => ['bash', "$ROOT/build/demo.sh", 'stop'], timeout => 600, env => \%env);
    is($rc, 0, 'demo.sh stop after it') or diag "$out$err";
    ($rc, $out, $err) = run_cmd(cmd => ['bash', "$ROOT/build/demo.sh"], timeout => 600, env => \%env);
    is($rc, 0, 'demo.sh start after it') or diag "$out$err";
}
done_testing;
