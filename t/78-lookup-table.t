# bbtoken_lookup, the one row per token that httpd's lookup reads
# (sql/migrations/0026_lookup.sql), is kept true by triggers.  With the
# token cache off, each kind of change that decides access is seen by the
# very next request: a revocation, a disabled owner, a token's permission
# lowered, a project grant lowered or removed, a repository grant lowered
# or removed, the admin flag removed, the owner renamed, an expiry in the
# past, an allow-list.  After a battery of changes through the CLI, the
# REST API, httpd's own writes and plain SQL (TRUNCATE too), the table is
# what bbtoken_lookup_rows computes from the live tables, for every token,
# and its packed column, read by the format alone, holds the live tables'
# fields.
# The owner's level map gives what bbtoken_owner_levels gives, for every
# user and target of a fixture.  Two transactions at once never leave a
# row computed from what the other changed under it, and a rotation and a
# change of its owner take turns.  pg_restore, with --clean or data only,
# restores the table as dumped, true.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(hmac_sha256_hex);
use Encode ();
use JSON::PP ();
use BBT::Env qw(forge_token run_cmd);
use BBT::Token qw(parse_token);
use BBT::Assert;
use BBT::Rest qw(rest_env);

# Reads ask for a file httpd serves itself behind the git routes (/dumb,
# REPO_READ as a clone's info/refs is), and push advertisements go to the
# CGI that prints what it was given (/env, the same routes): what is asked
# is the module's decision, not git-http-backend's answer.
my %pw = (alice => 'alice-Pa55-word', root => 'root-Pa55-word');
my $env = rest_env(passwords => [%pw], repos => [[PROJ => 'repo'], [OTHER => 'x']],
                   users => ['alice', 'bob', [root => '--admin']],
                   grants => [[alice => PROJECT_WRITE => 'PROJ'], [alice => REPO_WRITE => 'OTHER/x']],
                   extra_conf => "BBTokenCache off\n$BBT::Env::DUMB_CONF");
my $R = '/rest/access-tokens/latest';
my %NOCHECK = (headers => { 'X-Atlassian-Token' => 'no-check' });
sub call { my ($as, $method, $path, %o) = @_; return $env->rest($method, $path, as => $as, %NOCHECK, %o) }

sub up { "/dumb/$_[0].git/HEAD" }
sub push_adv { "/env/$_[0].git/info/refs?service=git-receive-pack" }
sub status { my ($path, $auth) = @_; return $env->get($path, { Authorization => $auth })->{status} }

# The rows that differ from what bbtoken_lookup_rows computes now, by id
# ('' when none does).
my $DIFF = "SELECT COALESCE(string_agg(COALESCE(l.id, r.id), ' ' ORDER BY COALESCE(l.id, r.id)), '')"
         . " FROM bbtoken_lookup l FULL JOIN bbtoken_lookup_rows(ARRAY(SELECT id FROM bbtoken_tokens)) r"
         . " ON r.id = l.id WHERE l IS DISTINCT FROM r";

# The fields of packed, as bbtoken_lookup_pack writes them and
# mod_bbtoken/bbt_lookuprow.c reads them (version 1): read here from the
# format alone, not from either.
my @PACKED = (qw(salt secret_hash), [flag => 'revoked'], [flag => 'user_active'],
              (map { [int => $_] } qw(user_id expires_us last_use_us refused_us)),
              (map { [text => $_] } qw(project_perm repo_perm token_name user_name project_key
                                       repo_slug allowed_nets seen_nets levels)));
