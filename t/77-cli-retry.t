# The CLI runs again a transaction PostgreSQL aborted to let a concurrent
# one go on (40P01 deadlock detected, 40001 serialization failure), from
# its BEGIN, up to five tries in all (BBTOKEN_TX_TRIES, cli/tx.c); then it
# fails in one line naming the SQLSTATE, having changed nothing.  Any other
# error fails at once, as before.  A token create prints is the one
# stored, even when the abort came at COMMIT, after it was printed.
#
# PostgreSQL itself raises the aborts: a test trigger, on the table the
# command writes, raises the SQLSTATE for the first N tries.  A sequence
# counts the tries: nextval is not rolled back with the aborted try.  A
# deferred constraint trigger raises at COMMIT, as a serializable
# transaction's COMMIT may.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer parse_token);
use BBT::Assert;
use BBT::Cache qw(until_status);

my $env = BBT::Env->new->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

$env->psql(<<'SQL');
CREATE TABLE bbt_test_abort (n integer NOT NULL, state text NOT NULL);
INSERT INTO bbt_test_abort VALUES (0, '40P01');
CREATE SEQUENCE bbt_test_tries;
CREATE FUNCTION bbt_test_abort() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r bbt_test_abort;
BEGIN
    SELECT * INTO r FROM bbt_test_abort;
    IF nextval('bbt_test_tries') <= r.n THEN
        RAISE EXCEPTION 'test abort (%)', r.state USING ERRCODE = r.state;
    END IF;
    RETURN NEW;
END
$$;
SQL

# Install the test trigger as $trigger (SQL after CREATE ... TRIGGER
# bbt_test_abort, without its function), raising $state for the first $n
# tries; run $code; drop it.
sub aborting {
    my ($trigger, $n, $state, $code) = @_;
    $env->psql("UPDATE bbt_test_abort SET n = $n, state = '$state'; ALTER SEQUENCE bbt_test_tries RESTART; "
               . "CREATE $trigger EXECUTE FUNCTION bbt_test_abort()");
    my ($table) = $trigger =~ / ON (\w+)/;
    $code->();
    $env->psql("DROP TRIGGER bbt_test_abort ON $table");
}
my $ON_INSERT = 'TRIGGER bbt_test_abort BEFORE INSERT ON bbtoken_tokens FOR EACH ROW';
my $AT_COMMIT = 'CONSTRAINT TRIGGER bbt_test_abort AFTER INSERT ON bbtoken_tokens'
              . ' DEFERRABLE INITIALLY DEFERRED FOR EACH ROW';
sub tries { $env->psql('SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM bbt_test_tries') }
sub ntokens { $env->psql('SELECT count(*) FROM bbtoken_tokens') }
sub ncreated { $env->psql("SELECT count(*) FROM bbtoken_audit WHERE event = 'created'") }
sub status_with { $env->get($UP, auth_bearer($_[0]))->{status} }

# create --name $name succeeds on the try after $n aborts: one token on
# stdout, stored once, under the id printed, and it works.
sub creates {
    my ($name, $n) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($tokens, $created) = (ntokens(), ncreated());
    my ($rc, $out, $err) = $env->cli('create', 'alice', '--name', $name);
    is($rc, 0, "$name: exit 0") or diag $err;
    is($err, '', "$name: nothing on stderr");
    like($out, qr{\ABBDC-[A-Za-z0-9+/]{44}\n\z}, "$name: stdout is one token");
    is(tries(), $n + 1, "$name: tried " . ($n + 1) . ' times');
    is(ntokens(), $tokens + 1, "$name: one token row more");
    is(ncreated(), $created + 1, "$name: one created record more");
    chomp $out;
    my $p = parse_token($out) or return;
    is($env->psql("SELECT name FROM bbtoken_tokens WHERE id = '$p->{id}'"), $name,
       "$name: the row is under the id printed");
    is(status_with($out), 200, "$name: the token printed works");
}

