# Making a token draws another token id when the database refuses the one
# it drew: an id a live token holds (the primary key) or one a purged token
# used before (the policy trigger's bbtoken_policy_fresh_id).  Five draws in
# all (BBT_MINT_TRIES), then it gives up and makes nothing.  So do
# `bbtoken create` and `bbtoken rotate` (one line on stderr), and the REST
# API's create and rotate (503); a rotation that gives up leaves the old
# token live.
#
# A random 12-digit id collides about never, so a test trigger makes the
# collisions: it runs before the schema's own BEFORE INSERT trigger
# (PostgreSQL fires them in name order) and, for the first N draws, either
# leaves the 'created' audit record that a purged token leaves behind, so
# that the schema itself refuses the id as used before, or raises the
# primary key's unique_violation, or aborts the transaction as PostgreSQL
# does to break a deadlock (40P01): that is not a taken id but a try to
# run again, four in all (BBT_REST_CONFLICT_TRIES), logged as what was
# being done.  A sequence counts the draws: it is not rolled back with the
# refused INSERT.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(parse_token);
use BBT::Assert;
use BBT::Rest qw(rest_env);

my $env = rest_env(passwords => [alice => 'alice-Pa55-word'], repos => [[PROJ => 'repo']], users => ['alice'],
                   grants => [[alice => PROJECT_READ => 'PROJ']]);
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $R = '/rest/access-tokens/latest/users/alice';
my %NOCHECK = (headers => { 'X-Atlassian-Token' => 'no-check' });

$env->psql(<<'SQL');
CREATE TABLE bbt_test_refuse (n integer NOT NULL, how text NOT NULL);
INSERT INTO bbt_test_refuse VALUES (0, 'reused');
CREATE SEQUENCE bbt_test_draws;
CREATE FUNCTION bbt_test_collide() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r bbt_test_refuse;
BEGIN
    SELECT * INTO r FROM bbt_test_refuse;
    IF nextval('bbt_test_draws') <= r.n THEN
        IF r.how = 'reused' THEN
            PERFORM bbtoken_audit_write('created', NEW.id, NULL,
                                        'a token since purged');
        ELSIF r.how = 'aborted' THEN
            RAISE EXCEPTION 'deadlock detected'
                USING ERRCODE = 'deadlock_detected';
        ELSIF r.how = 'killed' THEN
            PERFORM pg_terminate_backend(pg_backend_pid());
        ELSIF r.how = 'broken' THEN
            RAISE EXCEPTION 'broken on purpose by the test'
                USING ERRCODE = 'internal_error';
        ELSE
            RAISE EXCEPTION 'duplicate key value violates unique constraint "bbtoken_tokens_pkey"'
                USING ERRCODE = 'unique_violation',
                      CONSTRAINT = 'bbtoken_tokens_pkey';
        END IF;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER bbtoken_tokens_a_collide BEFORE INSERT ON bbtoken_tokens
    FOR EACH ROW EXECUTE FUNCTION bbt_test_collide();
CREATE FUNCTION bbt_test_try_insert() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text;
    cn text;
BEGIN
    INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm,
                                salt, secret_hash)
    SELECT '100000000001', id, 'probe', 'PROJECT_READ', 'REPO_READ',
           repeat('a', 32), repeat('b', 64)
      FROM bbtoken_users WHERE name = 'alice';
    RETURN 'inserted';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, cn = CONSTRAINT_NAME;
    RETURN st || ' ' || cn;
END
$$;
SQL

# Refuse the next $n draws, by $how ('reused', 'taken' or 'aborted').
sub refuse {
    my ($n, $how) = @_;
    $env->psql("UPDATE bbt_test_refuse SET n = $n, how = '$how'; "
               . "ALTER SEQUENCE bbt_test_draws RESTART");
}
sub draws { $env->psql('SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM bbt_test_draws') }
sub ntokens { $env->psql('SELECT count(*) FROM bbtoken_tokens') }
sub ncreated { $env->psql("SELECT count(*) FROM bbtoken_audit WHERE event = 'created'") }