sub unpack_packed {
    my ($b) = @_;    # bytes
    my %r;
    $b =~ s/\A1 // or return "no version 1: $b";
    $b =~ s/\A([0-9a-f]{32}) ([0-9a-f]{64})// or return 'no salt and hash';
    @r{qw(salt secret_hash)} = ($1, $2);
    for my $f (@PACKED[2 .. $#PACKED]) {
        my ($type, $col) = @$f;
        $b =~ s/\A // or return "no space before $col";
        if ($b =~ s/\A-(?= |\z)//) {
            $r{$col} = undef;
        } elsif ($type eq 'flag') {
            $b =~ s/\A([tf])// or return "$col: not a flag";
            $r{$col} = $1 eq 't' ? JSON::PP::true : JSON::PP::false;
        } elsif ($type eq 'int') {
            $b =~ s/\A(-?(?:0|[1-9][0-9]*))// or return "$col: not an integer";
            $r{$col} = $1 + 0;
        } else {
            $b =~ s/\A(0|[1-9][0-9]*)://a or return "$col: no length";
            length($b) >= $1 or return "$col: shorter than its length";
            $r{$col} = Encode::decode('UTF-8', substr($b, 0, $1, ''), Encode::FB_CROAK);
        }
    }
    return $b eq '' ? \%r : "more after the last field: $b";
}

# Every row's packed, read by the format, against the fields
# bbtoken_lookup_rows computes from the live tables ($json, what
# $PACKED_JSON gives).
my $PACKED_JSON = "SELECT COALESCE(json_agg(json_build_array(l.packed, json_build_object("
    . join(', ', map { my $c = ref $_ ? $_->[1] : $_; "'$c', r.$c" } @PACKED)
    . ")) ORDER BY r.id), '[]') FROM bbtoken_lookup l"
    . " JOIN bbtoken_lookup_rows(ARRAY(SELECT id FROM bbtoken_tokens)) r ON r.id = l.id";
sub packed_true {
    my ($name, $json) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $rows = JSON::PP->new->utf8->decode($json);
    my @wrong;
    for my $row (@$rows) {
        my ($packed, $live) = @$row;
        my $got = unpack_packed(Encode::encode('UTF-8', $packed));
        push @wrong, ref $got ? () : "$got";
        next unless ref $got;
        for my $c (keys %$live) {
            my ($g, $w) = ($got->{$c}, $live->{$c});
            push @wrong, "$c: " . ($g // 'NULL') . ' against ' . ($w // 'NULL')
                unless (!defined $g && !defined $w) || (defined $g && defined $w && "$g" eq "$w");
        }
    }
    ok(@$rows && !@wrong, $name . ' (' . scalar(@$rows) . ' rows)') or diag join "\n", @wrong;
}

# The table is what bbtoken_lookup_rows computes, and packed true (above).
sub table_true {
    my ($name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    # Both checks in one psql (each is a process and a connection).
    my ($diff, $json) = split /\t/, $env->psql("SELECT ($DIFF), ($PACKED_JSON)", sep => "\t"), 2;
    is($diff, '', $name);
    packed_true("$name; packed holds the live tables' fields", $json);
}

subtest 'control: the comparison sees a row that is not what it derives from' => sub {
    my (undef, $id) = $env->token_create('bob', name => 'control', perms => ['REPO_READ']);
    table_true('a new token\'s row is written');
    is($env->psql("BEGIN; ALTER TABLE bbtoken_tokens DISABLE TRIGGER bbtoken_tokens_lookup_upd;"
                  . " UPDATE bbtoken_tokens SET name = 'changed' WHERE id = '$id'; $DIFF; ROLLBACK"),
       $id, 'a change without the trigger is a difference');
    is($env->psql("BEGIN; DELETE FROM bbtoken_lookup WHERE id = '$id'; $DIFF; ROLLBACK"), $id,
       'a missing row is a difference');
};

subtest 'each change that decides access, on the next request' => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'laptop', perms => ['REPO_WRITE']);
    my $bearer = $env->bearer($tok);
    is(status(push_adv('PROJ/repo'), $bearer), 200, 'a push advertisement (PROJECT_WRITE, REPO_WRITE)');

    # The token's permission lowered (REST).
    my $res = call(alice => POST => "$R/users/alice/$id", json => { permissions => ['REPO_READ'] });
    is_ok_res($res, 'REST: the token lowered to REPO_READ');
    is(status(push_adv('PROJ/repo'), $bearer), 403, '  push refused');
    is(status(up('PROJ/repo'), $bearer), 200, '  read allowed');
    $res = call(alice => POST => "$R/users/alice/$id", json => { permissions => ['REPO_WRITE'] });
    is_ok_res($res, 'REST: raised again');
    is(status(push_adv('PROJ/repo'), $bearer), 200, '  push allowed');

    # The project grant lowered, then removed (CLI).
    $env->grant('alice', 'PROJECT_READ', 'PROJ');
    is(status(push_adv('PROJ/repo'), $bearer), 403, 'the project grant lowered: push refused');
    $env->cli_ok('ungrant', 'alice', 'PROJ');
    is(status(up('PROJ/repo'), $bearer), 403, 'the project grant removed: read refused');
    $env->grant('alice', 'PROJECT_WRITE', 'PROJ');
    is(status(push_adv('PROJ/repo'), $bearer), 200, 'granted again: push allowed');

    # A repository grant lowered, then removed.
    is(status(push_adv('OTHER/x'), $bearer), 200, 'OTHER/x: push allowed by the repository grant');
    $env->grant('alice', 'REPO_READ', 'OTHER/x');
    is(status(push_adv('OTHER/x'), $bearer), 403, 'the repository grant lowered: push refused');
    is(status(up('OTHER/x'), $bearer), 200, '  read allowed');
    $env->cli_ok('ungrant', 'alice', 'OTHER/x');
    is(status(up('OTHER/x'), $bearer), 403, 'the repository grant removed: read refused');

    # The owner disabled.
    $env->cli_ok('user', 'disable', 'alice');
    is(status(up('PROJ/repo'), $bearer), 401, 'the owner disabled: 401');
    $env->cli_ok('user', 'enable', 'alice');
    is(status(up('PROJ/repo'), $bearer), 200, 'enabled again: 200');

    # The owner renamed (only SQL renames a user).
    my $basic = $env->basic('alice', $tok);
    is(status(up('PROJ/repo'), $basic), 200, 'Basic under the owner\'s name');
    $env->psql("UPDATE bbtoken_users SET name = 'alicia' WHERE name = 'alice'");
    is(status(up('PROJ/repo'), $basic), 401, 'the owner renamed: Basic under the old name refused');
    is(status(up('PROJ/repo'), $env->basic('alicia', $tok)), 200, '  under the new name accepted');
    $env->psql("UPDATE bbtoken_users SET name = 'alice' WHERE name = 'alicia'");

    # An allow-list set (CLI).
    $env->cli_ok('update', $id, '--allow-from', '192.0.2.0/24');
    is(status(up('PROJ/repo'), $bearer), 401, 'an allow-list without the client: 401');
    $env->cli_ok('update', $id, '--allow-from-any');
    is(status(up('PROJ/repo'), $bearer), 200, 'the allow-list dropped: 200');

    # The expiry in the past (past the tables' own triggers).
    $env->expire_token($id);
    is(status(up('PROJ/repo'), $bearer), 401, 'expired: 401');

    # Revoked (CLI).
    my ($tok2, $id2) = $env->token_create('alice', name => 'desk', perms => ['REPO_READ']);
    is(status(up('PROJ/repo'), $env->bearer($tok2)), 200, 'another token works');
    $env->cli_ok('revoke', $id2);
    is(status(up('PROJ/repo'), $env->bearer($tok2)), 401, 'revoked: 401');

    # The admin flag removed.
    my ($rt) = $env->token_create('root', name => 'admin', perms => ['REPO_READ']);
    is(status(up('PROJ/repo'), $env->bearer($rt)), 200, 'an administrator\'s token, no grant');
    $env->psql("UPDATE bbtoken_users SET is_admin = false WHERE name = 'root'");
    is(status(up('PROJ/repo'), $env->bearer($rt)), 403, 'the admin flag removed: 403');
    $env->psql("UPDATE bbtoken_users SET is_admin = true WHERE name = 'root'");
    table_true('the table is true after them');
};

subtest 'a battery of changes: the table is what it derives from' => sub {
    # REST: create, update, rotate, revoke; a project's and a repository's
    # tokens.
    my $res = call(alice => PUT => "$R/users/alice", json => { name => 'rest', permissions => ['REPO_READ'] });
    is_ok_res($res, 'REST create');
    my $rid = $res->{json}{id};
    is_ok_res(call(alice => POST => "$R/users/alice/$rid", json => { name => 'rest 2' }), 'REST rename');
    $res = call(alice => POST => "$R/users/alice/$rid/rotate");
    is_ok_res($res, 'REST rotate');
    my $rot = $res->{json}{id};
    is_ok_res(call(root => PUT => "$R/projects/PROJ", json => { name => 'p', permissions => ['PROJECT_READ'] }),
              'REST project token');
    is_ok_res(call(root => PUT => "$R/projects/PROJ/repos/repo", json => { name => 'r', permissions => ['REPO_WRITE'] }),
              'REST repository token');
    is(call(alice => DELETE => "$R/users/alice/$rot")->{status}, 204, 'REST revoke');
    # httpd's writes: a last use and a new address group.
    my ($t, $tid) = $env->token_create('bob', name => 'used', perms => ['REPO_READ']);
    $env->grant('bob', 'REPO_READ', 'PROJ/repo');
    is(status(up('PROJ/repo'), $env->bearer($t)), 200, 'a request: last use and address group written');
    isnt($env->psql("SELECT last_use_us FROM bbtoken_lookup WHERE id = '$tid'"), '', '  the last use is in the row');
    isnt($env->psql("SELECT seen_nets FROM bbtoken_lookup WHERE id = '$tid'"), '', '  the address group too');
    # The CLI: revoke --user, purge, rotate; a user's grants and state.
    $env->cli_ok('rotate', $tid);
    $env->cli_ok('revoke', '--user', 'bob');
    $env->cli_ok('purge', '--expired-before', '2099-01-01');
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE revoked_at IS NOT NULL"), 0, '  purged every revoked token');
    $env->grant('bob', 'PROJECT_ADMIN', 'OTHER');
    $env->cli_ok('user', 'disable', 'bob');
    $env->cli_ok('user', 'enable', 'bob');
    table_true('after the CLI and the REST API');
    # Plain SQL: many rows at once, each kind of statement on each table,
    # with tokens whose owners have grants of both kinds.
    $env->token_create($_, name => 'sql', perms => ['REPO_READ']) for qw(alice bob);
    my %sql = (
        'project grants made' => "INSERT INTO bbtoken_project_grants (user_id, project_key, permission)"
            . " SELECT id, 'K' || g, 'PROJECT_READ' FROM bbtoken_users, generate_series(1, 3) g",
        'project grants raised' => "UPDATE bbtoken_project_grants SET permission = 'PROJECT_ADMIN'"
            . " WHERE project_key LIKE 'K%'",
        'project grants removed' => "DELETE FROM bbtoken_project_grants WHERE project_key = 'K2'",
        'repository grants made' => "INSERT INTO bbtoken_repo_grants (user_id, project_key, repo_slug, permission)"
            . " SELECT id, 'K' || g, 's', 'REPO_READ' FROM bbtoken_users, generate_series(1, 3) g",
        'repository grants raised' => "UPDATE bbtoken_repo_grants SET permission = 'REPO_ADMIN'"
            . " WHERE repo_slug = 's'",
        'repository grants removed' => "DELETE FROM bbtoken_repo_grants WHERE project_key = 'K2'",
        'users disabled' => "UPDATE bbtoken_users SET active = false WHERE name <> 'root'",
        'users enabled' => "UPDATE bbtoken_users SET active = true",
        'tokens changed' => "UPDATE bbtoken_tokens SET name = name || ' 2' WHERE revoked_at IS NULL",
    );
    for my $k ('project grants made', 'project grants raised', 'project grants removed',
               'repository grants made', 'repository grants raised', 'repository grants removed',
               'users disabled', 'users enabled', 'tokens changed') {
        $env->psql($sql{$k});
        table_true("plain SQL: $k");
    }
    $env->user_add('gone');
    $env->token_create('gone', name => 'gone', perms => ['REPO_READ']);
    $env->psql("DELETE FROM bbtoken_users WHERE name = 'gone'");
    table_true('plain SQL: a user deleted, with its tokens');
    is($env->psql("SELECT count(*) FROM bbtoken_lookup l LEFT JOIN bbtoken_tokens t ON t.id = l.id"
                  . " WHERE t.id IS NULL"), 0, 'no row for a token that is gone');
    # TRUNCATE of each table it derives from: rebuilt.
    for my $t (qw(bbtoken_repo_grants bbtoken_project_grants)) {
        isnt($env->psql("SELECT count(*) FROM bbtoken_lookup WHERE levels LIKE '%K1%'"), 0,
             "control: maps hold what $t grants");
        is($env->psql("BEGIN; TRUNCATE $t; $DIFF; ROLLBACK"), '', "TRUNCATE $t: rebuilt");
    }
    is($env->psql("BEGIN; TRUNCATE bbtoken_tokens CASCADE; SELECT count(*) FROM bbtoken_lookup; ROLLBACK"), 0,
       'TRUNCATE bbtoken_tokens: no row left');
    is($env->psql("BEGIN; TRUNCATE bbtoken_users CASCADE; SELECT count(*) FROM bbtoken_lookup; ROLLBACK"), 0,
       'TRUNCATE bbtoken_users: no row left');
    table_true('the table is true at the end');
};

subtest 'the level map gives what bbtoken_owner_levels gives' => sub {
    my $max = $env->psql('SELECT bbtoken_lookup_grants_max()');
    $env->user_add('carol');
    $env->user_add('dave', '--admin');
    $env->user_add('erin');
    $env->grant('carol', 'PROJECT_ADMIN', 'PROJ');
    $env->grant('carol', 'REPO_READ', '~alice/pet');
    $env->grant('alice', 'REPO_ADMIN', 'PROJ/repo');
    $env->grant('alice', 'PROJECT_READ', '~bob');
    $env->grant('alice', 'REPO_WRITE', 'PROJ/re');
    # Create repository (REPO_CREATE) is numbered 4, above admin's 3, but
    # comes below admin: PROJ/repo is admin (her repository grant), PROJ/re
    # and PROJ/rep create (the project's).
    $env->grant('alice', 'REPO_CREATE', 'PROJ');
    $env->grant('bob', 'REPO_CREATE', 'OTHER');
    $env->token_create($_, name => 'map', perms => ['REPO_READ']) for qw(alice bob carol erin);
    $env->cli_ok('user', 'disable', 'carol');
    $env->cli_ok('user', 'disable', 'dave');
    $env->psql("INSERT INTO bbtoken_repo_grants (user_id, project_key, repo_slug, permission)"
               . " SELECT id, 'MANY', 'r' || g, 'REPO_READ' FROM bbtoken_users, generate_series(1, $max + 1) g"
               . " WHERE name = 'erin'");
    is($env->psql("SELECT count(*) FROM bbtoken_lookup WHERE user_name = 'erin' AND levels IS NULL"), 1,
       "more than $max grants: no map");
    is($env->psql("SELECT count(*) FROM bbtoken_lookup WHERE user_name = 'carol' AND levels = ''"), 1,
       'a disabled user: an empty map');
    # Every user on every target any grant names, and more, read from the
    # map as httpd reads it (mod_bbtoken/bbt_levelmap.c: the largest of the
    # entries "*", key and key/slug, in Bitbucket's order) against
    # bbtoken_owner_levels.
    my $targets = "SELECT DISTINCT k, s FROM (SELECT project_key, NULL FROM bbtoken_project_grants"
                . " UNION SELECT project_key, repo_slug FROM bbtoken_repo_grants"
                . " UNION SELECT project_key, 'other' FROM bbtoken_repo_grants"
                . " UNION SELECT project_key, NULL FROM bbtoken_repo_grants"
                . " UNION SELECT '~' || lower(name), NULL FROM bbtoken_users"
                . " UNION SELECT '~' || lower(name), 'x' FROM bbtoken_users"
                . " UNION VALUES ('NONE', NULL), ('NONE', 'x'), ('PRO', NULL), ('PROJ', 'rep')) t(k, s)";
    my $map_level = "(SELECT bbtoken_level_order(COALESCE(max(bbtoken_level_order(split_part(e, ':', 2)::integer)), 0))"
                  . " FROM unnest(string_to_array(bbtoken_owner_level_map(u), ' ')) e"
                  . " WHERE split_part(e, ':', 1) IN ('*', t.k, t.k || '/' || t.s))";
    my $n = $env->psql("SELECT count(*) FROM bbtoken_users u, ($targets) t WHERE bbtoken_owner_level_map(u) IS NOT NULL");
    cmp_ok($n, '>', 100, "$n pairs of a user and a target");
    is($env->psql("SELECT COALESCE(string_agg(u.name || ' ' || t.k || '/' || COALESCE(t.s, '-'), ', '), '')"
                  . " FROM bbtoken_users u, ($targets) t, bbtoken_owner_levels(u, t.k, t.s) ol"
                  . " WHERE bbtoken_owner_level_map(u) IS NOT NULL AND ol.level <> $map_level"), '',
       'the map and bbtoken_owner_levels agree on every one');
    is($env->psql("SELECT count(*) FROM bbtoken_users u, ($targets) t, bbtoken_owner_levels(u, t.k, t.s) ol"
                  . " WHERE bbtoken_owner_level_map(u) IS NOT NULL AND ol.level = 3"), 
       $env->psql("SELECT count(*) FROM bbtoken_users u, ($targets) t WHERE bbtoken_owner_level_map(u) IS NOT NULL"
                  . " AND $map_level = 3"), 'control: they agree on level 3 too, which many pairs have');
    is($env->psql("SELECT string_agg(u.name || ' ' || t.k || '/' || COALESCE(t.s, '-') || '=' || ol.level, ', '"
                  . " ORDER BY t.s COLLATE \"C\") FROM bbtoken_users u, ($targets) t, bbtoken_owner_levels(u, t.k, t.s) ol"
                  . " WHERE u.name = 'alice' AND t.k = 'PROJ'"),
       'alice PROJ/other=4, alice PROJ/re=4, alice PROJ/rep=4, alice PROJ/repo=3, alice PROJ/-=4',
       'control: create on PROJ, admin only where her repository grant says');
    table_true('the table is true');
};

# A token row for user $user, inserted by SQL in a session of its own.
sub insert_sql {
    my ($user, $name) = @_;
    my ($sql, undef, $id) = $env->token_insert_sql($user, name => $name, project => 'PROJECT_READ',
                                                   repo => 'REPO_READ');
    return ($id, "$sql;");
}

subtest 'two transactions at once: the later computes with the earlier\'s change' => sub {
    my (undef, $id) = $env->token_create('alice', name => 'race', perms => ['REPO_READ']);
    # A user disabled, and meanwhile the token's permission changed: the
    # change's row waits for the disable's, and is computed after it.
    my $s1 = $env->pg_session('disable');
    my $s2 = $env->pg_session('perm');
    $s1->send("BEGIN; UPDATE bbtoken_users SET active = false WHERE name = 'alice';");
    ok($s1->done, 'the owner disabled, not committed');
    # A change of the permission takes no lock of the owner's (a rename
    # would: the policy trigger).
    $s2->send("BEGIN; UPDATE bbtoken_tokens SET repo_perm = 'REPO_WRITE' WHERE id = '$id';");
    ok($s2->blocked, 'the token\'s permission changed: its row waits');
    $s1->send('COMMIT;');
    ok($s1->done, 'the disable committed');
    $s2->send('COMMIT;');
    ok($s2->done, 'the change committed');
    is($env->psql("SELECT user_active FROM bbtoken_lookup WHERE id = '$id'"), 'f', 'the row says disabled');
    table_true('  and all rows are true');
    $s1->finish;
    $s2->finish;
    $env->cli_ok('user', 'enable', 'alice');

    # A grant removed, and meanwhile a new token for the same user: the
    # new token's row waits for the owner's, held by the grant's change.
    $s1 = $env->pg_session('ungrant');
    $s2 = $env->pg_session('insert');
    $s1->send("BEGIN; DELETE FROM bbtoken_project_grants WHERE project_key = 'PROJ'"
              . " AND user_id = (SELECT id FROM bbtoken_users WHERE name = 'alice');");
    ok($s1->done, 'the grant removed, not committed');
    my ($nid, $ins) = insert_sql('alice', 'new one');
    $s2->send("BEGIN; $ins");
    ok($s2->blocked, 'a new token: it waits for the owner');
    $s1->send('COMMIT;');
    ok($s1->done, 'the removal committed');
    $s2->send('COMMIT;');
    ok($s2->done, 'the new token committed');
    unlike($env->psql("SELECT levels FROM bbtoken_lookup WHERE id = '$nid'"), qr/(^| )PROJ:/,
           'the new token\'s map has no grant on PROJ');
    table_true('  and all rows are true');
    $s1->finish;
    $s2->finish;

    # The other way: a new token first, then a grant made.
    $s1 = $env->pg_session('insert2');
    $s2 = $env->pg_session('grant');
    ($nid, $ins) = insert_sql('alice', 'newer one');
    $s1->send("BEGIN; $ins");
    ok($s1->done, 'a new token, not committed');
    $s2->send("BEGIN; INSERT INTO bbtoken_project_grants (user_id, project_key, permission)"
              . " SELECT id, 'PROJ', 'PROJECT_WRITE' FROM bbtoken_users WHERE name = 'alice';");
    ok($s2->blocked, 'a grant made: it waits for the owner');
    $s1->send('COMMIT;');
    ok($s1->done, 'the new token committed');
    $s2->send('COMMIT;');
    ok($s2->done, 'the grant committed');
    like($env->psql("SELECT levels FROM bbtoken_lookup WHERE id = '$nid'"), qr/(^| )PROJ:2( |$)/,
         'the new token\'s map has the grant');
    table_true('  and all rows are true');
    $s1->finish;
    $s2->finish;
};

subtest 'a rotation and a change of its owner: one waits, neither deadlocks' => sub {
    # A rotation writes the old token's lookup row, then takes its owner's
    # row for the new token; a change of the owner holds the owner's row and
    # writes the lookup rows of all its tokens.  They take turns at the
    # owner's row, which the rotation takes first (FOR KEY SHARE, migration
    # 24), whichever comes first.
    for my $first (qw(change rotation)) {
        my (undef, $id) = $env->token_create('alice', name => "rotated $first", perms => ['REPO_READ']);
        my $new_id = sprintf('%012d', int(rand(1e12)));
        my $salt = join '', map { sprintf '%02x', int rand 256 } 1 .. 16;
        my $hash = hmac_sha256_hex(parse_token(forge_token($new_id))->{raw}, pack('H*', $salt));
        my $h = $env->pg_session("hold-$first");
        my $s1 = $env->pg_session("owner-$first");
        my $s2 = $env->pg_session("rotate-$first");
        my $change = "BEGIN; UPDATE bbtoken_users SET is_admin = NOT is_admin WHERE name = 'alice';";
        my $rotate = "BEGIN; SELECT bbtoken_rotate('$id', '$new_id', '$salt', '$hash') IS NOT NULL;";
        if ($first eq 'change') {
            $s1->send($change);
            ok($s1->done, 'the owner changed, not committed');
            $s2->send($rotate);
            ok($s2->blocked, '  a rotation of their token waits');
        } else {
            # The rotation holds the owner's row and waits for its token.
            $h->send("BEGIN; SELECT 1 FROM bbtoken_tokens WHERE id = '$id' FOR UPDATE;");
            ok($h->done, 'a third session holds the token');
            $s2->send($rotate);
            ok($s2->blocked, '  a rotation of it waits');
            $s1->send($change);
            ok($s1->blocked, '  a change of its owner waits');
            $h->send('ROLLBACK;');
        }
        $s1->send('COMMIT;');
        $s2->send('COMMIT;');
        ok($s1->done && $s2->done && $h->done, "$first first: both committed");
        my $out = $s1->finish . $s2->finish . $h->finish;
        unlike($out, qr/ERROR|deadlock/, "$first first: no error, no deadlock") or diag $out;
        is($env->psql("SELECT string_agg(revoked::text, ' ' ORDER BY id) FROM bbtoken_lookup"
                      . " WHERE id IN ('$id', '$new_id')"), $id lt $new_id ? 'true false' : 'false true',
           "$first first: the old token revoked, the new one live");
        table_true("$first first: all rows are true");
    }
    $env->psql("UPDATE bbtoken_users SET is_admin = false WHERE name = 'alice'");
};

subtest 'pg_dump and pg_restore: the table as dumped, with what it derives from' => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'dumped', perms => ['REPO_READ']);
    is(status(up('PROJ/repo'), $env->bearer($tok)), 200, 'the token works');
    my $dump = $env->dir . '/scratch/bbtoken.dump';
    my @conn = ('-h', '127.0.0.1', '-p', $env->pg_port, '-U', 'postgres');
    my $pg = sub {
        my ($cmd, @args) = @_;
        my ($rc, $out, $err) = run_cmd(cmd => ["$BBT::Env::PGBIN/$cmd", @conn, @args],
                                       tmp => $env->dir . '/run', timeout => 120);
        return $rc ? "exit $rc: $err" : 'ok';
    };
    is($pg->('pg_dump', '-Fc', '-f', $dump, 'bbtoken'), 'ok', 'dumped');
    $env->cli_ok('revoke', $id);
    is(status(up('PROJ/repo'), $env->bearer($tok)), 401, 'revoked after the dump');
    is($pg->('pg_restore', '--clean', '--if-exists', '-d', 'bbtoken', $dump), 'ok', 'restored (--clean)');
    table_true('  the table is true');
    is(status(up('PROJ/repo'), $env->bearer($tok)), 200, '  the token as dumped: live');
    is($env->psql("SELECT count(*) FROM pg_trigger WHERE tgname LIKE '%lookup%' AND tgenabled = 'A'"), 17,
       "  the triggers made again, firing always (fourteen that keep the table, its own three that notify)");
    $env->cli_ok('revoke', $id);
    is(status(up('PROJ/repo'), $env->bearer($tok)), 401, '  revoked again: refused');
    # Data only, into emptied tables: the lookup's rows come from the dump,
    # its triggers off while they load.
    $env->psql('TRUNCATE bbtoken_users, bbtoken_audit, bbtoken_projects, bbtoken_policy,'
               . ' bbtoken_leak_throttle, bbtoken_schema, bbtoken_locks, bbtoken_notify_skips CASCADE');
    is($env->psql('SELECT count(*) FROM bbtoken_lookup'), 0, 'emptied');
    is($pg->('pg_restore', '--data-only', '--disable-triggers', '-d', 'bbtoken', $dump), 'ok',
       'restored (--data-only --disable-triggers)');
    table_true('  the table is true');
    is(status(up('PROJ/repo'), $env->bearer($tok)), 200, '  the token as dumped: live');
};

is_deeply([$env->crash_lines], [], 'no child crashed');
done_testing;
