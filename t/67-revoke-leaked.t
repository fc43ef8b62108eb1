# Revoking leaked tokens by their value (POST .../revoke-by-value, no
# login): valid, invalid and mixed lists get the very same answer; each
# valid token is revoked, then refused by git and curl although the cache
# had it, on this server and on another that only PostgreSQL's
# notification tells; the audit trail says revoked_leaked with the reporting address;
# the owner is mailed by `bbtoken notify`; bad bodies are 400; the
# throttle answers 429 with Retry-After; no token is logged.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use File::Path qw(make_path);
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Token qw(forge_token mistype_token);
use BBT::Secrets qw(token_forms no_secrets_in);
use BBT::Cache qw(served_from_cache until_status settle);
use BBT::Rest qw(rest_env);

# The API as t/50 serves it, and the one path that asks for no login.
# mod_remoteip trusts this host's X-Forwarded-For, for the clients a
# translator shows (a request without the header is its own address).
my $env = rest_env(login => 'bbtoken', revoke_by_value => 1, env => { pg_conf => $BBT::Cache::PG_CONF },
                   passwords => [alice => 'alice-Pa55-word'], modules => ['remoteip'],
                   extra_conf => "RemoteIPHeader X-Forwarded-For\nRemoteIPInternalProxy 127.0.0.1\n");
$env->stat_statements_on;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice', '--email', 'alice@example.com');
$env->user_add('bob', '--email', 'bob@example.com');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
$env->grant('bob', 'PROJECT_WRITE', 'PROJ');
# A second server on the same database: only the notification of the
# revocation reaches its cache.
my $other = BBT::Env->new(pg_from => $env)->start;
$other->make_repo('PROJ', 'repo');

my $URL = '/rest/access-tokens/latest/revoke-by-value';
my $GIT = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my (%secret, $calls);

sub mk {
    my ($user, $name) = @_;
    my ($tok, $id) = $env->token_create($user, name => $name, perms => ['REPO_READ']);
    token_forms($name, $tok, \%secret, $user);
    return ($tok, $id);
}

sub report {
    my ($body, %o) = @_;
    $calls++;
    return $env->rest(POST => $o{path} || $URL, noauth => 1, json => $body, %o);
}

sub revoked { my ($id) = @_; return $env->psql("SELECT revoked_at IS NOT NULL FROM bbtoken_tokens WHERE id = '$id'") eq 't' }

