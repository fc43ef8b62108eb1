# `bbtoken list --all ... --revoke` reads its tokens from one snapshot and
# revokes them a batch at a time.  A token it read that is rotated before
# its batch is revoked (whoever holds it and may rotate it, through the
# REST API, rotating it over and over while the run goes) must not live on
# as its successor: the batch revokes the live end of the token's rotation
# chain (bbtoken_tokens.rotated_from, migration 34), in the same
# transaction; a rotation waiting for the batch's lock fails as rotating a
# revoked token does; a token made (not rotated) meanwhile is left alone.
# Each race is made deterministic with sessions of psql holding rows, as in
# t/76-lock-order.t: pg_stat_activity says who waits for whom; no sleep
# decides anything.  Also `bbtoken revoke --user` racing a rotation of the
# user's only token.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::BigSite qw(big_site_fill log_plans plan_scans);

my $env = BBT::Env->new(httpd => 0)->start;
$env->user_add($_) for qw(rina rory ruth rhea rosa);

# Token $id of $user, named after it.
sub token_at {
    my ($user, $id) = @_;
    $env->psql("INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash)"
               . " SELECT '$id', id, '$user $id', 'PROJECT_READ', 'REPO_READ', repeat('a', 32),"
               . " repeat('f', 64) FROM bbtoken_users WHERE name = '$user'");
}

sub rotate_sql {
    my ($old, $new) = @_;
    return "SELECT 'rotated $old ' || COALESCE(bbtoken_rotate('$old', '$new', repeat('c', 32),"
        . " repeat('d', 64))::text, 'for good');";
}

sub live { $env->psql("SELECT revoked_at IS NULL FROM bbtoken_tokens WHERE id = '$_[0]'") }

sub live_of {
    my ($user) = @_;
    return $env->psql("SELECT string_agg(t.id, ' ' ORDER BY t.id) FROM bbtoken_tokens t"
                      . " JOIN bbtoken_users u ON u.id = t.user_id"
                      . " WHERE u.name = '$user' AND t.revoked_at IS NULL");
}

sub cli_bg { $env->cli_bg(shift, {}, @_) }

# The CLI's backend ($app) waits for a lock that session $holder holds.
sub waits_for {
    my ($app, $holder) = @_;
    return $env->pg_wait_backend("bbt-$app", "wait_event_type = 'Lock' AND pg_blocking_pids(pid)"
                                 . " && ARRAY(SELECT pid FROM pg_stat_activity"
                                 . " WHERE application_name = 'bbt-$holder')");
}

# A run over $user's tokens, its first batch held up by a session holding
# the lowest of them ($lo) until $meanwhile (a function) has run; then the
# hold goes.  A function that waits for the run and returns its (exit
# code, stdout, stderr).
sub run_held {
    my ($n, $user, $lo, $meanwhile) = @_;
    my $h = $env->pg_session("hold$n");
    $h->send("BEGIN; SELECT 1 FROM bbtoken_tokens WHERE id = '$lo' FOR UPDATE;");
    ok($h->done, 'a session holds the lowest token');
    my $wait = cli_bg("run$n", 'list', '--all', '--owner', $user, '--revoke');
    ok(waits_for("run$n", "hold$n"), 'the run read its tokens, and its batch waits');
    $meanwhile->();
    $h->send('ROLLBACK;');
    ok($h->done, 'the hold goes');
    # The run's fork holds the session's input too: it ends after the run.
    return sub {
        my @r = $wait->();
        $h->finish;
        return @r;
    };
}

subtest 'a token rotated twice after the listing: its successor is revoked, a new token is not' => sub {
    my ($lo, $id, $mid, $end, $new) = map {"1000000000$_"} qw(01 02 51 52 90);
    token_at('rina', $_) for $lo, $id;
    my $wait = run_held(1, 'rina', $lo, sub {
        my $r = $env->pg_session('rotate1');
        $r->send(rotate_sql($id, $mid));
        $r->send(rotate_sql($mid, $end));
        ok($r->done, 'the token is rotated twice meanwhile');
        like($r->finish, qr/^rotated $id .*\nrotated $mid /m, 'both rotations succeed');
        token_at('rina', $new);
    });
    my ($rc, $out, $err) = $wait->();
    is($rc, 0, 'the run exits 0') or diag $err;
    is(live($end), 'f', 'the live end of the rotation chain is revoked');
    is(live_of('rina'), $new, 'only the token made, not rotated, meanwhile is live');
    like($out, qr/^$id /m, 'the rotated token is printed');
    like($out, qr/\nrevoked 2 tokens\n\z/, 'and counted');
    like($err, qr/^bbtoken: token $id was rotated .*: its successor $end is revoked too$/m,
         'the successor revoked is named');
    is($env->psql("SELECT source || ' ' || count(*) FROM bbtoken_audit"
                  . " WHERE token_id = '$end' AND event = 'revoked' GROUP BY source"),
       'cli 1', 'its revocation is audited as the run\'s');
};

