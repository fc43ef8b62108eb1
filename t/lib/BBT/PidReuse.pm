package BBT::PidReuse;

# A pooled connection PostgreSQL dropped, connected again with a backend
# of the old one's process id (t/27-db-*-pid-reuse).  The kernel gives the
# id asked for (ns_last_pid, written by root) to the next process made
# anywhere in its pid namespace, and a parallel test suite makes many:
# written before a request, the milliseconds until the postmaster forks
# the backend are enough for another process to take it.  So the
# postmaster is stopped (SIGSTOP) while the request is sent, until
# httpd's new connection waits in its listen queue; then the id is asked
# for and the postmaster let go, its next fork that connection's backend.
#
#   use BBT::PidReuse qw(pid_reuse_unavailable backend_as_pid);
#   my $why = pid_reuse_unavailable();   # '' where ns_last_pid can be written
#   my ($asked, $status) = backend_as_pid($env, $pid, sub { $env->get_bg($path, $h) });
#
# Functions of an environment ($env first), not methods.

use strict;
use warnings;
use Time::HiRes qw(sleep time);
use BBT::Util qw(slurp);

use Exporter 'import';
our @EXPORT_OK = qw(pid_reuse_unavailable backend_as_pid);

our $LAST_PID = '/proc/sys/kernel/ns_last_pid';

# Why the kernel cannot be asked for a process id here, or ''.  Writing
# ns_last_pid takes CAP_SYS_ADMIN (or CAP_CHECKPOINT_RESTORE) over the pid
# namespace, which root in a container may lack: the file's mode does not
# tell, a write does.  The value written back is the one just read, which
# asks for nothing.
sub pid_reuse_unavailable {
    return "needs root to write $LAST_PID" unless $> == 0;
    my $cur = slurp($LAST_PID);
    return "no $LAST_PID (a kernel without CONFIG_CHECKPOINT_RESTORE)" unless $cur =~ /^(\d+)\n?\z/;
    return "$LAST_PID cannot be written ($!): no capability over the pid namespace"
        unless write_last_pid($1);
    return '';
}

# Ask the kernel to give the next process made the id after $last: 1, or
# 0 ($! says why).
sub write_last_pid {
    my ($last) = @_;
    open(my $h, '>', $LAST_PID) or return 0;
    my $n = syswrite($h, $last);
    close $h or return 0;
    return defined $n ? 1 : 0;
}

# Whether a connection waits in the accept queue of the socket listening
# on 127.0.0.1:$port (/proc/net/tcp: a listening socket's rx_queue is its
# queue).
sub queued {
    my ($port) = @_;
    my $local = sprintf('0100007F:%04X', $port);
    for (split /\n/, slurp('/proc/net/tcp')) {
        return 1 if /^\s*\d+: \Q$local\E [0-9A-F]{8}:[0-9A-F]{4} 0A [0-9A-F]{8}:([0-9A-F]{8}) / && hex $1;
    }
    return 0;
}

# With the postmaster of $env's cluster stopped, run $start, which must
# begin, in the background, what makes httpd connect again (a request from
# a child process: the test makes none of its own from here on), and
# return a sub that waits for it.  Once that connection waits for the
# postmaster (or after a second and a half: libpq's connect_timeout in
# httpd's DBDParams is 2), $pid is asked for, unless a process holds it,
# and the postmaster goes on.  (whether the connection was seen waiting
# and $pid asked for, what the sub returned).
sub backend_as_pid {
    my ($env, $pid, $start) = @_;
    my ($pm) = slurp("$env->{pgdata}/postmaster.pid") =~ /\A(\d+)\n/ or die "no postmaster.pid\n";
    kill 'STOP', $pm or die "SIGSTOP $pm: $!\n";
    my ($wait, $asked);
    my $ok = eval {
        $wait = $start->();
        my $deadline = time + 1.5;
        my $seen = 0;
        until (($seen = queued($env->{pgport})) || time > $deadline) {
            sleep 0.0005;
        }
        $asked = $seen && !-e "/proc/$pid" && write_last_pid($pid - 1);
        1;
    };
    kill 'CONT', $pm;
    die $@ unless $ok;
    return ($asked ? 1 : 0, $wait->());
}

1;
