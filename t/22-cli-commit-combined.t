# A command of many transactions, two of whose COMMITs are cut: the
# first's wait for the synchronous standby cancelled (committed, not
# confirmed), the second's backend ended there (its answer lost).  The
# CLI said the first at once, in a line of its own ("revoking the
# tokens: committed on this server, but the synchronous standby did not
# confirm it"), and the second's failure on another line: exit 1 with two
# lines where README promises one, and as many lines as batches where all
# went well.  Now a commit the standby did not confirm is said once: at
# the end of the failure's one line ("; the synchronous standby did not
# confirm 1 of the command's commits: a failover may lose what it did"),
# or, on success, in one line at the end.  A command of one transaction
# that goes on after its COMMIT (a policy shown, written to stdout) says
# it in its failure's line too.
#
# And where the session made again after the lost COMMIT fails as it is
# set up (a lock_timeout reading the schema's version), the line said
# what the command did before ("1000 tokens of fay were revoked before
# it") twice: in the set-up's failure, then after it.  Now once.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX ();
use Time::HiRes qw(sleep);
use BBT::Env;
use BBT::Util qw(slurp);

my $env = BBT::Env->new(httpd => 0)->start;
my $RUN = $env->dir . '/run';

# This test's own sessions commit without the standby; the CLI's wait.
$ENV{PGOPTIONS} = '-c synchronous_commit=local';
my $SYNC = '-c synchronous_commit=on';

my $UNCONFIRMED = "the synchronous standby did not confirm";

sub lines { my ($s) = @_; return scalar(() = $s =~ /\n/g) }

# bbtoken --db <superuser> @args in the background, its backend named
# bbt-$app, PGOPTIONS $opts, stdout to $stdout (a file of its own when
# undef): a function that waits for it and returns (exit code, stdout,
# stderr).
sub bg {
    my ($app, $opts, $stdout, @args) = @_;
    my ($out, $err) = ("$RUN/combined-$app.out", "$RUN/combined-$app.err");
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        $ENV{PGAPPNAME} = "bbt-$app";
        $ENV{PGOPTIONS} = $opts;
        open STDOUT, '>', $stdout // $out or POSIX::_exit(126);
        open STDERR, '>', $err or POSIX::_exit(126);
        exec $env->cli_path, '--db', $env->superuser_conninfo, @args or POSIX::_exit(127);
    }
    return sub {
        waitpid($pid, 0);
        return ($? >> 8, defined $stdout ? '' : slurp($out), slurp($err));
    };
}

# The backend of bbt-$app waiting for the standby at the COMMIT of a
# transaction other than $not: (its pid, its transaction's id), or () if
# none does within a minute.
sub at_syncrep {
    my ($app, $not) = @_;
    for (1 .. 1200) {
        my $r = $env->psql("SELECT pid || ' ' || backend_xid FROM pg_stat_activity"
                         . " WHERE application_name = 'bbt-$app' AND wait_event = 'SyncRep'"
                         . " AND backend_xid IS NOT NULL"
                         . (defined $not ? " AND backend_xid::text <> '$not'" : ''), db => 'postgres');
        return split / /, $r if $r;
        sleep 0.05;
    }
    return;
}

# Cancel the wait for the standby of the next COMMIT of bbt-$app, a
# transaction other than $not: its id, or undef.
sub cancel_next {
    my ($app, $not) = @_;
    my ($pid, $xid) = at_syncrep($app, $not);
    ok($pid, "bbt-$app: a COMMIT waits for the standby") or return;
    $env->psql("SELECT pg_cancel_backend($pid)", db => 'postgres');
    return $xid;
}

subtest 'revoke --user: a commit not confirmed, then a lost COMMIT not asked about: one line' => sub {
    $env->user_add_bulk_tokens('frank', 1500, 510000000000);
    $env->pg_syncrep(1);
    my $wait = bg('frank', $SYNC, undef, 'revoke', '--user', 'frank');
    my $first = cancel_next('frank');
    my ($pid) = at_syncrep('frank', $first);
    ok($pid, 'the second batch\'s COMMIT waits for the standby');
    $env->psql('ALTER DATABASE bbtoken ALLOW_CONNECTIONS false', db => 'postgres');
    $env->psql("SELECT pg_terminate_backend($pid)", db => 'postgres') if $pid;
    my ($rc, $out, $err) = $wait->();
    $env->psql('ALTER DATABASE bbtoken ALLOW_CONNECTIONS true', db => 'postgres');
    $env->pg_syncrep(0);
    is($rc, 1, 'exit 1') or diag $err;
    is($out, '', 'stdout: no summary');
    is(lines($err), 1, 'one line on stderr') or diag $err;
    like($err, qr/\Abbtoken: revoking the tokens: the connection was lost at its COMMIT \([^\n]*\), so whether it took effect is not known \(look before running it again\); the database could not say: not connected again: cannot connect to the database: [^\n]*not currently accepting connections; whatever became of it, 1000 tokens of frank were revoked before it \(running the command again revokes the rest\); $UNCONFIRMED 1 of the command's commits: a failover may lose what it did\n\z/,
         '  what became of the second is not known, the first was done, and not confirmed') or diag $err;
    is($env->user_live_tokens('frank'), 0, 'in the database: all revoked (the second committed locally)');
};

