package BBT::Util;

# What every part of the harness uses: running a command with a deadline,
# loopback ports, whole-file reads and writes, and forked children.  Only
# core Perl modules.

use strict;
use warnings;
use Cwd qw(abs_path);
use Digest::MD5;
use File::Basename qw(dirname);
use File::Find ();
use File::Spec;
use IO::Socket::INET;
use Fcntl qw(O_WRONLY O_CREAT O_EXCL O_NONBLOCK);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

use Exporter 'import';
our @EXPORT_OK = qw(run_cmd free_port port_open slurp spew in_children in_background snapshot snapshot_diff
                    one_child_mpm exited threaded_child rss_kb pass_fifo listen_forking);

# The checkout this harness belongs to.
our $ROOT = abs_path(dirname(__FILE__) . '/../../..');
# As root, servers run as their own users (postgres, www-data).
our $IS_ROOT = ($> == 0);

# Run a command: (exit code, stdout, stderr).  Options: cmd => [...],
# env => {K => V or undef to delete}, stdin => string, cwd => dir,
# timeout => seconds (default 120), tmp => dir for the capture files,
# user => name to run it as (from root; what runuser -u NAME -- would do,
# without a process of its own and PAM's session around the command).
sub run_cmd {
    my (%o) = @_;
    my @cmd = @{ $o{cmd} };
    my $tmp = $o{tmp} || File::Spec->tmpdir;
    my $tag = "$$." . int(rand(1e9));
    my ($fo, $fe, $fi) = map { "$tmp/.run.$tag.$_" } qw(out err in);
    if (defined $o{stdin}) {
        open my $h, '>', $fi or die "$fi: $!";
        print $h $o{stdin};
        close $h;
    }
    print STDERR "# run: @cmd\n" if $ENV{BBT_VERBOSE};
    # The child's exit cuts the poll's sleep short: the harness runs
    # thousands of commands, most of them shorter than a few polls.
    local $SIG{CHLD} = sub { };
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        setpgrp(0, 0);
        open STDIN, '<', (defined $o{stdin} ? $fi : '/dev/null') or POSIX::_exit(126);
        open STDOUT, '>', $fo or POSIX::_exit(126);
        open STDERR, '>', $fe or POSIX::_exit(126);
        if ($o{cwd}) { chdir $o{cwd} or POSIX::_exit(126) }
        _become($o{user}) if defined $o{user};
        if ($o{env}) {
            for my $k (keys %{ $o{env} }) {
                if (defined $o{env}{$k}) { $ENV{$k} = $o{env}{$k} }
                else { delete $ENV{$k} }
            }
        }
        { no warnings 'exec'; exec { $cmd[0] } @cmd; }
        print STDERR "exec $cmd[0]: $!\n";
        POSIX::_exit(127);
    }
    my $deadline = time + ($o{timeout} || 120);
    my $status;
    # A die while it waits (BBT::Env's handlers make SIGINT one) ends the
    # command too: in a process group of its own, the terminal's signal
    # does not reach it, and it would go on (an initdb, as postgres) in a
    # directory the caller's cleanup is removing.
    my $why;
    {
        local $@;    # the caller's
        eval {
            while (1) {
                my $r = waitpid($pid, WNOHANG);
                if ($r == $pid) { $status = $?; last }
                if (time > $deadline) {
                    _end_group($pid);
                    $status = -1;
                    last;
                }
                sleep 0.02;
            }
            1;
        } or $why = $@ || "run_cmd: died waiting for $cmd[0]\n";
    }
    if (defined $why) {
        _end_group($pid) unless defined $status;
        unlink $fo, $fe, $fi;
        die $why;
    }
    my ($out, $err) = (slurp($fo), slurp($fe));
    unlink $fo, $fe, $fi;
    my $rc = $status == -1 ? -1 : ($status & 127) ? 128 + ($status & 127) : $status >> 8;
    $err .= "\n[timed out after " . ($o{timeout} || 120) . "s]\n" if $status == -1;
    print STDERR "# rc=$rc\n" if $ENV{BBT_VERBOSE};
    return ($rc, $out, $err);
}

# End the process group $pid of run_cmd's child $pid: TERM, up to 5 s for
# the child to leave, then KILL to whatever of the group is left; returns
# once the child is reaped and no process of the group runs (a minute at
# most: one stuck in the kernel cannot be waited for).  The signals
# BBT::Env makes a die are ignored meanwhile: a second Ctrl-C would leave
# the group running after all.
sub _end_group {
    my ($pid) = @_;
    local @SIG{qw(INT TERM HUP)} = ('IGNORE') x 3;
    kill 'TERM', -$pid;
    my $deadline = time + 5;
    sleep 0.02 while waitpid($pid, WNOHANG) == 0 && time < $deadline;
    # The child's pid is not given to another process while the group
    # holds it as its id, even once the child itself is gone.
    kill 'KILL', -$pid;
    waitpid($pid, 0);
    $deadline = time + 60;
    sleep 0.02 while _group_runs($pid) && time < $deadline;
}

