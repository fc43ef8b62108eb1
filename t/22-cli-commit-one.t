# A command of one transaction that fails after its COMMIT: `policy`,
# `project KEY --repo-admins-manage-tokens` and `db check --repair` commit
# their change, then read it back or print.  Their output not written
# (a full disk), or their session ended while they read the change back,
# the one line on stderr said only why ("cannot write to stdout: No
# space left on device", "reading the policy: FATAL: terminating
# connection ..."), exit 1, while the change was made: a script taking
# the status for "not done" would run it again, and a reader would think
# the policy unchanged.  Now that line says what the command's committed
# transaction did, as a command of many transactions's does: "; but the
# policy was changed before it".  A rerun that changes nothing says
# nothing of the kind.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX ();
use BBT::Env;
use BBT::Util qw(slurp spew);

my $env = BBT::Env->new(httpd => 0)->start;
my $RUN = $env->dir . '/run';

# bbtoken --db <superuser> @args, its stdout /dev/full: (exit code,
# stderr).
sub to_full {
    my ($rc, undef, $err) = $env->cli_to_full(@_);
    return ($rc, $err);
}

my $FULL = 'bbtoken: cannot write to stdout: No space left on device';

subtest 'policy: its output not written: the change said' => sub {
    my ($rc, $err) = to_full('policy', '--max-tokens', '60');
    is($rc, 1, 'exit 1') or diag $err;
    is($err, "$FULL; but the policy was changed before it\n", 'one line: the write, and the change made');
    is($env->psql('SELECT max_tokens_per_user FROM bbtoken_policy'), 60, 'in the database: the policy changed');

    ($rc, $err) = to_full('policy', '--max-tokens', '60');
    is($rc, 1, 'the same again: exit 1') or diag $err;
    is($err, "$FULL\n", '  nothing changed, nothing said of a change');

    ($rc, $err) = to_full('policy', '--json');
    is($err, "$FULL\n", 'shown only: nothing said of a change');
};

subtest 'project --repo-admins-manage-tokens: its output not written: the change said' => sub {
    my ($rc, $err) = to_full('project', 'PROJ', '--repo-admins-manage-tokens', 'no');
    is($rc, 1, 'exit 1') or diag $err;
    is($err, "$FULL; but the project's setting was changed before it\n",
       'one line: the write, and the change made');
    is($env->psql("SELECT repo_admins_manage_tokens FROM bbtoken_projects WHERE project_key = 'PROJ'"), 'f',
       'in the database: the setting changed');

    ($rc, $err) = to_full('project', 'PROJ', '--repo-admins-manage-tokens', 'no');
    is($err, "$FULL\n", 'the same again: nothing said of a change') or diag $err;
};

subtest 'db check --repair: its output not written: the rows repaired said' => sub {
    $env->user_add('alice');
    $env->grant('alice', 'PROJECT_READ', 'PROJ');
    my (undef, $id) = $env->token_create('alice', name => 'ci');
    $env->psql("UPDATE bbtoken_lookup SET token_name = 'stale' WHERE id = '$id'");
    my ($rc, $err) = to_full('db', 'check', '--repair');
    is($rc, 1, 'exit 1') or diag $err;
    is($err, "$FULL; but 1 row of bbtoken_lookup was repaired before it\n",
       'one line: the write, and the row repaired');
    is($env->psql("SELECT token_name FROM bbtoken_lookup WHERE id = '$id'"), 'ci', 'in the database: repaired');

    ($rc, $err) = to_full('db', 'check', '--repair');
    is($err, "$FULL\n", 'again: nothing to repair, nothing said of it') or diag $err;
};

# The read after the COMMIT cut: another session's lock on the policy,
# asked for while the CLI's change waited behind a first one, is granted
# when that change commits, and the read waits for it; its backend is
# then ended.
subtest 'policy: its session ended as it reads the policy back: the change said' => sub {
    my $first = $env->pg_session('share');
    $first->send('BEGIN; LOCK TABLE bbtoken_policy IN SHARE MODE;');
    ok($first->done, 'a session holds a SHARE lock on bbtoken_policy') or return;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my @r = $env->cli_env({ PGAPPNAME => 'bbt-policy' }, '--db', $env->superuser_conninfo, 'policy',
                              '--max-tokens', '61');
        spew("$RUN/policy-cut", join("\0", @r));
        POSIX::_exit(0);
    }
    ok($env->pg_wait_backend('bbt-policy', "wait_event_type = 'Lock' AND query LIKE 'WITH old%'"),
       'the policy\'s change waits for it');
    my $second = $env->pg_session('excl');
    $second->send('BEGIN; LOCK TABLE bbtoken_policy IN ACCESS EXCLUSIVE MODE;');
    ok($second->blocked, 'another asks for an ACCESS EXCLUSIVE lock after it');
    $first->send('ROLLBACK;');
    ok($env->pg_wait_backend('bbt-policy', "wait_event_type = 'Lock' AND query LIKE 'SELECT expiry_required%'"),
       'the change committed, the read back waits');
    $env->psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'bbt-policy'",
               db => 'postgres');
    waitpid($pid, 0);
    my ($rc, $out, $err) = split /\0/, slurp("$RUN/policy-cut"), -1;
    $second->send('ROLLBACK;');
    $_->done, $_->finish for $first, $second;
    is($rc, 1, 'exit 1') or diag $err;
    like($err, qr/\Abbtoken: reading the policy: [^\n]*terminating connection[^\n]*; but the policy was changed before it\n\z/,
         'one line: the read\'s failure, and the change made') or diag $err;
    is($env->psql('SELECT max_tokens_per_user FROM bbtoken_policy'), 61, 'in the database: the policy changed');
};

done_testing;