# create --name $name should succeed after $refused refusals.
sub creates_after {
    my ($name, $refused, $how) = @_;
    refuse($refused, $how);
    my ($rc, $out, $err) = $env->cli('create', 'alice', '--name', $name);
    is($rc, 0, 'create: exit 0') or diag $err;
    is($err, '', 'nothing on stderr');
    like($out, qr{\ABBDC-[A-Za-z0-9+/]{44}\n\z}, 'stdout is the token alone');
    is(draws(), $refused + 1, "the database saw $refused refused ids and then one more");
    chomp $out;
    my $p = parse_token($out) or return;
    my $row = $env->token_row($p->{id});
    ok($row && $row->{name} eq $name, 'the row is there under the id printed');
    is($env->psql("SELECT count(*) FROM bbtoken_audit WHERE event = 'created' AND token_id = '$p->{id}'"),
       1, 'one created record for it');
    is_ok_res($env->get($UP, { Authorization => "Bearer $out" }), 'the token works');
}

subtest 'the test trigger makes the schema refuse an id as used before' => sub {
    refuse(1, 'reused');
    is($env->psql('SELECT bbt_test_try_insert()'), '23514 bbtoken_policy_fresh_id',
       'a plain INSERT is refused: check_violation, bbtoken_policy_fresh_id');
    refuse(1, 'taken');
    is($env->psql('SELECT bbt_test_try_insert()'), '23505 bbtoken_tokens_pkey',
       'and as taken: unique_violation, bbtoken_tokens_pkey');
    refuse(0, 'reused');
    is($env->psql('SELECT bbt_test_try_insert()'), 'inserted', 'refusing none: the row goes in');
    $env->psql("DELETE FROM bbtoken_tokens WHERE id = '100000000001'");
};

subtest 'an id used before by a purged token: create draws another' => sub {
    creates_after('after a reused id', 1, 'reused');
};

subtest 'an id a live token holds: create draws another' => sub {
    creates_after('after a taken id', 1, 'taken');
};

subtest 'four refusals of either kind: the fifth draw is taken' => sub {
    creates_after('after four reused ids', 4, 'reused');
    creates_after('after four taken ids', 4, 'taken');
};

subtest 'every id refused: five draws, then one line and nothing created' => sub {
    for my $how ('reused', 'taken') {
        my ($tokens, $created) = (ntokens(), ncreated());
        refuse(1000, $how);
        my ($rc, $out, $err) = $env->cli('create', 'alice', '--name', "never $how");
        is($rc, 1, "$how: exit 1");
        is($out, '', "$how: nothing on stdout");
        is($err, "bbtoken: no free token id after 5 tries\n", "$how: says so, in one line");
        is(draws(), 5, "$how: five draws");
        is(ntokens(), $tokens, "$how: no token row");
        is(ncreated(), $created, "$how: no created record");
    }
};

sub revoked { $env->psql("SELECT revoked_at IS NOT NULL FROM bbtoken_tokens WHERE id = '$_[0]'") }

