# Least privilege: httpd's two database roles, as the README deploys them.
# The lookup role (sql/grants.sql) serves token requests and cannot create,
# change or revoke a token, nor call the REST API's functions; the API role
# (sql/grants-api.sql) serves the access-tokens API from a virtual host of
# its own.  A privilege the database refuses either role is a server fault,
# logged, never "not permitted" (401): the API answers 500 (BBT250),
# whichever of its statements was refused, a table's SELECT as a
# function's EXECUTE, and the list of places too, which reads the
# projects' settings the lookup role may not; a token request 503
# (BBT074), as any lookup the database does not answer.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use BBT::Env;
use BBT::Assert;
use BBT::Rest qw(rest_location);

# The API's location is configured server-wide, so the main server (the
# lookup role) serves it too: the mistake of enabling the API where only
# the lookup role is granted.
my $rest = rest_location('bbtoken');
my $env = BBT::Env->new(extra_conf => $rest, api_conf => '', modules => [qw(authn_file authz_user)])->start;
$env->htpasswd(alice => 'alice-Pa55-word');
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my ($tok, $id) = $env->token_create('alice', name => 'laptop');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $B = '/rest/access-tokens/1.0/users/alice';
my $J = JSON::PP->new->canonical;
my $new = sub { $J->encode({ name => $_[0], permissions => ['REPO_READ'] }) };
my $create = "SELECT bbtoken_api_create('alice', 'alice', '%s', 'by SQL', 'PROJECT_READ', 'REPO_READ',"
           . " repeat('a', 32), repeat('b', 64), NULL)";