subtest 'create: an INSERT aborted once (40P01) is run again' => sub {
    aborting($ON_INSERT, 1, '40P01', sub { creates('after a deadlock', 1) });
};

subtest 'create: aborted (40001) four times, the fifth try commits' => sub {
    aborting($ON_INSERT, 4, '40001', sub { creates('after four', 4) });
};

subtest 'create: aborted at COMMIT, after the token was printed: the token printed is stored' => sub {
    aborting($AT_COMMIT, 1, '40001', sub { creates('aborted at commit', 1) });
};

subtest 'create: aborted each time (40001): five tries, one line naming it, nothing written' => sub {
    aborting($ON_INSERT, 1000, '40001', sub {
        my ($tokens, $created) = (ntokens(), ncreated());
        $env->cli_is('create', ['create', 'alice', '--name', 'never'], 1,
                     stderr => qr/\Abbtoken: creating the token: the database aborted it each time, 5 times, .*\(SQLSTATE 40001\): nothing was changed\n\z/);
        is(tries(), 5, 'five tries');
        is(ntokens(), $tokens, 'no token row');
        is(ncreated(), $created, 'no created record');
    });
};

subtest 'create: aborted at each COMMIT: the token printed is said not valid, and is not' => sub {
    aborting($AT_COMMIT, 1000, '40P01', sub {
        my ($tokens, $created) = (ntokens(), ncreated());
        my ($rc, $out, $err) = $env->cli('create', 'alice', '--name', 'never committed');
        is($rc, 1, 'exit 1');
        like($out, qr{\ABBDC-[A-Za-z0-9+/]{44}\n\z}, 'one token on stdout, printed once');
        like($err, qr/\Abbtoken: committing the token \(the token printed is not valid\): the database aborted it each time, 5 times, .*\(SQLSTATE 40P01\): nothing was changed\n\z/,
             'one line: the token printed is not valid, and why');
        is(tries(), 5, 'five tries');
        is(ntokens(), $tokens, 'no token row');
        is(ncreated(), $created, 'no created record');
        chomp $out;
        is(status_with($out), 401, 'the token printed is refused');
    });
};

subtest 'create: another error is not run again' => sub {
    for my $state ('P0001', '23505') {
        aborting($ON_INSERT, 1000, $state, sub {
            my $tokens = ntokens();
            my (undef, undef, $err) = $env->cli_is("create, $state", ['create', 'alice', '--name', "refused $state"],
                                                   1, stderr => qr/\Abbtoken: creating the token: /);
            unlike($err, qr/aborted/, "$state: not said to be aborted");
            is(tries(), 1, "$state: one try");
            is(ntokens(), $tokens, "$state: no token row");
        });
    }
};

# The try after an abort at COMMIT stores the token printed, and a test
# trigger on the tokens does $action to it there (on the second insert of
# a row, counted by a sequence): whatever the reason it is refused for, the
# message says the token printed is not valid, matching $said.
sub refused_later {
    my ($name, $action, $said) = @_;
    $env->psql(<<"SQL");
CREATE SEQUENCE bbt_test_later;
CREATE FUNCTION bbt_test_refuse_later() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    IF nextval('bbt_test_later') >= 2 THEN
        $action;
    END IF;
    RETURN NEW;
END
\$\$;
CREATE TRIGGER bbt_test_refuse_later BEFORE INSERT ON bbtoken_tokens FOR EACH ROW
    EXECUTE FUNCTION bbt_test_refuse_later();
SQL
    aborting($AT_COMMIT, 1, '40001', sub {
        my ($tokens, $created) = (ntokens(), ncreated());
        my ($rc, $out, $err) = $env->cli('create', 'alice', '--name', $name);
        is($rc, 1, "$name: exit 1");
        like($out, qr{\ABBDC-[A-Za-z0-9+/]{44}\n\z}, "$name: one token on stdout, printed once");
        like($err, $said, "$name: why, and that the token printed is not valid") or diag $err;
        is($env->psql("SELECT last_value FROM bbt_test_later"), 2, "$name: two tries");
        is(ntokens(), $tokens, "$name: no token row");
        is(ncreated(), $created, "$name: no created record");
        chomp $out;
        is(status_with($out), 401, "$name: the token printed is refused");
    });
    $env->psql('DROP TRIGGER bbt_test_refuse_later ON bbtoken_tokens; DROP FUNCTION bbt_test_refuse_later();'
               . ' DROP SEQUENCE bbt_test_later');
}