# The token $new (id $new_id), made after $refused refusals, is there once
# and works; checked as create's.
sub made_after {
    my ($what, $new, $new_id, $refused) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is(draws(), $refused + 1, "$what: the database saw $refused refused ids and then one more");
    my $p = parse_token($new // '');
    ok($p && $p->{id} eq ($new_id // ''), "$what: the token printed is the new id's") or return;
    is($env->psql("SELECT count(*) FROM bbtoken_audit WHERE event = 'created' AND token_id = '$new_id'"),
       1, "$what: one created record for it");
    is_ok_res($env->get($UP, { Authorization => "Bearer $new" }), "$what: the new token works");
}

subtest 'rotate, CLI: a refused id, then another draw' => sub {
    for my $how ('reused', 'taken') {
        refuse(0, $how);
        my ($old, $old_id) = $env->token_create('alice', name => "cli rotate $how");
        refuse(2, $how);
        my ($rc, $out, $err) = $env->cli('rotate', $old_id);
        is($rc, 0, "$how: exit 0") or diag $err;
        my ($said) = $err =~ /\Abbtoken: token \Q$old_id\E is revoked; its replacement is token (\d{12}),/;
        ok($said, "$how: stderr names the replacement") or diag $err;
        my ($new) = $out =~ /\A(BBDC-[A-Za-z0-9+\/]{44})\n\z/;
        made_after("$how", $new, $said, 2);
        is(revoked($old_id), 't', "$how: the old token is revoked");
        is($env->get($UP, { Authorization => "Bearer $old" })->{status}, 401, "$how: and refused");
    }
};

subtest 'rotate, CLI: every id refused: the old token stays live' => sub {
    for my $how ('reused', 'taken') {
        refuse(0, $how);
        my ($old, $old_id) = $env->token_create('alice', name => "cli rotate never $how");
        my ($tokens, $created) = (ntokens(), ncreated());
        refuse(1000, $how);
        my ($rc, $out, $err) = $env->cli('rotate', $old_id);
        is($rc, 1, "$how: exit 1");
        is($out, '', "$how: nothing on stdout");
        is($err, "bbtoken: no free token id after 5 tries\n", "$how: says so, in one line");
        is(draws(), 5, "$how: five draws");
        is(ntokens(), $tokens, "$how: no token row");
        is(ncreated(), $created, "$how: no created record");
        is(revoked($old_id), 'f', "$how: the old token is not revoked");
        refuse(0, $how);
        is_ok_res($env->get($UP, { Authorization => "Bearer $old" }), "$how: and works");
    }
};

subtest 'create and rotate, REST: a refused id, then another draw' => sub {
    for my $how ('reused', 'taken') {
        refuse(3, $how);
        my $res = $env->rest(PUT => $R, as => 'alice', %NOCHECK,
                             json => { name => "rest $how", permissions => ['REPO_READ'] });
        is_ok_res($res, "$how: PUT (create)") or next;
        made_after("$how, create", $res->{json}{token}, $res->{json}{id}, 3);
        my ($old, $old_id) = ($res->{json}{token}, $res->{json}{id});
        refuse(3, $how);
        $res = $env->rest(POST => "$R/$old_id/rotate", as => 'alice', %NOCHECK);
        is_ok_res($res, "$how: POST rotate") or next;
        made_after("$how, rotate", $res->{json}{token}, $res->{json}{id}, 3);
        is(revoked($old_id), 't', "$how: the old token is revoked");
    }
};

subtest 'create and rotate, REST: every id refused: 503, nothing made, the old token live' => sub {
    for my $how ('reused', 'taken') {
        refuse(0, $how);
        my ($old, $old_id) = $env->token_create('alice', name => "rest never $how");
        my ($tokens, $created) = (ntokens(), ncreated());
        refuse(1000, $how);
        my $res = $env->rest(PUT => $R, as => 'alice', %NOCHECK,
                             json => { name => "rest never made $how", permissions => ['REPO_READ'] });
        is($res->{status}, 503, "$how: create: 503") or diag res_summary($res);
        ok(!defined $res->{json}{token}, "$how: create: no token in the answer");
        is(draws(), 5, "$how: create: five draws");
        refuse(1000, $how);
        $res = $env->rest(POST => "$R/$old_id/rotate", as => 'alice', %NOCHECK);
        is($res->{status}, 503, "$how: rotate: 503") or diag res_summary($res);
        ok(!defined $res->{json}{token}, "$how: rotate: no token in the answer");
        is(draws(), 5, "$how: rotate: five draws");
        is(ntokens(), $tokens, "$how: no token row");
        is(ncreated(), $created, "$how: no created record");
        is(revoked($old_id), 'f', "$how: the old token is not revoked");
        refuse(0, $how);
        is_ok_res($env->get($UP, { Authorization => "Bearer $old" }), "$how: and works");
    }
};

subtest 'create and rotate, REST: tries the database aborts are run again, four in all, and said so' => sub {
    my ($old, $old_id) = $env->token_create('alice', name => 'rest aborted');
    my ($tokens, $created) = (ntokens(), ncreated());
    my %what = (create => 'creating a token', rotate => 'rotating a token');
    for my $call ('create', 'rotate') {
        my $send = sub {
            return $call eq 'create'
                ? $env->rest(PUT => $R, as => 'alice', %NOCHECK,
                             json => { name => 'rest aborted made', permissions => ['REPO_READ'] })
                : $env->rest(POST => "$R/$old_id/rotate", as => 'alice', %NOCHECK);
        };
        my $log = length $env->error_log_text;
        refuse(1000, 'aborted');
        my $res = $send->();
        is($res->{status}, 503, "$call, aborted each time: 503") or diag res_summary($res);
        ok(!defined $res->{json}{token}, "$call: no token in the answer");
        is(draws(), 4, "$call: four tries (BBT_REST_CONFLICT_TRIES), not five (BBT_MINT_TRIES)");
        my $new = substr($env->error_log_text, $log);
        my @again = $new =~ /BBT295: access-tokens API: \Q$what{$call}\E: the database aborted it .*40P01/g;
        is(scalar @again, 3, "$call: each of the first three logged as $what{$call} (BBT295)");
        like($new, qr/BBT200: access-tokens API: \Q$what{$call}\E failed: the database aborted it each time, 4 times.*40P01/,
             "$call: the 503 says what it was and that the database aborted it each time (BBT200)");
        unlike($new, qr/changing a token|free token id/, "$call: in no other words");
    }
    is(ntokens(), $tokens, 'no token row');
    is(ncreated(), $created, 'no created record');
    is(revoked($old_id), 'f', 'the old token is not revoked');
    refuse(3, 'aborted');
    my $res = $env->rest(PUT => $R, as => 'alice', %NOCHECK,
                         json => { name => 'rest aborted 3', permissions => ['REPO_READ'] });
    is_ok_res($res, 'three aborts, then the fourth try: created');
    is(draws(), 4, '  on the fourth draw');
    refuse(0, 'reused');
    is_ok_res($env->get($UP, { Authorization => "Bearer $old" }), 'the old token works');
};

# A fault (not a taken id, not a try to run again): 503, and the log says
# what the database said, which the ROLLBACK after it clears from libpq.
subtest 'create, REST: a fault is logged in the database\'s words' => sub {
    my $log = length $env->error_log_text;
    refuse(1, 'broken');
    my $res = $env->rest(PUT => $R, as => 'alice', %NOCHECK,
                         json => { name => 'rest broken', permissions => ['REPO_READ'] });
    is($res->{status}, 503, 'create, a fault: 503') or diag res_summary($res);
    like(substr($env->error_log_text, $log), qr/BBT200: access-tokens API: creating a token failed: .*broken on purpose by the test/,
         '  BBT200 gives the database\'s message, not "no connection"');
};

# The connection lost in the transaction: the log says how, not what the
# ROLLBACK after it met ("no connection to the server").
subtest 'create, REST: a connection lost midway is logged in the database\'s words' => sub {
    my $log = length $env->error_log_text;
    refuse(1, 'killed');
    my $res = $env->rest(PUT => $R, as => 'alice', %NOCHECK,
                         json => { name => 'rest killed', permissions => ['REPO_READ'] });
    is($res->{status}, 503, 'create, the connection lost: 503') or diag res_summary($res);
    # The backend's last message, or, where the socket closed before libpq
    # read it, libpq's words for that: either is the statement's own.
    like(substr($env->error_log_text, $log),
         qr/BBT200: access-tokens API: creating a token failed: (terminating connection due to administrator command|server closed the connection unexpectedly)/,
         '  BBT200 says how it was lost, not what the ROLLBACK met') or diag substr($env->error_log_text, $log);
    refuse(0, 'reused');
    is_ok_res($env->rest(PUT => $R, as => 'alice', %NOCHECK,
                         json => { name => 'rest after', permissions => ['REPO_READ'] }),
              'the next create reconnects and works');
};

refuse(0, 'reused');
done_testing;