sub answer { my ($res) = @_; return join '|', $res->{status}, $res->{content} // '' }

# The statements a report runs, as PostgreSQL counts them: the throttle,
# the rows read, the revocation.
my @WORK = ('bbtoken_api_leak_throttle(', 'CROSS JOIN LATERAL (SELECT t.id, t.salt,',
            'bbtoken_api_revoke_leaked(');
# All three in one psql (statement_calls' count, each a column).
sub work {
    my @cols = map { "(SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE strpos(query, "
                     . BBT::Pg::sql_text($_) . ") > 0)" } @WORK;
    return [split /\|/, $env->psql('SELECT ' . join(', ', @cols), sep => '|')];
}
sub work_of {
    my ($body) = @_;
    my $before = work();
    my $res = report($body);
    my $after = work();
    return ($res, join ' ', map { $after->[$_] - $before->[$_] } 0 .. $#WORK);
}

my ($a1, $a1id) = mk('alice', 'laptop');
my ($a2, $a2id) = mk('alice', 'ci');
my ($b1, $b1id) = mk('bob', 'build');
my ($keep, $keepid) = mk('bob', 'kept');
my $unknown = forge_token('000000000042');
my $wrong = forge_token($keepid);    # bob's id, another secret
my $mistyped = mistype_token($keep);
my %seen;

subtest 'invalid tokens: 202, nothing revoked' => sub {
    my ($res, $work) = work_of([$unknown, $wrong, $mistyped, 'not a token at all', '']);
    is_status($res, 202, 'unknown id, wrong secret, bad checksum, garbage: 202');
    is($work, '1 1 1', 'one throttle count, one read, one revocation call');
    $seen{work} = $work;
    is_deeply($res->{json}, { received => 5, message => $res->{json}{message} }, 'body: received 5 and a message');
    ok(!revoked($keepid), 'the token whose id was used with another secret still lives');
    $seen{invalid} = answer($res);
};

subtest 'the cache holds the token before it is reported' => sub {
    # The tokens' creations notify: one heard after the entry is made would
    # make it old, and the next subtest would blame the report.  After the
    # cache's bound every earlier change is heard, so an entry made then
    # stays until a new change.
    settle();
    ok(served_from_cache($env, $GIT, auth_bearer($b1), $b1id), 'bob\'s build token answered from the cache');
    ok(served_from_cache($other, $GIT, auth_bearer($b1), $b1id), '  and from the other server\'s');
};

subtest 'a report that revokes nothing leaves the cache as it was' => sub {
    # Anyone may send a report: one that revokes nothing must not make
    # every cached token ask the database again.
    my $m = BBT::Cache::log_mark($env);
    is_status(report([$unknown, $wrong]), 202, 'a report of no valid token: 202');
    is_ok_res($env->get($GIT, auth_bearer($b1)), 'bob\'s build token still works');
    my $said = BBT::Cache::log_since($env, $m);
    like($said, qr/BBT037: token $b1id .*\(from the cache\)/, 'answered from the cache');
    unlike($said, qr/BBT312: token $b1id not answered from the cache: its entry is older/,
           'its entry was not made old');
};

subtest 'valid tokens: the same answer, revoked' => sub {
    my ($res, $work) = work_of([$b1, $unknown, $wrong, $mistyped, 'not a token at all']);
    is(answer($res), $seen{invalid}, 'one valid among the same count: the very same status and body');
    is($work, $seen{work}, 'the same statements as for invalid ones');
    ok(revoked($b1id), 'build revoked');
    ok(!revoked($keepid), 'kept, whose id came with a wrong secret, lives');
    my ($ok, $n, $seen) = until_status($env, $GIT, auth_bearer($b1), 401);
    ok($ok, 'the revoked token is refused (401) although the cache had it') or diag $seen;
    ($ok, $n, $seen) = until_status($other, $GIT, auth_bearer($b1), 401);
    ok($ok, 'the other server refuses it too (401), told by PostgreSQL') or diag $seen;
    is($env->get($GIT, auth_bearer($keep))->{status}, 200, 'bob\'s other token still works');
    my $url = $env->clone_url('bob', $b1, 'PROJ', 'repo');
    $env->git_is('git clone with the revoked token fails', qr/401|Authentication failed|could not read/i,
                 'clone', '-q', $url, $env->workdir('c'));
    my ($st) = $env->curl($GIT, auth => "Bearer $b1");
    is($st, 401, 'curl with the revoked token: 401');
};

subtest 'mixed lists, all valid, repeats: the same answer' => sub {
    my $res = report([$a1, $a1, $mistyped, $unknown, 'x']);
    is(answer($res), $seen{invalid}, 'a token twice, with invalid ones: the same');
    ok(revoked($a1id), 'laptop revoked');
    $res = report([$a2, $b1, $a1, $keep, $unknown]);
    is(answer($res), $seen{invalid}, 'all valid or already revoked: the same');
    ok(revoked($a2id) && revoked($keepid), 'ci and kept revoked');
    $res = report([$a2, $b1, $a1, $keep, $unknown]);
    is(answer($res), $seen{invalid}, 'the same list again, nothing left to revoke: the same');
    $res = report([$unknown], path => '/rest/access-tokens/1.0/revoke-by-value/');
    is_status($res, 202, '1.0, with a trailing slash: 202');
    is($res->{json}{received}, 1, '  received 1');
    $res = report([$unknown], headers => { Authorization => "Bearer $unknown" });
    is(answer($res), answer(report([$unknown])), 'an Authorization header changes nothing');
};

subtest 'the audit trail: revoked_leaked, the reporting address' => sub {
    # Each token's revocations, in one psql: "id|count|what the last says".
    my %rec = map { my ($id, @r) = split /\|/; ($id => \@r) } split /\n/, $env->psql(
        "SELECT token_id, count(*), string_agg(event || ' ' || source || ' ' || actor || ' ' || host(client_addr), ';')"
        . " FROM bbtoken_audit WHERE token_id IN ('$a1id', '$a2id', '$b1id', '$keepid') AND event LIKE 'revoked%'"
        . " GROUP BY token_id", sep => '|');
    for my $id ($a1id, $a2id, $b1id, $keepid) {
        is($rec{$id}[0] // 0, 1, "$id: one revocation recorded");
        is($rec{$id}[1], 'revoked_leaked http leak report 127.0.0.1', "$id: revoked_leaked, http, from 127.0.0.1");
    }
    my $log = $env->error_log_text;
    like($log, qr/BBT230: .*token $b1id revoked as leaked, reported from 127\.0\.0\.1/, 'logged by id (BBT230)');
    unlike($log, qr/BBT230: .*(000000000042)/, 'no line for the unknown id');
};

subtest 'the owners are mailed by bbtoken notify' => sub {
    my $dir = $env->dir . '/mail';
    make_path($dir);
    my ($rc, $out, $err) = $env->cli_env({ BBT_MAILDIR => $dir }, '--db', $env->superuser_conninfo, 'notify',
                                         '--sendmail', "$BBT::Env::ROOT/t/mail/sendmail",
                                         '--from', 'tokens@git.example.com');
    is($rc, 0, 'notify: exit 0') or diag $err;
    opendir my $d, $dir or die $!;
    my %to;
    for my $f (grep {/\.eml\z/} readdir $d) {
        my $m = BBT::Util::slurp("$dir/$f");
        my ($to) = $m =~ /^To: (\S+)$/m;
        $to{$to} = $m;
    }
    is_deeply([sort keys %to], ['alice@example.com', 'bob@example.com'], 'one message to each owner');
    like($to{'bob@example.com'} // '', qr/\(id $b1id\)\n  was revoked on \S+Z because its value was reported as leaked \(reported from 127\.0\.0\.1\)/,
         'bob: build revoked as leaked, from 127.0.0.1');
    no_secrets_in('mail', join('', values %to), \%secret, 'no token in any message');
};

subtest 'bad bodies: 400 or 415, and no login needed for any answer' => sub {
    is_status(report([]), 400, 'an empty array: 400');
    is_status(report([($unknown) x 101]), 400, '101 tokens: 400');
    is_status(report([$unknown, 42]), 400, 'a number among them: 400');
    is_status(report({ tokens => [$unknown] }), 400, 'an object: 400');
    is_status(report(undef, body => '[', headers => { 'Content-Type' => 'application/json' }), 400,
              'broken JSON: 400');
    is_status(report(undef, body => "[\"$unknown\"]",
                     headers => { 'Content-Type' => 'text/plain', 'X-Atlassian-Token' => 'no-check' }), 415,
              'not declared JSON: 415');
    is_status(report([$unknown], headers => { Origin => 'https://evil.example' }), 403,
              'another site\'s page: 403 (the cross-site check)');
    is_status($env->rest(GET => $URL, noauth => 1), 405, 'GET: 405');
    is_status($env->rest(GET => '/rest/access-tokens/latest/users/alice', noauth => 1), 401,
              'the rest of the API still needs a login');
    $calls -= 7;    # refused before they were counted
};

subtest 'throttled per address: 429 with Retry-After' => sub {
    my $limit = 30;    # BBT_LEAK_CALLS
    my $res;
    while ($calls < $limit) {
        $res = report([$unknown]);
        is_status($res, 202, "call $calls: 202") or last;
    }
    $res = report([$unknown]);
    is_status($res, 429, "call $calls: 429");
    my $ra = $res->{headers}{'retry-after'} // '';
    ok($ra =~ /^\d+\z/ && $ra >= 1 && $ra <= 3600, "Retry-After: $ra seconds, within the hour");
    like($res->{json}{errors}[0]{message} // '', qr/too many/i, 'the error envelope says why');
    like($env->error_log_text, qr/BBT231: .*127\.0\.0\.1/, 'logged (BBT231)');
    # Refused calls write nothing: no count past the limit, the address's
    # row not written again (its xmin), so a flood from a refused address
    # costs the database no write and queues on no lock.
    my $row = "SELECT calls || ' ' || xmin::text FROM bbtoken_leak_throttle WHERE client_net = '127.0.0.1'";
    my $before = $env->psql($row);
    is_status(report([$unknown]), 429, "call $calls: 429") for 1 .. 5;
    is($env->psql($row), $before, 'five more refused: the row as it was (no write)');
    is((split ' ', $before)[0], $limit, '  and its count stopped at the limit');
    $env->psql("UPDATE bbtoken_leak_throttle SET window_start = now() - interval '2 hours'");
    is_status(report([$unknown]), 202, 'a new window: 202 again');
};

# An IPv4 client seen through a NAT64 translator is counted as its IPv4
# address, as the failed-login throttle counts it, not by the /64 that
# every client of the translator shares.
subtest 'through NAT64: counted as the IPv4 client' => sub {
    my $from = sub { $env->rest(POST => $URL, noauth => 1, json => [$unknown], headers => { 'X-Forwarded-For' => $_[0] }) };
    my $n = 0;
    $n++ while $n < 40 && $from->('64:ff9b::cb00:7109')->{status} == 202;
    is($n, 30, '203.0.113.9 through NAT64: 30 reports, then 429');
    is($env->psql("SELECT calls FROM bbtoken_leak_throttle WHERE client_net = '203.0.113.9'"), 30,
       '  counted as 203.0.113.9');
    is_status($from->('64:ff9b::c633:6464'), 202, '198.51.100.100 through the same translator: not held back');
};

subtest 'the database functions: the API role only, and only with the hash' => sub {
    my ($t, $tid) = mk('bob', 'spare');
    my $by_hash = "SELECT bbtoken_api_revoke_leaked('192.0.2.9', ARRAY[id], ARRAY[%s])"
                . " FROM bbtoken_tokens WHERE id = '$tid'";
    for my $sql (sprintf($by_hash, 'secret_hash'), "SELECT bbtoken_api_leak_throttle('192.0.2.9', 1, 60)",
                 "SELECT count(*) FROM bbtoken_leak_throttle") {
        my ($rc, $out, $err) = $env->psql_try($sql, user => 'bbtoken_httpd');
        ok($rc != 0 && $err =~ /permission denied/, "the lookup role may not: $sql") or diag "exit $rc: $out$err";
    }
    my ($rc, $out, $err) = $env->psql_try(sprintf($by_hash, "repeat('0', 64)"), user => 'bbtoken_api');
    is($rc, 0, 'the API role calls it') or diag $err;
    ok(!revoked($tid), '  with a wrong hash: nothing revoked');
    ($rc, $out, $err) = $env->psql_try("DELETE FROM bbtoken_leak_throttle", user => 'bbtoken_api');
    ok($rc != 0 && $err =~ /permission denied/, 'the API role cannot reset the throttle') or diag "exit $rc: $out$err";
    ($rc, $out, $err) = $env->psql_try(sprintf($by_hash, 'secret_hash'), user => 'bbtoken_api');
    is($rc, 0, 'with the right hash') or diag $err;
    ok(revoked($tid), '  revoked');
    is($env->psql("SELECT event || ' ' || host(client_addr) FROM bbtoken_audit WHERE token_id = '$tid'"
                  . " AND event LIKE 'revoked%'"), 'revoked_leaked 192.0.2.9', '  as leaked, from the address given');
};

subtest 'a report of many tokens: one write, the lookup\'s trigger run once' => sub {
    # The tokens a report revokes are written by one statement: the
    # lookup's statement trigger (bbtoken_lookup_tokens, and the lookup
    # rows it locks and the notification it sets off) runs once for all of
    # them, as PostgreSQL counts the calls of the transaction
    # (track_functions), not once per token reported.
    my $N = 20;
    $env->user_add('carol');
    my @ids = $env->tokens_insert('carol', $N + 2, name => 'many');
    my ($wrong, $dead) = splice @ids, $N;
    my ($expired) = $env->tokens_insert('carol', 1, name => 'old', created => "now() - interval '30 days'",
                                        expires => "now() - interval '1 day'");
    $env->psql("UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$dead'");
    my $unknown_id = '000000000043';
    # In an order of their own, one twice, with a wrong hash, a revoked, an
    # expired and an unknown token among them.
    my $list = join ', ', map {"'$_'"} reverse(@ids), $ids[3], $wrong, $dead, $expired, $unknown_id;
    my $calls = sub {
        my ($fn) = @_;
        return "COALESCE(pg_stat_get_xact_function_calls('$fn'::regprocedure), 0)";
    };
    my $out = $env->psql(
        "SET track_functions = 'all';"
        . " CREATE TEMP TABLE leak_got AS"
        . " WITH l AS (SELECT array_agg(v.id ORDER BY v.n) AS ids,"
        . " array_agg(CASE WHEN v.id = '$wrong' THEN repeat('0', 64) ELSE COALESCE(t.secret_hash, repeat('1', 64))"
        . " END ORDER BY v.n) AS hs"
        . " FROM unnest(ARRAY[$list]) WITH ORDINALITY v (id, n) LEFT JOIN bbtoken_tokens t ON t.id = v.id)"
        . " SELECT x.id FROM l, bbtoken_api_revoke_leaked('192.0.2.7', l.ids, l.hs) x (id);"
        . " SELECT (SELECT string_agg(id, ' ' ORDER BY id) FROM leak_got) || '|'"
        . " || (SELECT count(*) FROM leak_got) || '|' || " . $calls->('bbtoken_lookup_tokens()'),
        user => 'postgres');
    my ($got, $n, $trigger) = split /\|/, $out;
    is($got, join(' ', sort @ids), "the $N tokens revoked, each once, lowest id first");
    is($n, $N, "  $N rows back");
    is($trigger, 1, 'the lookup\'s statement trigger ran once for them all');
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE user_id = (SELECT id FROM bbtoken_users"
                  . " WHERE name = 'carol') AND revoked_at IS NOT NULL"), $N + 1,
       'nothing else revoked (the wrong hash, the expired token)');
    is($env->psql("SELECT count(*) FROM bbtoken_lookup WHERE id IN (" . join(', ', map {"'$_'"} @ids) . ")"
                  . " AND revoked"), $N, 'each one\'s lookup row says so');
    is($env->psql("SELECT count(DISTINCT token_id) || ' ' || count(*) FROM bbtoken_audit"
                  . " WHERE event = 'revoked_leaked' AND host(client_addr) = '192.0.2.7'"),
       "$N $N", 'one revoked_leaked record each, with the address given');
    $out = $env->psql("SET track_functions = 'all';"
                      . " CREATE TEMP TABLE leak_got AS SELECT x.id FROM bbtoken_api_revoke_leaked('192.0.2.7',"
                      . " ARRAY['$wrong', '$unknown_id'], ARRAY[repeat('0', 64), repeat('1', 64)]) x (id);"
                      . " SELECT (SELECT count(*) FROM leak_got) || ' ' || " . $calls->('bbtoken_lookup_tokens()'),
                      user => 'postgres');
    is($out, '0 0', 'a report that revokes nothing writes nothing: the trigger does not run');
};

subtest 'no token in any log' => sub {
    no_secrets_in('httpd error_log', $env->error_log_text, \%secret, 'no token in the error log');
    no_secrets_in('httpd access_log', $env->access_log_text, \%secret, 'no token in the access log');
    no_secrets_in('other httpd error_log', $other->error_log_text, \%secret, 'nor in the other server\'s');
    no_secrets_in('PostgreSQL log', $env->pg_log_text, \%secret, 'no token in the PostgreSQL log');
};

done_testing;