subtest 'revoke --user: two commits not confirmed, and success: one line at the end' => sub {
    $env->user_add_bulk_tokens('fred', 1500, 520000000000);
    $env->pg_syncrep(1);
    my $wait = bg('fred', $SYNC, undef, 'revoke', '--user', 'fred');
    my $first = cancel_next('fred');
    cancel_next('fred', $first);
    my ($rc, $out, $err) = $wait->();
    $env->pg_syncrep(0);
    is($rc, 0, 'exit 0, as without the cancels') or diag $err;
    is($out, "revoked 1500 tokens of fred\n", 'stdout: the summary');
    is($err, "bbtoken: done, but $UNCONFIRMED 2 of the command's commits: a failover may lose what they did\n",
       'one line on stderr: both told, at the end') or diag $err;
    is($env->user_live_tokens('fred'), 0, 'in the database: all revoked');
};

subtest 'a command of one transaction: a commit not confirmed, then its output not written' => sub {
    $env->pg_syncrep(1);
    my $wait = bg('policy', $SYNC, '/dev/full', 'policy', '--max-tokens', '77');
    cancel_next('policy');
    my ($rc, $out, $err) = $wait->();
    $env->pg_syncrep(0);
    is($rc, 1, 'exit 1: the policy shown could not be written') or diag $err;
    is($err, "bbtoken: cannot write to stdout: No space left on device; but the policy was changed before it;"
           . " $UNCONFIRMED 1 of the command's commits: a failover may lose what it did\n",
       'one line, telling both') or diag $err;
    like($env->cli_ok('policy'), qr/^max-tokens: 77$/m, 'the policy changed');
};

subtest 'the session made again fails as it is set up: what was done said once' => sub {
    $env->user_add_bulk_tokens('fay', 1500, 530000000000);
    $env->pg_syncrep(1);
    my $wait = bg('fay', "$SYNC -c lock_timeout=2s", undef, 'revoke', '--user', 'fay');
    my $first = cancel_next('fay');
    my ($pid) = at_syncrep('fay', $first);
    ok($pid, 'the second batch\'s COMMIT waits for the standby');
    # The schema's version, which the session made again reads, locked.
    my $h = $env->pg_session('locker');
    $h->send('BEGIN; LOCK TABLE bbtoken_schema IN ACCESS EXCLUSIVE MODE;');
    ok($env->pg_wait_backend('bbt-locker', "state = 'idle in transaction' OR wait_event_type = 'Lock'"),
       'another session takes (or waits for) bbtoken_schema\'s lock');
    $env->psql("SELECT pg_terminate_backend($pid)", db => 'postgres') if $pid;
    my ($rc, $out, $err) = $wait->();
    $h->send('ROLLBACK;');
    $h->done;
    $h->finish;
    $env->pg_syncrep(0);
    is($rc, 1, 'exit 1') or diag $err;
    is(lines($err), 1, 'one line on stderr') or diag $err;
    like($err, qr/^bbtoken: revoking the tokens: the connection was lost at its COMMIT [^\n]*; the database could not say: not connected again: [^\n]*lock timeout[^\n]*\n\z/,
         '  not connected again: the lock_timeout') or diag $err;
    is(scalar(() = $err =~ /1000 tokens of fay were revoked before it/g), 1,
       '  what was done before it, said once') or diag $err;
    like($err, qr/; whatever became of it, 1000 tokens of fay were revoked before it \(running the command again revokes the rest\); $UNCONFIRMED 1 of the command's commits: a failover may lose what it did\n\z/,
         '  after the reason, and the commit not confirmed after that') or diag $err;
};

is($env->psql('SHOW synchronous_standby_names'), '', 'synchronous_standby_names is reset');
done_testing;
