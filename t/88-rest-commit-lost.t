# A write of the access-tokens API (create, rotate, update, revoke) whose
# COMMIT's answer is lost: PostgreSQL made the COMMIT durable, then the
# connection went before the answer came (a failover, a network cut, a
# backend ended while it waited for a synchronous standby).  The handler
# answered it as any failure, 503 "try again later", and a create's or a
# rotation's new secret was thrown away, though the change was in the
# database: a token nobody had the secret of (a rotation's old one
# revoked, its CI locked out).  Now the write's statement reads its
# transaction's id, and after a lost answer the connection is made again
# and PostgreSQL asked what became of that transaction: committed, the
# write is answered as done (BBT281), with the new token's secret;
# aborted, 503 (BBT200); where the database cannot be asked, 503 saying
# that the outcome is not known and naming the token (BBT282).  (A
# transaction still in progress: t/88-rest-commit-pending.)
#
# The COMMIT is made to wait: synchronous_standby_names names a standby
# that never comes, so a commit is durable here and waits (SyncRep) for
# it.  Once the API's backend waits so (pg_stat_activity says, no sleep
# decides anything), it is ended (pg_terminate_backend): the commit stands
# and its answer never comes.  Where the transaction must abort instead, a
# deferred trigger makes its COMMIT wait for an advisory lock a session
# holds, and the backend is ended while it waits there.  What other
# sessions change meanwhile is no answer: a session queued behind the
# write's locks (LOCK TABLE bbtoken_tokens) makes an aborted update's
# change before the handler could have looked at the rows, and it is not
# done; one that undoes a committed update leaves a token that no longer
# holds what the update asked, and whether it was done is not known (the
# status alone is no proof: t/88-rest-commit-reuse).  Where the database
# must not be asked, the API's role may no longer log in when its backend
# is ended.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use Time::HiRes qw(sleep);
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Rest qw(rest_location rest_writes);
use BBT::Util qw(in_background);

my $env = BBT::Env->new(api_conf => rest_location('basic'), modules => [qw(auth_basic authn_file authz_user)])->start;
$env->htpasswd(alice => 'alice-Pa55-word');
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $API = '/rest/access-tokens/1.0/users/alice';
my $W = rest_writes($env, 'alice');
my $PLAIN = 'The token database is unavailable; try again later.';

# This test's own sessions (psql, the CLI) commit without the standby.
$ENV{PGOPTIONS} = '-c synchronous_commit=local';