# Whether a process of process group $pgid runs (a zombie does not: the
# one whose parent is init waits for init to reap it).
sub _group_runs {
    my ($pgid) = @_;
    for my $stat (glob '/proc/[0-9]*/stat') {
        # After the command's name, which may hold spaces and parentheses:
        # state, ppid, pgrp.
        my ($state, $pgrp) = slurp($stat) =~ /^\d+ \(.*\) (\S) \d+ (\d+) /s or next;
        return 1 if $pgrp == $pgid && $state ne 'Z';
    }
    return 0;
}

# In a child about to exec: user $name, with their groups and, as runuser
# sets them, HOME, SHELL, USER and LOGNAME.  Exits 126 when it cannot.
sub _become {
    my ($name) = @_;
    my ($uid, $gid, $home, $shell) = (getpwnam($name))[2, 3, 7, 8];
    POSIX::_exit(126) unless defined $uid;
    my @groups = ($gid);
    while (my ($g, undef, $id, $members) = getgrent) {
        push @groups, $id if $id != $gid && grep { $_ eq $name } split ' ', $members;
    }
    endgrent();
    $) = join ' ', $gid, @groups;
    $( = $gid;
    POSIX::setuid($uid);
    POSIX::_exit(126) unless $< == $uid && $> == $uid && $( == $gid;
    @ENV{qw(HOME SHELL USER LOGNAME)} = ($home, $shell, $name, $name);
}

# A loopback port no one listens on, for a server a test is about to start.
# Not one the kernel hands out as a client's source port (git, curl, libpq
# and wrk in the tests running beside this one connect all the time, and
# one of them could take the port before the server binds it): one below
# the ephemeral range, at random, reserved by a file under /tmp/bbt-ports
# so that no other test picks it too.  One directory for the machine, not
# one a run: two runs beside each other (a second checkout's, a second
# build/test.sh) would each find a port free below and both bind it.  A
# reservation lapses after half an hour, longer than any test keeps a
# server.  The kernel's choice only when that range leaves no room below
# it.
our $PORTS = '/tmp/bbt-ports';
my $PORT_LAPSE = 1800;

# The file $f made, as a port's reservation: true if this call made it, or
# found one that has lapsed and made it again (of two that find it so,
# one makes it).
sub reserve {
    my ($f) = @_;
    for my $again (0, 1) {
        if (sysopen(my $h, $f, O_WRONLY | O_CREAT | O_EXCL)) {
            close $h;
            return 1;
        }
        my $mtime = (stat $f)[9];
        return 0 if $again || !defined $mtime || time - $mtime < $PORT_LAPSE;
        unlink $f or return 0;
    }
    return 0;
}

sub free_port {
    my ($lo) = split ' ', (slurp('/proc/sys/net/ipv4/ip_local_port_range') || '');
    my $top = ($lo && $lo =~ /\A\d+\z/ && $lo > 12000) ? $lo : 0;
    my $dir = $PORTS;
    if (!-d $dir && mkdir $dir) {
        chmod 01777, $dir;
    }
    for (1 .. ($top ? 500 : 0)) {
        my $p = 10000 + int(rand($top - 10000));
        if (-d $dir && !reserve("$dir/$p")) {
            next;
        }
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $p,
                                      Proto => 'tcp', Listen => 1, ReuseAddr => 1)
            or next;
        close $s;
        return $p;
    }
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        or die "cannot bind a free port: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

# A listener on 127.0.0.1:$port in a process of its own, each connection
# it accepts served by $serve->($socket) in a child of its own (a relay
# between httpd and PostgreSQL, say): the listener's pid, which the caller
# ends (TERM; the children end with their connections, or by the caller).
sub listen_forking {
    my ($port, $serve) = @_;
    my $pid = fork // die "fork: $!";
    return $pid if $pid;
    $SIG{TERM} = 'DEFAULT';
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port, Listen => 16, ReuseAddr => 1)
        or die "listen: $!";
    while (1) {
        my $c = $l->accept or next;
        my $child = fork // die "fork: $!";
        if (!$child) {
            $serve->($c);
            POSIX::_exit(0);
        }
        close $c;
    }
}

sub port_open {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 1);
    return 0 unless $s;
    close $s;
    return 1;
}

# Whether process $pid has exited: gone, or a zombie.  A daemon's parent
# is init, which here may reap it a second or two after it exited; waiting
# for kill 0 to fail waits for that, not for the process.
sub exited {
    my ($pid) = @_;
    return 1 unless kill 0, $pid;
    my ($state) = slurp("/proc/$pid/stat") =~ /\) (\S) /;
    return defined $state && $state eq 'Z' ? 1 : 0;
}