subtest 'a rotation of the successor that waits for the batch\'s lock fails' => sub {
    my ($lo, $id, $mid, $end) = map {"2000000000$_"} qw(01 02 51 52);
    token_at('rory', $_) for $lo, $id;
    my $r;
    my $h2 = $env->pg_session('hold2b');
    my $wait = run_held(2, 'rory', $lo, sub {
        $r = $env->pg_session('rotate2');
        $r->send(rotate_sql($id, $mid));
        ok($r->done, 'the token is rotated meanwhile');
        # The revocation of the successor writes its lookup row last: held,
        # the batch waits there with the successor's token row locked.
        $h2->send("BEGIN; SELECT 1 FROM bbtoken_lookup WHERE id = '$mid' FOR UPDATE;");
        ok($h2->done, 'a session holds the successor\'s lookup row');
    });
    ok(waits_for('run2', 'hold2b'), 'the batch holds the successor and waits');
    $r->send(rotate_sql($mid, $end));
    ok($r->blocked, 'a rotation of the successor waits for the batch');
    $h2->send('ROLLBACK;');
    ok($h2->done && $r->done, 'the batch and the rotation finish');
    $h2->finish;
    my ($rc, $out, $err) = $wait->();
    is($rc, 0, 'the run exits 0') or diag $err;
    my $rot = $r->finish;
    like($rot, qr/token $mid is revoked: only a live token can be rotated/,
         'the rotation fails: the token is revoked') or diag $rot;
    is(live_of('rory'), '', 'no token of rory is live');
};

subtest 'a rotation that holds the successor while the batch reads it: its own successor is revoked' => sub {
    my ($lo, $id, $mid, $end) = map {"3000000000$_"} qw(01 02 51 52);
    token_at('ruth', $_) for $lo, $id;
    my $r2 = $env->pg_session('rotate3b');
    my $wait = run_held(3, 'ruth', $lo, sub {
        my $r = $env->pg_session('rotate3');
        $r->send(rotate_sql($id, $mid));
        ok($r->done, 'the token is rotated meanwhile');
        $r->finish;
        # Not committed: the batch sees the successor live, and waits for it.
        $r2->send('BEGIN;');
        $r2->send(rotate_sql($mid, $end));
        ok($r2->done, 'a rotation of the successor is under way');
    });
    ok(waits_for('run3', 'rotate3b'), 'the batch waits for the successor');
    $r2->send('COMMIT;');
    ok($r2->done, 'the rotation commits');
    my ($rc, $out, $err) = $wait->();
    is($rc, 0, 'the run exits 0') or diag $err;
    like($r2->finish, qr/^rotated $mid /m, 'the rotation succeeded');
    is(live($end), 'f', 'the successor it made is revoked by the batch');
    is(live_of('ruth'), '', 'no token of ruth is live');
    like($err, qr/^bbtoken: token $id was rotated .*: its successor $end is revoked too$/m,
         'the successor revoked is named');
};

# `bbtoken revoke --user` revokes a batch at a time, again until none is
# left: a pass that waited for a rotation of the user's only token revokes
# none, and the new token must not be taken for none.
subtest 'revoke --user while a rotation of the user\'s only token commits: the new token is revoked' => sub {
    my ($id, $new) = ('400000000001', '400000000051');
    token_at('rhea', $id);
    my $r = $env->pg_session('rotate4');
    $r->send('BEGIN;');
    $r->send(rotate_sql($id, $new));
    ok($r->done, 'a rotation has made its new token, not committed yet');
    my $wait = cli_bg('revoke4', 'revoke', '--user', 'rhea');
    ok(waits_for('revoke4', 'rotate4'), 'revoke --user waits for it');
    $r->send('COMMIT;');
    ok($r->done, 'the rotation commits');
    my ($rc, $out, $err) = $wait->();
    is($rc, 0, 'revoke --user exits 0') or diag $err;
    like($r->finish, qr/^rotated $id /m, 'the rotation succeeded');
    is(live_of('rhea'), '', 'no token of rhea is live: not the new one either');
    is($out, "revoked 1 token of rhea\n", 'the new token is the one it revoked');
};