# The API's backend whose COMMIT waits for the standby (or, $event
# 'advisory', for the lock the trigger below asks for): its pid, or 0 if
# none does within a minute.
sub committing {
    my ($event) = @_;
    for (1 .. 1200) {
        my $pid = $env->psql("SELECT pid FROM pg_stat_activity WHERE usename = 'bbtoken_api'"
                             . " AND wait_event = '" . ($event // 'SyncRep') . "' LIMIT 1");
        return $pid if $pid;
        sleep 0.05;
    }
    return 0;
}

# With this trigger, the API's COMMIT that changed bbtoken_tokens waits
# while a session holds advisory lock 88 (abort => 1, below); no one
# else's does.
$env->psql(q{CREATE FUNCTION bbt_hold() RETURNS trigger LANGUAGE plpgsql AS
             $$BEGIN IF session_user = 'bbtoken_api' THEN
                 PERFORM pg_advisory_lock_shared(88); PERFORM pg_advisory_unlock_shared(88);
             END IF; RETURN NULL; END$$});
$env->psql('CREATE CONSTRAINT TRIGGER bbt_hold AFTER INSERT OR UPDATE ON bbtoken_tokens'
           . ' DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bbt_hold()');

# $call (a REST call) with its COMMIT's answer lost; with abort => 1, its
# transaction aborted; with undo => SQL, SQL run by another session
# meanwhile, committed before the handler could have read the rows; with
# unreachable => 1, the API's role may not log in again.  Returns the
# answer {status, retry, json} and the error log's lines meanwhile.
my $n = 0;
sub cut {
    my ($what, $call, %o) = @_;
    my $hold;
    if ($o{abort}) {
        $hold = $env->pg_session('hold' . ++$n);
        $hold->send('SELECT pg_advisory_lock(88);');
        ok($hold->done, "$what: a session holds the trigger's lock");
    } else {
        $env->pg_syncrep(1);
    }
    my $mark = log_mark($env->error_log_path);
    my $answer = in_background($env->dir . '/run', sub {
        my $r = $call->();
        return encode_json({ status => $r->{status}, retry => $r->{headers}{'retry-after'},
                             content => $r->{content} // '' });
    });
    my $pid = committing($o{abort} ? 'advisory' : 'SyncRep');
    ok($pid, $o{abort} ? "$what: its COMMIT waits for the trigger's lock" : "$what: its COMMIT waits for the standby");
    my $s;
    if ($o{undo}) {
        $s = $env->pg_session('undo' . ++$n);
        $s->send('SET synchronous_commit = local;');
        $s->send("BEGIN; LOCK TABLE bbtoken_tokens IN ACCESS EXCLUSIVE MODE; $o{undo}; COMMIT;");
        ok($s->blocked, '  a session waits to change the token');
    }
    $env->psql('ALTER ROLE bbtoken_api NOLOGIN') if $o{unreachable};
    $env->psql("SELECT pg_terminate_backend($pid)") if $pid;
    my $r = decode_json($answer->());
    if ($s) {
        ok($s->done, '  the session changed it');
        unlike($s->finish, qr/ERROR/, '  without an error');
    }
    $env->psql('ALTER ROLE bbtoken_api LOGIN') if $o{unreachable};
    if ($hold) {
        $hold->finish;
    } else {
        $env->pg_syncrep(0);
    }
    $r->{json} = eval { decode_json($r->{content}) } || {};
    $r->{message} = join ' ', map { $_->{message} // '' } @{ $r->{json}{errors} || [] };
    return ($r, join("\n", log_lines_since($env->error_log_path, $mark)));
}


sub live_id {
    my ($name) = @_;
    return $env->psql("SELECT id FROM bbtoken_tokens WHERE name = '$name' AND revoked_at IS NULL");
}
sub revoked { $env->psql("SELECT revoked_at IS NOT NULL FROM bbtoken_tokens WHERE id = '$_[0]'") eq 't' }
sub git { $env->get($UP, auth_bearer($_[0]))->{status} }

subtest 'control: the API writes as it should with the standby in place' => sub {
    my $r = $W->{create}->('control')->();
    is($r->{status}, 200, 'create 200') or diag res_summary($r);
    is(git($r->{json}{token}), 200, '  its token works');
};

subtest 'done: each write is answered as done' => sub {
    my ($r, $log) = cut('create', $W->{create}->('made'));
    my $id = live_id('made');
    ok($id, "the token made is in the database: $id");
    is($r->{status}, 200, 'create: 200, not 503') or diag $r->{content};
    is($r->{json}{id}, $id, '  the token made');
    is(git($r->{json}{token}), 200, '  whose secret, in the answer, works');
    like($log, qr/BBT281: access-tokens API: creating a token: the connection was lost at its COMMIT .*\(token $id\)/,
         '  BBT281') or diag $log;
    unlike($log, qr/BBT200|BBT282/, '  no BBT200, no BBT282');

    my ($old, $old_id) = $env->token_create('alice', name => 'ci');
    ($r, $log) = cut('rotate', $W->{rotate}->($old_id));
    my $new_id = $env->psql("SELECT id FROM bbtoken_tokens WHERE rotated_from = '$old_id' AND revoked_at IS NULL");
    ok(revoked($old_id) && $new_id, "in the database: $old_id revoked, $new_id made");
    is($r->{status}, 200, 'rotate: 200, not 503') or diag $r->{content};
    is($r->{json}{id}, $new_id, '  the new token');
    is(git($r->{json}{token}), 200, '  whose secret, in the answer, works');
    is(git($old), 401, '  the old one is refused');
    like($log, qr/BBT281: access-tokens API: rotating a token: .*\(token $old_id into token $new_id\)/, '  BBT281')
        or diag $log;

    (undef, $id) = $env->token_create('alice', name => 'before');
    ($r, $log) = cut('update', $W->{update}->($id, 'after'));
    is($env->psql("SELECT name FROM bbtoken_tokens WHERE id = '$id'"), 'after', 'in the database: renamed');
    is($r->{status}, 200, 'update: 200, not 503') or diag $r->{content};
    is($r->{json}{name}, 'after', '  the token as renamed');
    like($log, qr/BBT281: access-tokens API: updating a token: .*\(token $id\)/, '  BBT281') or diag $log;

    # Its permissions and allow-list set too, the allow-list in a
    # statement of its own in the same transaction: the token holds all.
    ($r, $log) = cut('update with an allow-list', sub {
        $env->rest(POST => "$API/$id", as => 'alice', api => 1,
                   json => { name => 'fenced', permissions => ['PROJECT_WRITE'], allowedAddresses => ['10.1.2.0/24'] }) });
    is($env->psql("SELECT concat_ws(' ', name, project_perm, allowed_nets) FROM bbtoken_tokens WHERE id = '$id'"),
       'fenced PROJECT_WRITE {10.1.2.0/24}', 'in the database: renamed, its permission changed, fenced');
    is($r->{status}, 200, 'update: 200, not 503') or diag $r->{content};
    is_deeply([$r->{json}{name}, $r->{json}{permissions}[0], $r->{json}{allowedAddresses}],
              ['fenced', 'PROJECT_WRITE', ['10.1.2.0/24']], '  the token as changed') or diag $r->{content};
    like($log, qr/BBT281: access-tokens API: updating a token: .*\(token $id\), the rows show it/, '  BBT281')
        or diag $log;

    my $tok;
    ($tok, $id) = $env->token_create('alice', name => 'gone');
    ($r, $log) = cut('revoke', $W->{revoke}->($id));
    ok(revoked($id), 'in the database: revoked');
    is($r->{status}, 204, 'revoke: 204, not 503') or diag $r->{content};
    is(git($tok), 401, '  the token is refused');
    like($log, qr/BBT281: access-tokens API: revoking a token: .*\(token $id\)/, '  BBT281') or diag $log;
};

subtest 'not done: the transaction aborted at its COMMIT, 503 as before' => sub {
    my ($r, $log) = cut('create', $W->{create}->('aborted'), abort => 1);
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE name = 'aborted'"), 0, 'no such token');
    is($r->{status}, 503, 'create: 503');
    is($r->{message}, $PLAIN, '  the plain message');
    like($r->{retry} // '', qr/^\d+$/, '  with Retry-After');
    ok(!exists $r->{json}{token}, '  no secret');
    like($log, qr/BBT200: access-tokens API: creating a token failed: the connection was lost at its COMMIT .*says its transaction \d+ did not commit: not done/,
         '  BBT200 says so') or diag $log;
    unlike($log, qr/BBT281|BBT282/, '  no BBT281, no BBT282');

    my ($old, $old_id) = $env->token_create('alice', name => 'ci3');
    ($r, $log) = cut('rotate', $W->{rotate}->($old_id), abort => 1);
    ok(!revoked($old_id), 'in the database: the old token not revoked');
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE rotated_from = '$old_id'"), 0, '  no new one');
    is($r->{status}, 503, 'rotate: 503');
    is($r->{message}, $PLAIN, '  the plain message');
    ok(!exists $r->{json}{token}, '  no secret');
    is(git($old), 200, '  the old token still works');
    like($log, qr/BBT200: access-tokens API: rotating a token failed: .*did not commit: not done \(token $old_id into token \d+\)/,
         '  BBT200') or diag $log;

    # Another session gives the token the very name asked for, after the
    # write aborted and before the handler could have read it.
    my (undef, $id) = $env->token_create('alice', name => 'kept');
    ($r, $log) = cut('update', $W->{update}->($id, 'renamed'), abort => 1,
                     undo => "UPDATE bbtoken_tokens SET name = 'renamed' WHERE id = '$id'");
    is($r->{status}, 503, 'update: 503, though the token has the name asked for by then');
    is($r->{message}, $PLAIN, '  the plain message');
    like($log, qr/BBT200: access-tokens API: updating a token failed: .*did not commit: not done \(token $id\)/, '  BBT200')
        or diag $log;

    my $tok;
    ($tok, $id) = $env->token_create('alice', name => 'not gone');
    ($r, $log) = cut('revoke', $W->{revoke}->($id), abort => 1);
    ok(!revoked($id), 'in the database: not revoked');
    is($r->{status}, 503, 'revoke: 503');
    is(git($tok), 200, '  the token still works');
    like($log, qr/BBT200: access-tokens API: revoking a token failed: .*did not commit: not done \(token $id\)/, '  BBT200')
        or diag $log;
};

subtest 'changed again since: not known, not done' => sub {
    # The update committed; another session puts the old name back before
    # the handler could have read it.  Its transaction committed, but the
    # token no longer holds the name asked: what an id given again to
    # another transaction would look like too, so the answer is that the
    # outcome is not known, not that it was not done.
    my (undef, $id) = $env->token_create('alice', name => 'first');
    my ($r, $log) = cut('update', $W->{update}->($id, 'second'), undo => "UPDATE bbtoken_tokens SET name = 'first' WHERE id = '$id'");
    is($env->psql("SELECT name FROM bbtoken_tokens WHERE id = '$id'"), 'first', 'in the database: the old name again');
    is($r->{status}, 503, 'update: 503');
    like($r->{message}, qr/whether token $id was changed is not known: look at it before trying again/,
         '  not known, naming the token') or diag $r->{content};
    like($log, qr/BBT282: access-tokens API: updating a token: .*\(token $id\): the database could not say: transaction \d+ committed, but token $id is revoked or does not hold what the update asked/,
         '  BBT282, with why') or diag $log;
    unlike($log, qr/BBT200|BBT281/, '  no BBT200, no BBT281');
};

subtest 'not known: the database cannot be asked again' => sub {
    my ($r, $log) = cut('create', $W->{create}->('unknown'), unreachable => 1);
    my $id = live_id('unknown');
    ok($id, "the token made is in the database: $id");
    is($r->{status}, 503, 'create: 503');
    like($r->{retry} // '', qr/^\d+$/, '  with Retry-After');
    like($r->{message}, qr/whether token $id was created is not known\. If it is listed, it was, but its secret cannot be shown again: revoke it/,
         '  saying that the outcome is not known, naming the token') or diag $r->{content};
    ok(!exists $r->{json}{token}, '  no secret');
    like($log, qr/BBT282: access-tokens API: creating a token: the connection was lost at its COMMIT .*whether it took effect is not known \(token $id\): the database could not say: not connected again: .*bbtoken_api/,
         '  BBT282, with why it could not be asked') or diag $log;
    unlike($log, qr/BBT200/, '  no BBT200');

    my ($old, $old_id) = $env->token_create('alice', name => 'ci2');
    ($r, $log) = cut('rotate', $W->{rotate}->($old_id), unreachable => 1);
    my $new_id = $env->psql("SELECT id FROM bbtoken_tokens WHERE rotated_from = '$old_id'");
    ok(revoked($old_id) && $new_id, "in the database: $old_id revoked, $new_id made");
    is($r->{status}, 503, 'rotate: 503');
    like($r->{message}, qr/whether token $old_id was rotated into token $new_id is not known\. If token $old_id is still listed, it was not rotated and is still valid; if token $new_id is listed instead, its secret cannot be shown again/,
         '  saying that the outcome is not known, naming both tokens') or diag $r->{content};
    like($log, qr/BBT282: access-tokens API: rotating a token: .*\(token $old_id into token $new_id\)/, '  BBT282')
        or diag $log;

    (undef, $id) = $env->token_create('alice', name => 'old name');
    ($r, $log) = cut('update', $W->{update}->($id, 'new name'), unreachable => 1);
    is($r->{status}, 503, 'update: 503');
    like($r->{message}, qr/whether token $id was changed is not known/, '  not known, naming the token')
        or diag $r->{content};
    like($log, qr/BBT282: access-tokens API: updating a token: .*\(token $id\)/, '  BBT282') or diag $log;

    (undef, $id) = $env->token_create('alice', name => 'to revoke');
    ($r, $log) = cut('revoke', $W->{revoke}->($id), unreachable => 1);
    ok(revoked($id), 'in the database: revoked');
    is($r->{status}, 503, 'revoke: 503');
    like($r->{message}, qr/whether token $id was revoked is not known: if it is still listed, revoke it again/,
         '  not known, naming the token') or diag $r->{content};
    like($log, qr/BBT282: access-tokens API: revoking a token: .*\(token $id\)/, '  BBT282') or diag $log;

    my $after = $W->{create}->('made at last')->();
    is($after->{status}, 200, 'the API works again once its role may log in') or diag res_summary($after);
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