sub slurp {
    my ($f) = @_;
    open my $h, '<', $f or return '';
    local $/;
    my $s = <$h>;
    close $h;
    return $s // '';
}

# A write that fails (a full disk shows at close) fails the test, rather
# than leaving a short file to be read as what was written.
sub spew {
    my ($f, $s, $mode) = @_;
    open my $h, '>', $f or die "$f: $!";
    print $h $s;
    close $h or die "$f: $!";
    chmod $mode, $f if defined $mode;
}

# Every path under $dir: type, mode, owner, and content or link target;
# none when $dir does not exist.  For the tests that change the system's
# configuration: what they must leave as they found it.
sub snapshot {
    my ($dir) = @_;
    my %s;
    return \%s unless -e $dir;
    File::Find::find({ no_chdir => 1, wanted => sub {
        my @st = lstat $_;
        my $v = sprintf('%o %d:%d ', $st[2], $st[4], $st[5]);
        if (-l _) { $v .= 'link ' . readlink $_ }
        elsif (-f _) { open my $h, '<', $_ or die "$_: $!"; binmode $h; $v .= Digest::MD5->new->addfile($h)->hexdigest }
        $s{$_} = $v;
    } }, $dir);
    return \%s;
}

# The event or worker MPM's sizing for one child of $threads threads (an
# Env's mpm_conf): for tests that watch one process's pool, memory or log.
sub one_child_mpm {
    my ($threads) = @_;
    return "StartServers 1\nServerLimit 1\nThreadLimit $threads\nThreadsPerChild $threads\n"
        . "MinSpareThreads 1\nMaxSpareThreads $threads\nMaxRequestWorkers $threads\n";
}

# The child of httpd $parent that serves requests under the event or worker
# MPM: the one with threads (mod_cgid's daemon is a child too, with one).
sub threaded_child {
    my ($parent) = @_;
    for my $stat (glob '/proc/[0-9]*/stat') {
        my $s = slurp($stat);
        my ($pid, $ppid) = $s =~ /^(\d+) \(.*\) \S (\d+)/ or next;
        next unless $ppid == $parent;
        my @tasks = glob "/proc/$pid/task/*";
        return $pid if @tasks > 1;
    }
    die "no worker child of httpd $parent\n";
}

# A process's resident size, in kB.
sub rss_kb {
    my ($pid) = @_;
    return (slurp("/proc/$pid/status") =~ /^VmRSS:\s+(\d+) kB/m)[0];
}

# What differs between two snapshots, one line a path.
sub snapshot_diff {
    my ($a, $b) = @_;
    my @d;
    for my $p (sort keys %{ { %$a, %$b } }) {
        my ($x, $y) = ($a->{$p} // 'absent', $b->{$p} // 'absent');
        push @d, "$p: $x -> $y" if $x ne $y;
    }
    return @d;
}

# Run $code->($i) for $i = 1 .. $n, each in a child process of its own, all
# at once; a child exits with what $code returns (255 if it dies).  Returns
# the children's wait statuses ($?), in order.  A child leaves by _exit, so
# no END block or destructor of the parent's runs in it.
sub in_children {
    my ($n, $code) = @_;
    my @pids;
    for my $i (1 .. $n) {
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if (!$pid) {
            my $rc = eval { $code->($i) };
            POSIX::_exit(defined $rc ? $rc : 255);
        }
        push @pids, $pid;
    }
    return map { waitpid($_, 0); $? } @pids;
}

# Run $code->() in a child process of its own, in the background: returns
# a sub that waits for the child and gives what $code returned, as text
# ('' if it died).  The answer passes through a file in $dir; the child
# leaves by _exit, as in_children's do.
sub in_background {
    my ($dir, $code) = @_;
    my $out = "$dir/.bg.$$." . int(rand(1e9));
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        my $s = eval { $code->() };
        spew($out, $s // '');
        POSIX::_exit(0);
    }
    return sub {
        waitpid $pid, 0;
        my $s = slurp($out);
        unlink $out;
        return $s;
    };
}

# A gate made of the FIFO at $path: opens it for writing once a process
# has it open for reading (which is held there until then), and lets that
# open return; with $byte, writes it too, for a reader held until it reads
# one (t/dso/openhold.c).  Whether one did within a minute.
sub pass_fifo {
    my ($path, $byte) = @_;
    local $SIG{PIPE} = 'IGNORE';
    for (1 .. 600) {
        if (sysopen(my $w, $path, O_WRONLY | O_NONBLOCK)) {
            my $wrote = defined $byte ? syswrite($w, $byte) : 1;
            close $w;
            return 1 if $wrote;
        }
        sleep 0.1;
    }
    return 0;
}

1;
