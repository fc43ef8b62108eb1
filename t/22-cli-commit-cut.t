# BBT::Cli's cli_commit_cut, on which the tests of a COMMIT lost at a
# failover rest (t/22-cli-commit-noop, t/22-cli-upgrade-commit-lost):
# the cut it says is a cut the CLI saw.  It ended the CLI's backend while
# its COMMIT waited for the synchronous standby, and at once reset
# synchronous_standby_names.  On a loaded machine the backend may take
# its SIGTERM late, and the reset came first: the checkpointer, seeing
# the setting emptied, wakes every waiter, and a COMMIT woken so is
# answered as committed before the backend dies.  The CLI saw no loss and
# said nothing, exit 0, while the helper said its COMMIT was cut.  Now
# the helper keeps the standby awaited until the backend is gone, and
# says a cut only where the server logged the wait cancelled by the
# termination.  The late SIGTERM is made sure of here: the backend is
# stopped (SIGSTOP) just before it is ended, and let go once the setting
# is reset and a commit of the test's own no longer waits, or after some
# polls if the helper does not reset it meanwhile.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX ();
use BBT::Env;

my $env = BBT::Env->new(httpd => 0)->start;

$env->user_add('bob');
$env->user_add('carol');
$env->cli_ok('user', 'disable', 'carol');

# $env->cli_commit_cut(undef, @args), the backend it ends stopped just
# before it ends it (its psql that calls pg_terminate_backend), and let go
# as said above: (the pids stopped, what cli_commit_cut returns).
sub cut_ended_late {
    my (@args) = @_;
    my $psql = \&BBT::Pg::psql;
    my (@stopped, @children);
    no warnings 'redefine';
    local *BBT::Pg::psql = sub {
        my ($self, $sql) = @_;
        if ($sql =~ /pg_terminate_backend/) {
            my @pids = split /\n/, $psql->($self, "SELECT pid FROM pg_stat_activity"
                                              . " WHERE application_name = 'bbt-commit-cut' AND wait_event = 'SyncRep'",
                                           db => 'postgres');
            push @stopped, grep { kill 'STOP', $_ } @pids;
            my $child = fork // die "fork: $!";
            if (!$child) {
                let_go($self, @pids);
                POSIX::_exit(0);
            }
            push @children, $child;
        }
        return $psql->(@_);
    };
    my @r = $env->cli_commit_cut(undef, @args);
    waitpid($_, 0) for @children;
    return (\@stopped, @r);
}

# SIGCONT to @pids once synchronous_standby_names reads '' to a new
# session and a commit of our own that writes WAL is through (it waits
# until the checkpointer has seen the setting emptied, which wakes every
# waiter), or after some 40 polls without that.
sub let_go {
    my ($self, @pids) = @_;
    for (1 .. 40) {
        my ($rc, $out) = $self->psql_try('SHOW synchronous_standby_names', user => 'postgres');
        chomp $out;
        if (!$rc && $out eq '') {
            $self->psql("SET LOCAL synchronous_commit = on; SELECT pg_logical_emit_message(true, 'bbt-probe', '')");
            last;
        }
        select undef, undef, undef, 0.05;
    }
    kill 'CONT', @pids;
}

subtest 'a change, its backend slow to end' => sub {
    my ($stopped, $rc, $out, $err, $cut) = cut_ended_late('grant', 'bob', 'PROJECT_READ', 'PROJ');
    is(scalar @$stopped, 1, 'the backend ended was stopped as it was ended') or return;
    ok($cut, 'its COMMIT said cut');
    is($rc, 0, '  exit 0') or diag $err;
    like($err, qr/^bbtoken: granting: done, though the connection was lost at its COMMIT \([^\n]*\): connected again, the database says its transaction \d+ committed, and it holds its records in the audit trail; but the synchronous standby did not confirm it: a failover may lose it\n/m,
         '  and the CLI saw it lost') or diag $err;
};

subtest 'a no-op, its backend slow to end' => sub {
    my ($stopped, $rc, $out, $err, $cut) = cut_ended_late('user', 'disable', 'carol');
    is(scalar @$stopped, 1, 'the backend ended was stopped as it was ended') or return;
    ok($cut, 'its COMMIT said cut');
    is($rc, 0, '  exit 0') or diag $err;
    like($err, qr/^bbtoken: changing the user: the connection was lost at its COMMIT \([^\n]*\), but it had changed nothing \(the audit trail records each of its changes, and it had recorded none\), so nothing was lost: connected again\n/m,
         '  and the CLI saw it lost') or diag $err;
};

is($env->psql('SHOW synchronous_standby_names'), '', 'synchronous_standby_names is reset');
done_testing;