# A batch's transaction the database aborts (a deadlock, say) is run
# again, and what the new try finds is all that counts: a successor the
# aborted try revoked, revoked by someone else before the new try reads
# it, is not the run's.  The abort is a trigger's, once, while the
# aborted try, at its COMMIT, holds the successor and a session waits to
# revoke it.
subtest 'a batch run again after an abort: a successor only the aborted try revoked is not claimed' => sub {
    my ($lo, $id, $mid) = map {"8000000000$_"} qw(01 02 51);
    token_at('rosa', $_) for $lo, $id;
    $env->psql("CREATE TABLE t76_gate (x int); INSERT INTO t76_gate VALUES (1);"
               . " CREATE SEQUENCE t76_once;"
               . " CREATE FUNCTION t76_abort() RETURNS trigger LANGUAGE plpgsql AS \$\$"
               . " BEGIN PERFORM 1 FROM t76_gate FOR UPDATE;"
               . " IF nextval('t76_once') = 1 THEN RAISE EXCEPTION 't76 abort'"
               . " USING ERRCODE = 'serialization_failure'; END IF; RETURN NEW; END \$\$;"
               . " CREATE CONSTRAINT TRIGGER t76_abort AFTER UPDATE ON bbtoken_tokens"
               . " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
               . " WHEN (NEW.id = '$lo' AND NEW.revoked_at IS NOT NULL) EXECUTE FUNCTION t76_abort();");
    my $g = $env->pg_session('gate5');
    $g->send('BEGIN; SELECT 1 FROM t76_gate FOR UPDATE;');
    ok($g->done, 'a session holds the gate of the batch\'s own revocation');
    my $wait = run_held(5, 'rosa', $lo, sub {
        my $r = $env->pg_session('rotate5');
        $r->send(rotate_sql($id, $mid));
        ok($r->done, 'the token is rotated meanwhile');
        $r->finish;
    });
    ok(waits_for('run5', 'gate5'), 'the first try revoked the successor, and its COMMIT waits at the gate');
    my $v = $env->pg_session('revoke5');
    $v->send("BEGIN; UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$mid';");
    ok($v->blocked, 'a session revoking the successor waits for the first try');
    $g->send('ROLLBACK;');
    ok($g->done, 'the gate opens: the first try is aborted');
    ok(waits_for('run5', 'revoke5'), 'the second try waits for the session that revoked the successor');
    $v->send('COMMIT;');
    ok($v->done, 'that session commits');
    my ($rc, $out, $err) = $wait->();
    $g->finish;
    $v->finish;
    $env->psql('DROP TRIGGER t76_abort ON bbtoken_tokens; DROP FUNCTION t76_abort();'
               . ' DROP SEQUENCE t76_once; DROP TABLE t76_gate;');
    is($rc, 0, 'the run exits 0') or diag $err;
    is(live_of('rosa'), '', 'no token of rosa is live');
    unlike($out, qr/^$id /m, 'the rotated token, whose successor the run did not revoke, is not printed');
    like($out, qr/^$lo .*\nrevoked 1 token\n\z/ms, 'one token is counted');
    unlike($err, qr/successor/, 'no successor is named') or diag $err;
};

# The successors' statement looks each batch's chains up by index: a batch
# of a thousand on a site of many tokens reads no more of bbtoken_tokens
# than its own chains (PostgreSQL, guessing the chains ten times the batch,
# would otherwise hash the whole table, twice a look, for every batch).
subtest 'a batch of a thousand reads its chains by index, not the whole table' => sub {
    $env->user_add('rita');
    # Past the policy's cap of live tokens per holder: its trigger off.
    big_site_fill($env, "SET session_replication_role = replica; INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash)"
                  . " SELECT lpad((600000000000 + i)::text, 12, '0'), u.id, 'rita ' || i, 'PROJECT_READ', 'REPO_READ',"
                  . " md5('s' || i), md5('h' || i) || md5('k' || i)"
                  . " FROM generate_series(1, 1100) i, bbtoken_users u WHERE u.name = 'rita';"
                  . " INSERT INTO bbtoken_tokens (id, project_key, name, project_perm, repo_perm, salt, secret_hash)"
                  . " SELECT lpad((700000000000 + i)::text, 12, '0'), 'P' || (i % 1000), 'more ' || i,"
                  . " 'PROJECT_READ', 'REPO_READ', md5('s' || i), md5('h' || i) || md5('k' || i)"
                  . " FROM generate_series(1, 20000) i; SET session_replication_role = origin;");
    log_plans($env, 'postgres');
    my $from = length $env->pg_log_text;
    my ($rc, $out, $err) = $env->cli('list', '--all', '--owner', 'rita', '--revoke');
    is($rc, 0, 'the run exits 0') or diag $err;
    like($out, qr/\nrevoked 1100 tokens\n\z/, 'it revokes rita\'s tokens');
    # The plans of the successors' statement (its passes), each a log entry.
    my @plans = grep {/Query Text: WITH RECURSIVE c\(root, id\)/}
        split /\n(?=\S)/, substr($env->pg_log_text, $from);
    ok(@plans >= 2, 'the successors\' statement ran for each batch') or diag scalar @plans;
    # Rows read: returned and removed by a filter, every loop.  A plan in
    # which no scan of bbtoken_tokens is found says nothing of it: each
    # must have one.
    my (@none, @big);
    for my $n (1 .. @plans) {
        my @scans = grep { $_->[0] eq 'bbtoken_tokens' } plan_scans($plans[$n - 1]);
        push @none, $n unless @scans;
        push @big, map {"plan $n: $_->[1]"} grep { $_->[1] > 5000 } @scans;
    }
    is("@none", '', 'each of its plans scans bbtoken_tokens') or diag join "\n", @plans;
    is(scalar @big, 0, 'none of its scans of bbtoken_tokens reads more than 5,000 rows (of 27,100)')
        or diag join "\n", @big;
};

done_testing;
