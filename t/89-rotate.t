# Rotating a token: `bbtoken rotate ID` and POST .../{tokenId}/rotate for a
# personal, a project's and a repository's token.  The new token keeps the
# holder, name, permissions and kind; it lives as long as the old one was
# made to, capped by the policy (none stays none unless the policy has a
# maximum, which it then gets), and a holder at the policy's most live tokens may rotate; the old
# one is refused at once (the cache is on) and its git clone fails while
# the new one clones; the audit trail links the two ids both ways; a
# revoked, expired or unknown token is refused with a reason; over
# REST, the revoke endpoint's rules: another user's token is no business of
# the caller, a project's admin rotates the project's token, a global admin
# does not get a working token of someone else's.  No token is logged.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use BBT::Env qw(parse_token);
use BBT::Assert;
use BBT::Rest qw(rest_env);
use BBT::Cache qw(until_status);

my @people = qw(alice bob padmin root);
my $env = rest_env(passwords => [map { ($_ => "$_-Pa55-word") } @people], repos => [[PROJ => 'one']],
                   users => [qw(alice bob padmin), [root => '--admin']],
                   grants => [[alice => REPO_WRITE => 'PROJ/one'], [bob => REPO_WRITE => 'PROJ/one'],
                              [padmin => PROJECT_ADMIN => 'PROJ']]);

my $up = '/scm/PROJ/one.git/info/refs?service=git-upload-pack';
my $url = "http://127.0.0.1:" . $env->port . "/scm/PROJ/one.git";
my $n = 0;

# git clone of PROJ/one with token $t as a Bearer header: 1 if it worked.
sub clone_is {
    my ($name, $want, $t) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return $env->git_is($name, $want, '-c', "http.extraHeader=Authorization: Bearer $t", 'clone', '-q', $url,
                        $env->workdir('clone' . ++$n));
}