subtest 'create: aborted at COMMIT, then refused for another reason: the token printed is said not valid' => sub {
    # An error of the database's.
    refused_later('refused later', "RAISE EXCEPTION 'test refusal on a later try' USING ERRCODE = 'P0001'",
                  qr/\Abbtoken: committing the token \(the token printed is not valid\): .*test refusal on a later try/);
    # No row stored, as when the owner was disabled between the tries.
    refused_later('no row later', 'RETURN NULL',
                  qr/\Abbtoken: user is disabled: alice\nbbtoken: committing the token \(the token printed is not valid\)\n\z/);
};

subtest 'revoke, one statement its own transaction: run again' => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'to revoke');
    is(status_with($tok), 200, 'the token works');
    aborting('TRIGGER bbt_test_abort BEFORE UPDATE ON bbtoken_tokens FOR EACH ROW', 2, '40P01', sub {
        $env->cli_is('revoke', ['revoke', $id], 0);
        is(tries(), 3, 'three tries');
    });
    is($env->psql("SELECT revoked_at IS NOT NULL FROM bbtoken_tokens WHERE id = '$id'"), 't', 'revoked');
    is($env->psql("SELECT count(*) FROM bbtoken_audit WHERE event = 'revoked' AND token_id = '$id'"), 1,
       'one revoked record');
    # Another process revoked it: the cache learns so through the
    # listener, within its bound.
    my ($ok, $n, $seen) = until_status($env, $UP, auth_bearer($tok), 401);
    ok($ok, "the token is refused ($n requests)") or diag $seen;
};

subtest 'grant: run again, one row; aborted each time: nothing written' => sub {
    $env->user_add('bob');
    aborting('TRIGGER bbt_test_abort BEFORE INSERT ON bbtoken_project_grants FOR EACH ROW', 1, '40001', sub {
        $env->cli_is('grant', ['grant', 'bob', 'PROJECT_READ', 'OTHER'], 0);
        is(tries(), 2, 'two tries');
    });
    is($env->psql("SELECT count(*) FROM bbtoken_project_grants g JOIN bbtoken_users u ON u.id = g.user_id"
                  . " WHERE u.name = 'bob'"), 1, 'one grant row');
    aborting('TRIGGER bbt_test_abort BEFORE INSERT ON bbtoken_project_grants FOR EACH ROW', 1000, '40P01', sub {
        $env->cli_is('grant, aborted each time', ['grant', 'bob', 'PROJECT_READ', 'THIRD'], 1,
                     stderr => qr/\Abbtoken: granting: the database aborted it each time, 5 times, .*\(SQLSTATE 40P01\)/);
        is(tries(), 5, 'five tries');
    });
    is($env->psql("SELECT count(*) FROM bbtoken_project_grants WHERE project_key = 'THIRD'"), 0, 'no grant row');
};

subtest 'policy, a transaction of several statements: run again from its BEGIN' => sub {
    aborting('TRIGGER bbt_test_abort BEFORE UPDATE ON bbtoken_policy FOR EACH ROW', 1, '40P01', sub {
        $env->cli_is('policy', ['policy', '--max-tokens', '77'], 0, stdout => qr/^max-tokens: 77$/m);
        is(tries(), 2, 'two tries');
    });
    is($env->psql('SELECT max_tokens_per_user FROM bbtoken_policy'), 77, 'the policy changed');
};

done_testing;