sub as { my ($role, $sql, %o) = @_; return $env->psql_try($sql, user => $role, %o) }
sub message { my $r = shift; return ref $r->{json} eq 'HASH' ? $r->{json}{errors}[0]{message} // '' : '' }

subtest 'the lookup role looks tokens up, and can change none' => sub {
    my ($rc, $out, $err) = as('bbtoken_httpd', "SELECT count(*) FROM bbtoken_tokens");
    is($rc, 0, 'reads tokens') or diag $err;
    ($rc, $out, $err) = as('bbtoken_httpd', "SELECT bbtoken_touch('$id', '192.0.2.1', 60)");
    is($rc, 0, 'records last use through bbtoken_touch') or diag $err;
    for my $sql (sprintf($create, '100000000001'),
                 "SELECT bbtoken_api_update('alice', 'alice', '$id', 'renamed', NULL, NULL)",
                 "SELECT bbtoken_api_revoke('alice', 'alice', '$id')",
                 "UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$id'",
                 "INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash)"
                 . " SELECT '100000000002', id, 'x', 'PROJECT_READ', 'REPO_READ', repeat('a', 32),"
                 . " repeat('b', 64) FROM bbtoken_users",
                 "SELECT count(*) FROM bbtoken_policy", "SELECT count(*) FROM bbtoken_audit") {
        ($rc, $out, $err) = as('bbtoken_httpd', $sql);
        ok($rc != 0 && $err =~ /permission denied/, "may not: $sql") or diag "exit $rc: $out$err";
    }
    is($env->token_row($id)->{name}, 'laptop', 'the token is as it was');
    is($env->token_row($id)->{revoked_at}, '', '  and live');
};

# Any role of the cluster could connect to a database PUBLIC may connect
# to, LISTEN on the module's channel (token and user ids as they change)
# and NOTIFY on it (each notification empties every server's cache): the
# grants files take CONNECT from PUBLIC and give it to their role.
subtest 'a role of the cluster with no grant cannot connect' => sub {
    $env->psql("CREATE ROLE stranger LOGIN", db => 'postgres');
    my ($rc, $out, $err) = as('stranger', "LISTEN bbtoken");
    isnt($rc, 0, 'a role with no grant: refused');
    like($err, qr/permission denied for database/, '  at connecting') or diag $err;
    ($rc, $out, $err) = as('stranger', "SELECT 1", db => 'postgres');
    is($rc, 0, '  (it connects to another database: the role works)') or diag $err;
    for my $role (qw(bbtoken_httpd bbtoken_api)) {
        ($rc, $out, $err) = as($role, "SELECT 1");
        is($rc, 0, "$role connects") or diag $err;
    }
};

subtest 'the API role calls the API\'s functions' => sub {
    my ($rc, $out, $err) = as('bbtoken_api', sprintf($create, '100000000003'));
    is($rc, 0, 'bbtoken_api_create') or diag $err;
    ($rc, $out, $err) = as('bbtoken_api', "SELECT bbtoken_api_revoke('alice', 'alice', '100000000003')");
    is($rc, 0, 'bbtoken_api_revoke') or diag $err;
    ($rc, $out, $err) = as('bbtoken_api', "SELECT bbtoken_api_revoke('bob', 'alice', '$id')");
    ok($rc != 0 && $err =~ /not permitted/, '  which check the caller') or diag $err;
    ($rc, $out, $err) = as('bbtoken_api', "UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$id'");
    ok($rc != 0 && $err =~ /permission denied/, '  and it writes no table itself') or diag $err;
};

subtest 'both roles may ask bbtoken_owner_level, and it answers' => sub {
    my $uid = $env->psql("SELECT id FROM bbtoken_users WHERE name = 'alice'");
    my %want = ("'PROJ', 'repo'" => 2, "'PROJ', NULL" => 2, "'OTHER', 'repo'" => 0, "'~alice', 'x'" => 3);
    for my $role ('bbtoken_httpd', 'bbtoken_api') {
        for my $args (sort keys %want) {
            my ($rc, $out, $err) = as($role, "SELECT bbtoken_owner_level($uid, $args)");
            is($rc == 0 ? ($out =~ s/\s+//gr) : "exit $rc: $err", $want{$args}, "$role: alice on ($args)");
        }
        my ($rc, $out, $err) = as($role, "SELECT bbtoken_owner_level(-1, 'PROJ', 'repo')");
        is($rc == 0 ? ($out =~ s/\s+//gr) : "exit $rc: $err", 0, "$role: an unknown user: 0");
    }
};

subtest 'httpd: tokens through the lookup role, the API through its own host' => sub {
    is_ok_res($env->get($UP, { Authorization => "Bearer $tok" }), 'a token request on the main server');
    my $r = $env->rest(PUT => $B, as => 'alice', json => $new->('made over REST'), api => 1);
    is_status($r, 200, 'PUT on the API\'s host');
    my $made = $r->{json}{token} // '';
    is_ok_res($env->get($UP, { Authorization => "Bearer $made" }), '  the new token works on the main server');
    is_status($env->rest(GET => $B, as => 'alice', api => 1), 200, 'GET on the API\'s host');
    is_status($env->rest(GET => '/rest/access-tokens/1.0/places', as => 'alice', api => 1), 200,
              'GET places on the API\'s host');
};

subtest 'the API where only the lookup role is granted: a server fault, never 401' => sub {
    my $mark = log_mark($env->error_log_path);
    my $r = $env->rest(PUT => $B, as => 'alice', json => $new->('on the wrong host'));
    is_status($r, 500, 'PUT on the main server: 500');
    unlike(message($r), qr/not permitted|permission denied/i, '  not told they are not permitted');
    like(join("\n", log_lines_since($env->error_log_path, $mark)),
         qr/BBT250: access-tokens API: the database refused the API's role a privilege .*permission denied for function bbtoken_api_create/,
         '  logged, with what the database refused');
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE name = 'on the wrong host'"), 0, '  nothing made');
    $mark = log_mark($env->error_log_path);
    $r = $env->rest(GET => '/rest/access-tokens/1.0/places', as => 'alice');
    is_status($r, 500, 'GET places on the main server: 500');
    like(join("\n", log_lines_since($env->error_log_path, $mark)),
         qr/BBT250: .*permission denied for table bbtoken_projects/, '  logged: the projects\' settings');
};

subtest 'a GRANT revoked in the database: the API 500, a token request 503, logged, never 401' => sub {
    my $victim = $env->rest(PUT => $B, as => 'alice', json => $new->('to revoke'), api => 1)->{json}{id};
    $env->psql('REVOKE EXECUTE ON FUNCTION bbtoken_api_revoke(text, text, text) FROM bbtoken_api');
    my $mark = log_mark($env->error_log_path);
    my $r = $env->rest(DELETE => "$B/$victim", as => 'alice', api => 1,
                       headers => { 'X-Atlassian-Token' => 'no-check' });
    is_status($r, 500, 'DELETE without EXECUTE on bbtoken_api_revoke: 500');
    like(join("\n", log_lines_since($env->error_log_path, $mark)), qr/BBT250: .*permission denied for function bbtoken_api_revoke/,
         '  logged');
    # A table the API reads, as a function it calls: the same fault, the
    # same answer, wherever the statement is.
    $env->psql('REVOKE SELECT ON bbtoken_users FROM bbtoken_api');
    $mark = log_mark($env->error_log_path);
    $r = $env->rest(GET => $B, as => 'alice', api => 1);
    is_status($r, 500, 'GET without SELECT on bbtoken_users: 500');
    unlike(message($r), qr/not permitted|permission denied/i, '  not told they are not permitted');
    my $said = join("\n", log_lines_since($env->error_log_path, $mark));
    like($said, qr/\[bbtoken:error\] .*BBT250: access-tokens API: the database refused the API's role a privilege .*permission denied for table bbtoken_users/,
         '  logged as the privilege it is (BBT250)');
    unlike($said, qr/BBT200: /, '  not as an outage (BBT200)');
    $mark = log_mark($env->error_log_path);
    $r = $env->rest(DELETE => "$B/$victim", as => 'alice', api => 1,
                    headers => { 'X-Atlassian-Token' => 'no-check' });
    is_status($r, 500, 'DELETE, which reads the users first: 500');
    like(join("\n", log_lines_since($env->error_log_path, $mark)), qr/BBT250: .*permission denied for table bbtoken_users/,
         '  logged (BBT250)');
    # A token no request has used: it has no entry, so the request reads
    # the database.  $tok's entry, made above, would answer from memory
    # until some change's notification forgets it, and a revoked privilege
    # notifies nothing.
    my $unused = $env->token_create('alice', name => 'never used');
    $env->psql('REVOKE SELECT ON bbtoken_lookup FROM bbtoken_httpd');
    $mark = log_mark($env->error_log_path);
    is_503($env->get($UP, { Authorization => "Bearer $unused" }),
           'a token request without SELECT on bbtoken_lookup: 503');
    like(join("\n", log_lines_since($env->error_log_path, $mark)),
         qr/\[bbtoken:error\] .*BBT074: the token lookup failed: .*permission denied for table bbtoken_lookup/, '  logged (BBT074)');
    $env->grants_apply;
    is_status($env->rest(DELETE => "$B/$victim", as => 'alice', api => 1,
                         headers => { 'X-Atlassian-Token' => 'no-check' }), 204, 'granted again: DELETE works');
    is_ok_res($env->get($UP, { Authorization => "Bearer $tok" }), '  and so do tokens');
};

subtest 'grants.sql after grants-api.sql takes the API back from a role that held both' => sub {
    # The README's way out of one role for everything: grants-api.sql
    # once gave the lookup role the API's functions; grants.sql, run after
    # it, must leave it none of them.  The lookup role reads every hash, so
    # revoke-by-value's function would let it revoke any token.
    $env->psql(undef, file => "$BBT::Env::ROOT/sql/grants-api.sql", vars => ['role=bbtoken_httpd']);
    $env->psql(undef, file => "$BBT::Env::ROOT/sql/grants.sql", vars => ['role=bbtoken_httpd']);
    my (undef, $vid) = $env->token_create('alice', name => 'not for the lookup role');
    my $left = $env->psql("SELECT string_agg(p.oid::regprocedure::text, ' ' ORDER BY 1) FROM pg_proc p"
                          . " WHERE p.proname LIKE 'bbtoken\\_api\\_%'"
                          . " AND has_function_privilege('bbtoken_httpd', p.oid, 'EXECUTE')");
    is($left, '', 'no bbtoken_api_ function is left to the lookup role');
    for my $sql ("SELECT bbtoken_api_revoke_leaked('192.0.2.7', ARRAY[id], ARRAY[secret_hash])"
                 . " FROM bbtoken_tokens WHERE id = '$vid'",
                 "SELECT bbtoken_api_leak_throttle('192.0.2.7', 30, 3600)") {
        my ($rc, $out, $err) = as('bbtoken_httpd', $sql);
        ok($rc != 0 && $err =~ /permission denied/, "may not: $sql") or diag "exit $rc: $out$err";
    }
    is($env->token_row($vid)->{revoked_at}, '', 'the token is live');
    $env->grants_apply;
};

subtest 'neither role may create in the schema, where the owner\'s functions look' => sub {
    # PostgreSQL 14 and earlier let PUBLIC create in schema public (and
    # pg_upgrade keeps that).  A SECURITY DEFINER function's search_path
    # then holds a schema every role writes to: bbtoken_touch's
    # make_interval(secs => integer) would call a make_interval(secs
    # integer) made there, as the functions' owner.
    my $db = 'bbtoken_pg14';
    $env->psql("CREATE DATABASE $db", db => 'postgres');
    $env->psql('GRANT CREATE ON SCHEMA public TO PUBLIC', db => $db);
    $env->psql(undef, db => $db, file => "$BBT::Env::ROOT/sql/schema.sql");
    for my $g (['grants.sql', 'bbtoken_httpd'], ['grants-api.sql', 'bbtoken_api']) {
        $env->psql(undef, db => $db, file => "$BBT::Env::ROOT/sql/$g->[0]", vars => ["role=$g->[1]"]);
    }
    $env->psql("INSERT INTO bbtoken_users (name) VALUES ('alice')", db => $db);
    my $victim = '100000000009';
    $env->psql("INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash)"
               . " SELECT '$victim', id, 'victim', 'PROJECT_READ', 'REPO_READ', repeat('a', 32), repeat('b', 64)"
               . " FROM bbtoken_users; UPDATE bbtoken_tokens SET last_authenticated = now() - interval '1 hour'",
               db => $db);
    my $evil = "CREATE FUNCTION public.make_interval(secs integer) RETURNS interval LANGUAGE sql AS"
             . " 'GRANT UPDATE ON bbtoken_tokens TO bbtoken_httpd; SELECT interval ''1 second'''";
    for my $role ('bbtoken_httpd', 'bbtoken_api') {
        my ($rc, $out, $err) = $env->psql_try($evil, db => $db, user => $role);
        ok($rc != 0 && $err =~ /permission denied for schema public/, "$role may not create a function there")
            or diag "exit $rc: $out$err";
        $env->psql('DROP FUNCTION IF EXISTS public.make_interval(integer)', db => $db);
    }
    $env->psql_try($evil, db => $db, user => 'bbtoken_httpd');
    $env->psql_try("SELECT bbtoken_touch('$victim', '192.0.2.1', 60)", db => $db, user => 'bbtoken_httpd');
    my ($rc, $out, $err) = $env->psql_try("UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$victim'",
                                          db => $db, user => 'bbtoken_httpd');
    ok($rc != 0 && $err =~ /permission denied/, '  so the lookup role still cannot revoke a token')
        or diag "exit $rc: $out$err";
    is($env->psql("SELECT revoked_at IS NULL FROM bbtoken_tokens WHERE id = '$victim'", db => $db), 't',
       '  and the token is live');
    # A grant of its own is taken away by the role's grants file.
    $env->psql('GRANT CREATE ON SCHEMA public TO bbtoken_httpd, bbtoken_api', db => $db);
    for my $g (['grants.sql', 'bbtoken_httpd'], ['grants-api.sql', 'bbtoken_api']) {
        $env->psql(undef, db => $db, file => "$BBT::Env::ROOT/sql/$g->[0]", vars => ["role=$g->[1]"]);
        is($env->psql("SELECT has_schema_privilege('$g->[1]', 'public', 'CREATE')", db => $db), 'f',
           "$g->[0] takes CREATE on the schema from $g->[1]");
    }
};

subtest 'a trigger of its own runs none of the schema\'s SECURITY DEFINER functions' => sub {
    # Either role may make a temporary table and put a trigger on it that
    # runs any trigger function it may EXECUTE, which PUBLIC may unless
    # revoked; a SECURITY DEFINER one then runs as the schema's owner on
    # rows the role wrote.  bbtoken_users_personal_revoke so run revoked a
    # personal project's tokens and dropped others' grants on it;
    # bbtoken_users_lock_tokens and bbtoken_tokens_personal locked a
    # user's tokens or row for as long as the role's transaction lasted.
    $env->user_add('bob');
    $env->grant('bob', 'PROJECT_WRITE', '~alice');
    my $pid = '100000000010';
    $env->psql("INSERT INTO bbtoken_tokens (id, project_key, name, project_perm, repo_perm, salt, secret_hash)"
               . " VALUES ('$pid', '~alice', 'personal ci', 'PROJECT_READ', 'REPO_READ', repeat('a', 32),"
               . " repeat('e', 64))");
    my $alice = $env->psql("SELECT id FROM bbtoken_users WHERE name = 'alice'");
    my $table = "CREATE TEMP TABLE bbt_own (id bigint, name text, project_key text);";
    my $rows = "INSERT INTO bbt_own VALUES ($alice, 'alice', '~alice'); UPDATE bbt_own SET name = 'bob';"
             . " DELETE FROM bbt_own;";
    for my $role ('bbtoken_httpd', 'bbtoken_api') {
        for my $t (['AFTER UPDATE OR DELETE', 'bbtoken_users_personal_revoke'],
                   ['BEFORE DELETE', 'bbtoken_users_lock_tokens'],
                   ['BEFORE INSERT', 'bbtoken_tokens_personal']) {
            my ($rc, $out, $err) = as($role, "$table CREATE TRIGGER bbt_own $t->[0] ON bbt_own FOR EACH ROW"
                                          . " EXECUTE FUNCTION public.$t->[1](); $rows");
            ok($rc != 0 && $err =~ /permission denied for function (?:public\.)?$t->[1]/, "$role may not: $t->[1]")
                or diag "exit $rc: $out$err";
        }
    }
    is($env->token_row($pid)->{revoked_at}, '', '~alice\'s token is live');
    is($env->psql("SELECT count(*) FROM bbtoken_project_grants WHERE project_key = '~alice'"), 1,
       'bob\'s grant on ~alice is there');
    # Each role calls exactly the SECURITY DEFINER functions its README
    # section names, and PUBLIC none: a new one is PUBLIC's until revoked.
    my $mine = "SELECT string_agg(p.proname, ' ' ORDER BY p.proname) FROM pg_proc p"
             . " WHERE p.prosecdef AND p.pronamespace = 'public'::regnamespace AND %s";
    is($env->psql(sprintf $mine, "EXISTS (SELECT 1 FROM aclexplode(COALESCE(p.proacl, acldefault('f', p.proowner))) a"
                                 . " WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')"),
       '', 'PUBLIC may call no SECURITY DEFINER function');
    is($env->psql(sprintf $mine, "has_function_privilege('bbtoken_httpd', p.oid, 'EXECUTE')"),
       'bbtoken_note_expired bbtoken_note_net bbtoken_touch', 'the lookup role: last use, expiry, address groups');
    is($env->psql(sprintf $mine, "has_function_privilege('bbtoken_api', p.oid, 'EXECUTE')"),
       join(' ', sort((map {"bbtoken_api_$_"} qw(create update revoke may scope_create scope_update scope_revoke
                                                  project_set rotate set_nets leak_throttle revoke_leaked)),
                      qw(bbtoken_note_expired bbtoken_note_net bbtoken_touch))),
       'the API role: those and the API\'s');
};

subtest 'neither role may turn a trigger off' => sub {
    # The triggers keep bbtoken_lookup and notify httpd's caches; a change
    # made with them off leaves both stale (t/78-lookup-check).
    for my $role ('bbtoken_httpd', 'bbtoken_api') {
        for my $sql ('ALTER TABLE bbtoken_tokens DISABLE TRIGGER bbtoken_tokens_lookup_upd',
                     'ALTER TABLE bbtoken_users DISABLE TRIGGER ALL',
                     'SET session_replication_role = replica') {
            my ($rc, $out, $err) = as($role, $sql);
            ok($rc != 0 && $err =~ /must be owner|permission denied/, "$role may not: $sql")
                or diag "exit $rc: $out$err";
        }
    }
    is($env->psql("SELECT count(*) FROM pg_trigger WHERE tgrelid IN ('bbtoken_tokens'::regclass,"
                  . " 'bbtoken_users'::regclass) AND tgenabled NOT IN ('O', 'A')"), 0, 'every trigger fires');
};

done_testing;