# The old token is refused at once and its clone fails; the new one clones.
sub old_dead_new_works {
    my ($old, $new, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($ok, $tries, $seen) = until_status($env, $up, { Authorization => $env->bearer($old) }, 401);
    ok($ok, "$what: the old token is refused (401)") or diag $seen;
    clone_is("$what: git clone with the old token", 0, $old);
    clone_is("$what: git clone with the new token", 1, $new);
}

# A token's row: holder, name, permissions, lifetime in days (or 'none'),
# revoked.
sub row {
    my ($id) = @_;
    return $env->psql("SELECT concat_ws(' ', COALESCE(u.name, '-'), COALESCE(t.project_key, '-'),"
                      . " COALESCE(t.repo_slug, '-'), t.name, COALESCE(t.project_perm, '-'), t.repo_perm,"
                      . " COALESCE(round(extract(epoch FROM t.expires_at - t.created_at) / 86400)::text,"
                      . " 'none'), t.revoked_at IS NOT NULL)"
                      . " FROM bbtoken_tokens t LEFT JOIN bbtoken_users u ON u.id = t.user_id"
                      . " WHERE t.id = '$id'");
}

# bbtoken rotate ID: (new token, new id), checking what it prints.
sub cli_rotate {
    my ($id, $expires) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($rc, $out, $err) = $env->cli_is("rotate $id", ['rotate', $id], 0, shape => 0);
    like($out, qr/\ABBDC-\S{44}\n\z/, 'stdout: the new token alone');
    chomp $out;
    my $p = parse_token($out) or return;
    like($err, qr/\Abbtoken: token \Q$id\E is revoked; its replacement is token \Q$p->{id}\E, expires $expires\n\z/,
         'stderr: a note naming both ids and the expiry');
    return ($out, $p->{id});
}

# The audit trail's 'rotated' record of $id, by bbtoken audit --token.
sub rotated_detail {
    my ($id) = @_;
    my @r = grep { $_->{event} eq 'rotated' } @{ $env->cli_json('audit', '--token', $id) };
    return @r == 1 ? $r[0] : undef;
}

subtest 'CLI: a personal token' => sub {
    my ($old, $old_id) = $env->token_create('alice', name => 'laptop', perms => ['REPO_READ'], expiry_days => 10);
    clone_is('the old token clones before', 1, $old);
    # Twice: now it is in the cache.
    is($env->get($up, { Authorization => $env->bearer($old) })->{status}, 200, 'cached');
    my ($new, $new_id) = cli_rotate($old_id, qr/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/) or return;
    isnt($new_id, $old_id, 'a new id');
    is(row($old_id), "alice - - laptop PROJECT_READ REPO_READ 10 t", 'the old one: revoked');
    is(row($new_id), "alice - - laptop PROJECT_READ REPO_READ 10 f", 'the new one: same holder, name, '
       . 'permissions, lifetime');
    old_dead_new_works($old, $new, 'CLI, personal');
    my $a = rotated_detail($old_id);
    ok($a && $a->{detail} =~ /replaced by token \Q$new_id\E/, 'audit --token OLD: rotated, replaced by NEW')
        or diag explain $a;
    is($a && $a->{user}, 'alice', '  the holder');
    is($a && $a->{source}, 'cli', '  source cli');
    $a = rotated_detail($new_id);
    ok($a && $a->{detail} =~ /replaces token \Q$old_id\E/, 'audit --token NEW: rotated, replaces OLD')
        or diag explain $a;
    # Each token's first use from an address group is a record of its own
    # (new_address), beside what rotation writes.
    my @ev = grep { $_ ne 'new_address' } map { $_->{event} } @{ $env->cli_json('audit', '--token', $old_id) };
    is_deeply(\@ev, ['created', 'revoked', 'rotated'], 'the old token\'s records');
    @ev = map { $_->{event} } @{ $env->cli_json('audit', '--token', $new_id) };
    is_deeply([grep { $_ ne 'new_address' } @ev], ['created', 'rotated'], 'the new token\'s records');
    is(scalar(grep { $_ eq 'new_address' } @ev), 1, 'and its first use from 127.0.0.0/24');

    $env->cli_is('rotating the revoked one', ['rotate', $old_id], 1,
                 stderr => qr/token \Q$old_id\E is revoked: only a live token can be rotated/);
    $env->cli_is('an unknown id', ['rotate', '000000000001'], 1, stderr => qr/no such token: 000000000001/);
    $env->cli_is('not an id', ['rotate', 'abc'], 1);
    $env->cli_is('no id', ['rotate'], 2);
    $env->cli_is('two ids', ['rotate', $old_id, $new_id], 2);
    is(row($new_id), "alice - - laptop PROJECT_READ REPO_READ 10 f", 'the live one is untouched');
    $env->psql("SET session_replication_role = replica; UPDATE bbtoken_tokens"
               . " SET created_at = now() - interval '10 days 1 minute',"
               . " expires_at = now() - interval '1 minute' WHERE id = '$new_id'");
    $env->cli_is('an expired token', ['rotate', $new_id], 1,
                 stderr => qr/token \Q$new_id\E has expired: only a live token can be rotated/);
    is(row($new_id), "alice - - laptop PROJECT_READ REPO_READ 10 f", 'the expired one is not revoked by it');
};

subtest 'CLI: the lifetime, capped by the policy; no expiry stays none' => sub {
    my (undef, $id) = $env->token_create('bob', name => 'long', expiry_days => 100);
    $env->cli_ok('policy', '--max-expiry-days', 30);
    my (undef, $new_id) = cli_rotate($id, qr/\S+Z/) or return;
    is(row($new_id), 'bob - - long PROJECT_ADMIN REPO_ADMIN 30 f', '100 days capped at the policy\'s 30');
    my (undef, $short) = $env->token_create('bob', name => 'short', expiry_days => 7);
    (undef, $new_id) = cli_rotate($short, qr/\S+Z/) or return;
    is(row($new_id), 'bob - - short PROJECT_ADMIN REPO_ADMIN 7 f', '7 days stays 7');
    $env->cli_ok('policy', '--max-expiry-days', 'none');
    my (undef, $forever) = $env->token_create('bob', name => 'forever');
    (undef, $new_id) = cli_rotate($forever, 'never') or return;
    is(row($new_id), 'bob - - forever PROJECT_ADMIN REPO_ADMIN none f', 'no expiry: none');
    # A maximum alone (no --expiry-required) is a bound a replacement
    # keeps too.
    $env->cli_ok('policy', '--max-expiry-days', 20);
    (undef, $new_id) = cli_rotate($new_id, qr/\S+Z/) or return;
    is(row($new_id), 'bob - - forever PROJECT_ADMIN REPO_ADMIN 20 f', 'a maximum: no expiry becomes the maximum');
    $env->cli_ok('policy', '--expiry-required', '--max-expiry-days', 25);
    (undef, $new_id) = cli_rotate($new_id, qr/\S+Z/) or return;
    is(row($new_id), 'bob - - forever PROJECT_ADMIN REPO_ADMIN 20 f', 'rotated again: the 20 days it was given');
    $env->cli_ok('policy', '--expiry-optional', '--max-expiry-days', 'none');
    $env->cli_ok('user', 'disable', 'bob');
    $env->cli_is('a disabled owner\'s token', ['rotate', $new_id], 1, stderr => qr/user is disabled: bob/);
    is(row($new_id), 'bob - - forever PROJECT_ADMIN REPO_ADMIN 20 f', 'nothing changed');
    $env->cli_ok('user', 'enable', 'bob');
};

subtest 'CLI: a holder at the most live tokens the policy allows can still rotate' => sub {
    my $live = $env->psql("SELECT count(*) FROM bbtoken_tokens t JOIN bbtoken_users u ON u.id = t.user_id"
                          . " WHERE u.name = 'bob' AND t.revoked_at IS NULL");
    $env->cli_ok('policy', '--max-tokens', $live);
    $env->cli_is('one more for bob', ['create', 'bob', '--name', 'one more'], 1, stderr => qr/already has/);
    my $id = $env->psql("SELECT t.id FROM bbtoken_tokens t JOIN bbtoken_users u ON u.id = t.user_id"
                        . " WHERE u.name = 'bob' AND t.revoked_at IS NULL ORDER BY t.id LIMIT 1");
    my (undef, $new_id) = cli_rotate($id, qr/\S+/) or return;
    ok($new_id, 'rotated: the old one is revoked before the new one is counted');
    $env->cli_ok('policy', '--max-tokens', 100);
};

subtest 'CLI: a repository\'s token' => sub {
    my $out = $env->cli_ok('create', '--repo', 'PROJ/one', '--name', 'deploy', '--perm', 'REPO_WRITE',
                           '--expiry-days', 5);
    chomp $out;
    my $old = $out;
    my $old_id = parse_token($out)->{id};
    is($env->get($up, { Authorization => $env->bearer($old) })->{status}, 200, 'the old one works');
    my ($new, $new_id) = cli_rotate($old_id, qr/\S+Z/) or return;
    is(row($new_id), '- PROJ one deploy - REPO_WRITE 5 f', 'the same repository, name, one permission, lifetime');
    old_dead_new_works($old, $new, 'CLI, repository');
    my $a = rotated_detail($old_id);
    is($a && $a->{user}, 'repo:PROJ/one', 'the audit record names the repository');
};

my $R = '/rest/access-tokens/latest';
my %NOCHECK = (headers => { 'X-Atlassian-Token' => 'no-check' });
sub call { my ($as, $method, $path, %o) = @_; return $env->rest($method, $path, as => $as, %NOCHECK, %o) }

# POST .../rotate as $as: the response, checked as create's.
sub rest_rotate_ok {
    my ($as, $path, $old_id, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $res = call($as, POST => "$path/$old_id/rotate");
    is_ok_res($res, $name) or return;
    my $t = $res->{json};
    like($t->{token} // '', qr/^BBDC-[A-Za-z0-9+\/]{44}\z/, "$name: the raw token, once");
    my $p = parse_token($t->{token} // '');
    ok($p && $p->{id} eq ($t->{id} // ''), "$name: id is the new token's") or return;
    isnt($t->{id}, $old_id, "$name: a new id");
    return $t;
}

subtest 'REST: a personal token' => sub {
    my ($old, $old_id) = $env->token_create('alice', name => 'ci', perms => ['REPO_WRITE'], expiry_days => 12);
    is($env->get($up, { Authorization => $env->bearer($old) })->{status}, 200, 'the old one works (and is cached)');
    my $res = $env->rest(POST => "$R/users/alice/$old_id/rotate", as => 'alice');
    is($res->{status}, 403, 'without X-Atlassian-Token or a JSON body: the cross-site check') or diag res_summary($res);
    $res = call(alice => GET => "$R/users/alice/$old_id/rotate");
    is($res->{status}, 405, 'GET: 405');
    is($res->{headers}{allow}, 'POST', '  Allow: POST');
    my $t = rest_rotate_ok(alice => "$R/users/alice", $old_id, 'POST users/alice/ID/rotate') or return;
    is($t->{name}, 'ci', 'name kept');
    is_deeply($t->{permissions}, ['PROJECT_READ', 'REPO_WRITE'], 'permissions kept');
    is($t->{expiryDays}, 12, 'expiryDays kept');
    is($t->{user}{name}, 'alice', 'the owner');
    is($env->get($up, { Authorization => $env->bearer($old) })->{status}, 401,
       'the old one is refused at once on this server');
    old_dead_new_works($old, $t->{token}, 'REST, personal');
    my $a = rotated_detail($old_id);
    ok($a && $a->{detail} =~ /replaced by token \Q$t->{id}\E/, 'audit: OLD replaced by NEW');
    is($a && $a->{source}, 'http', '  source http');
    is($a && $a->{actor}, 'alice', '  actor alice');
    $a = rotated_detail($t->{id});
    ok($a && $a->{detail} =~ /replaces token \Q$old_id\E/, 'audit: NEW replaces OLD');
    $res = call(alice => POST => "$R/users/alice/$old_id/rotate");
    is($res->{status}, 400, 'rotating it again: 400');
    like($res->{json}{errors}[0]{message} // '', qr/token \Q$old_id\E is revoked: only a live token can be rotated/,
         '  saying why');
};

subtest 'REST: who may rotate a personal token, as who may revoke it' => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'mine');
    my $n_live = sub { $env->psql("SELECT count(*) FROM bbtoken_tokens WHERE revoked_at IS NULL") };
    my $before = $n_live->();
    # bob through alice's path, and through his own with alice's id: the
    # revoke endpoint's answers.
    for my $c (["$R/users/alice/$id", 'bob on alice\'s path'], ["$R/users/bob/$id", 'bob on his path, alice\'s id']) {
        my ($path, $name) = @$c;
        my $rev = call(bob => DELETE => $path);
        my $rot = call(bob => POST => "$path/rotate");
        ok($rot->{status} == 401 || $rot->{status} == 404, "$name: $rot->{status}") or diag res_summary($rot);
        is($rot->{status}, $rev->{status}, "$name: the same status as DELETE");
        is($rot->{json}{errors}[0]{exceptionName}, $rev->{json}{errors}[0]{exceptionName}, "$name: the same exception");
    }
    my $res = call(root => POST => "$R/users/alice/$id/rotate");
    is($res->{status}, 401, 'a global admin: 401 (rotation makes a token: its owner\'s alone)') or diag res_summary($res);
    like($res->{json}{errors}[0]{message} // '', qr/only be rotated by their owner/, '  saying why');
    is($n_live->(), $before, 'nothing was rotated or revoked');
    is($env->get($up, { Authorization => $env->bearer($tok) })->{status}, 200, 'alice\'s token still works');
    $res = call(alice => POST => "$R/users/alice/000000000001/rotate");
    is($res->{status}, 404, 'an unknown id: 404');
};

subtest 'REST: a project\'s and a repository\'s token, by their admins' => sub {
    my $out = $env->cli_ok('create', '--project', 'PROJ', '--name', 'ci', '--perm', 'PROJECT_READ', '--expiry-days', 9);
    chomp(my $ptok = $out);
    my $pid = parse_token($ptok)->{id};
    for my $who (qw(alice bob)) {
        my $rev = call($who => DELETE => "$R/projects/PROJ/$pid");
        my $rot = call($who => POST => "$R/projects/PROJ/$pid/rotate");
        is($rot->{status}, $rev->{status}, "$who (no admin of PROJ): as DELETE, $rev->{status}");
        ok($rot->{status} == 401 || $rot->{status} == 403, "  refused") or diag res_summary($rot);
    }
    is(call(padmin => POST => "$R/projects/PROJ/repos/one/$pid/rotate")->{status}, 404,
       'the project\'s token under its repository\'s path: 404');
    my $t = rest_rotate_ok(padmin => "$R/projects/PROJ", $pid, 'the project admin: POST projects/PROJ/ID/rotate')
        or return;
    is($t->{project}{key}, 'PROJ', 'still the project\'s');
    is(row($t->{id}), '- PROJ - ci PROJECT_READ REPO_READ 9 f', 'holder, name, permissions, lifetime kept');
    old_dead_new_works($ptok, $t->{token}, 'REST, project');
    my $a = rotated_detail($pid);
    is($a && $a->{actor}, 'padmin', 'audit: the project admin rotated it');
    is($a && $a->{user}, 'project:PROJ', '  the project\'s token');

    $out = $env->cli_ok('create', '--repo', 'PROJ/one', '--name', 'deploy2', '--perm', 'REPO_READ');
    chomp(my $rtok = $out);
    my $rid = parse_token($rtok)->{id};
    $t = rest_rotate_ok(padmin => "$R/projects/PROJ/repos/one", $rid, 'POST projects/PROJ/repos/one/ID/rotate')
        or return;
    is(row($t->{id}), '- PROJ one deploy2 - REPO_READ none f', 'a repository\'s token without expiry: none');
    old_dead_new_works($rtok, $t->{token}, 'REST, repository');
    $env->psql("SET session_replication_role = replica; UPDATE bbtoken_tokens"
               . " SET created_at = now() - interval '2 days', expires_at = now() - interval '1 day'"
               . " WHERE id = '$t->{id}'");
    my $res = call(padmin => POST => "$R/projects/PROJ/repos/one/$t->{id}/rotate");
    is($res->{status}, 400, 'an expired token: 400');
    like($res->{json}{errors}[0]{message} // '', qr/has expired: only a live token can be rotated/, '  saying why');
};

subtest 'REST: a token without an expiry, rotated under a maximum, gets the maximum' => sub {
    my (undef, $id) = $env->token_create('alice', name => 'forever', perms => ['REPO_READ']);
    $env->cli_ok('policy', '--max-expiry-days', 15);
    my $t = rest_rotate_ok(alice => "$R/users/alice", $id, 'POST users/alice/ID/rotate') or return;
    is($t->{expiryDays}, 15, 'expiryDays 15, the maximum');
    is(row($t->{id}), 'alice - - forever PROJECT_READ REPO_READ 15 f', '  and so in the database');
    $env->cli_ok('policy', '--max-expiry-days', 'none');
};

subtest 'log lines' => sub {
    my $log = $env->error_log_text;
    like($log, qr/BBT260: access-tokens API: alice rotated token \d{12} into token \d{12}/, 'BBT260');
    like($log, qr/BBT261: access-tokens API: padmin rotated token \d{12} of project PROJ into token \d{12}/,
         'BBT261, a project');
    like($log, qr/BBT261: access-tokens API: padmin rotated token \d{12} of repository PROJ\/one into token \d{12}/,
         'BBT261, a repository');
    my @leaked = grep { my $t = $_; $log =~ /\Q$t\E/ || $env->access_log_text =~ /\Q$t\E/ } $env->rest_tokens;
    is(scalar @leaked, 0, 'no raw token in the logs (' . scalar($env->rest_tokens) . ' checked)');
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;

done_testing;
