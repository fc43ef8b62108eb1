# Schema upgrades.  A database made by the previous release
# (sql/migrations/0001_initial.sql is that release's sql/schema.sql, kept as
# it was) with users, grants and tokens made the way that release made them
# (rows inserted by SQL, tokens hashed here as its CLI hashed them), is
# upgraded in place by `bbtoken db upgrade`: no data lost, the old tokens
# still authenticate through httpd.  Also: db status, upgrading twice,
# --init, two upgrades at once, a failing migration changing nothing, the
# CLI refusing a database at another version, sql/schema.sql making
# exactly the schema that the upgrade makes, and so does the upgrade from
# databases at later versions holding rows of every kind.  What one
# migration does to the rows a database holds at the version before it is
# t/30-migrations-versions.t's.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA;
use BBT::Env qw(run_cmd);
use BBT::Assert;
use BBT::Migrations qw(later_migrations latest_version cli_db psql_script create_db db_at);

my $ROOT = $BBT::Env::ROOT;
my $env = BBT::Env->new(schema_files => ["$ROOT/sql/migrations/0001_initial.sql"], grants => 0)->start;
$env->make_repo('PROJ', 'repo');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

# The previous release's sql/grants.sql.
$env->psql(<<'EOS');
GRANT USAGE ON SCHEMA public TO bbtoken_httpd;
GRANT SELECT ON bbtoken_users, bbtoken_project_grants, bbtoken_repo_grants,
                bbtoken_tokens, bbtoken_schema TO bbtoken_httpd;
GRANT UPDATE (last_authenticated) ON bbtoken_tokens TO bbtoken_httpd;
GRANT EXECUTE ON FUNCTION bbtoken_owner_level(bigint, text, text),
                          bbtoken_perm_level(text) TO bbtoken_httpd;
EOS

# The migrations after the first, as their names, and the latest version.
# The oldest schema the module serves (BBT_SCHEMA_MIN).
my ($MIN) = BBT::Env::slurp("$ROOT/mod_bbtoken/bbt_schema.h") =~ /^#define BBT_SCHEMA_MIN (\d+)$/m;
my @LATER = later_migrations();
my $LATEST = latest_version();

sub dump_schema {
    my ($db) = @_;
    my ($rc, $out, $err) = run_cmd(cmd => ["$BBT::Env::PGBIN/pg_dump", '-s', '-h', '127.0.0.1', '-p',
                                           $env->pg_port, '-U', 'postgres', $db],
                                   tmp => $env->dir . '/run');
    die "pg_dump $db: $err" if $rc;
    $out =~ s/^--.*\n//mg;
    $out =~ s/^\\(?:un)?restrict .*\n//mg;    # pg_dump's random per-dump key
    return $out;
}
# What psql runs to give httpd's roles their grants in the database it is
# connected to (sql/grants.sql and sql/grants-api.sql), as the README says
# to after an upgrade.
my $GRANTS = "\\set role bbtoken_httpd\n\\i $ROOT/sql/grants.sql\n"
           . "\\set role bbtoken_api\n\\i $ROOT/sql/grants-api.sql\n";

# `bbtoken db upgrade @args` on $db, in the background: its pid, and a sub
# that gives its exit status, stdout and stderr when it has ended.
my $upgrades = 0;
sub upgrade_started {
    my ($db, @args) = @_;
    my $out = $env->dir . "/run/upgrade-$db-" . ++$upgrades . '.out';
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', $out or die $!;
        open STDERR, '>', "$out.err" or die $!;
        exec $env->cli_path, '--db', $env->superuser_conninfo($db), 'db', 'upgrade', @args or die "exec: $!";
    }
    return ($pid, sub {
        waitpid $pid, 0;
        my $rc = $? >> 8;
        my $stdout = do { local (@ARGV, $/) = $out; <> };
        my $stderr = do { local (@ARGV, $/) = "$out.err"; <> };
        return ($rc, $stdout, $stderr);
    });
}

# Until $n of the CLI's sessions on $db wait for a lock: 1, or 0 once
# process $pid has ended (or after a minute).
sub cli_waiting {
    my ($db, $n, $pid) = @_;
    my $waits = "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db'"
              . " AND application_name = 'bbtoken' AND wait_event_type = 'Lock'";
    for (1 .. 1200) {
        return 1 if $env->psql($waits, db => 'postgres') >= $n;
        return 0 if BBT::Util::exited($pid);
        select undef, undef, undef, 0.05;
    }
    return 0;
}

# `bbtoken db upgrade @args` on $db, started while another session holds
# the lock it needs: once it waits for that lock, a sub that gives its exit
# status, stdout and stderr when it has ended.
sub upgrade_waiting {
    my ($db, @args) = @_;
    my ($pid, $done) = upgrade_started($db, @args);
    ok(cli_waiting($db, 1, $pid), 'the second waits for it');
    return $done;
}

my $SNAP = "SELECT id, user_id, name, project_perm, repo_perm, salt, secret_hash, created_at, expires_at, "
         . "last_authenticated, revoked_at FROM bbtoken_tokens ORDER BY id";
my $SNAP_OTHER = "SELECT u.id, u.name, u.active, u.is_admin, u.created_at, "
               . "(SELECT string_agg(project_key || ' ' || permission, ',' ORDER BY 1) FROM bbtoken_project_grants g "
               . "WHERE g.user_id = u.id), (SELECT string_agg(project_key || '/' || repo_slug || ' ' || permission, "
               . "',' ORDER BY 1) FROM bbtoken_repo_grants g WHERE g.user_id = u.id) FROM bbtoken_users u ORDER BY id";

# ---- the previous release's data ---------------------------------------
$env->psql("INSERT INTO bbtoken_users (name, is_admin) VALUES ('alice', false), ('Bob', false), ('root', true)");
$env->psql("INSERT INTO bbtoken_project_grants SELECT id, 'PROJ', 'PROJECT_WRITE' FROM bbtoken_users WHERE name = 'alice'");
$env->psql("INSERT INTO bbtoken_repo_grants SELECT id, 'PROJ', 'repo', 'REPO_READ' FROM bbtoken_users WHERE name = 'Bob'");
my %t;
$t{laptop} = [$env->token_insert('alice', name => 'laptop', created => "now() - interval '100 days'")];
$t{ci1} = [$env->token_insert('alice', name => 'ci', created => "now() - interval '50 days'",
                              expires => "now() + interval '300 days'", project => 'PROJECT_READ',
                              repo => 'REPO_READ')];
$t{ci2} = [$env->token_insert('alice', name => 'ci', created => "now() - interval '10 days'")];
$t{revoked} = [$env->token_insert('alice', name => 'ci', revoked => "now() - interval '1 day'")];
$t{expired} = [$env->token_insert('alice', name => 'expired', created => "now() - interval '40 days'",
                                  expires => "now() - interval '10 days'")];
$t{bob} = [$env->token_insert('Bob', name => 'bob', project => 'PROJECT_READ', repo => 'REPO_READ')];
$env->psql("UPDATE bbtoken_tokens SET last_authenticated = now() - interval '5 days' WHERE id = '$t{laptop}[1]'");
# 105 live tokens for root: over the new default limit of 100, and kept.
$env->tokens_insert('root', 105, name => 'bulk');

subtest 'a released migration never changes' => sub {
    # Databases in the field were made by these exact bytes; a change to a
    # released migration must be a new migration instead.
    my %released = ('0001_initial.sql' => '48b29e934301464bb9c8fc4bdd96382fb9be4ee6b401e846803734c267893156');
    for my $f (sort keys %released) {
        my $sha = Digest::SHA->new(256)->addfile("$ROOT/sql/migrations/$f")->hexdigest;
        is($sha, $released{$f}, "$f is the released file (the first release's sql/schema.sql)");
    }
};

subtest 'before the upgrade' => sub {
    my ($rc, $out, $err) = $env->cli('db', 'status');
    is($rc, 0, 'db status works on the old schema') or diag $err;
    like($out, qr/^schema version: 1$/m, 'version 1');
    like($out, qr/^latest known: $LATEST$/m, "latest $LATEST");
    like($out, qr/^pending: 0002_lifecycle$/m, 'the lifecycle migration is pending');
    like($out, qr/^pending: 0003_rest$/m, 'and the REST API one');
    like($out, qr/^pending: 0004_notify$/m, 'and the cache notifications');
    is(join(' ', $out =~ /^pending: (\S+)$/mg), "@LATER", "every later one: @LATER");
    ($rc, $out, $err) = $env->cli('list', 'alice');
    ok($rc == 1 && $err =~ /version 1.*bbtoken db upgrade/, 'other commands refuse: run bbtoken db upgrade')
        or diag "exit $rc: $err";
    my $mark = log_mark($env->error_log_path);
    my $res = $env->get($UP, { Authorization => "Bearer $t{laptop}[0]" });
    is_503($res, 'the new module on the old schema fails closed: 503, not 401, not access');
    like(join("\n", log_lines_since($env->error_log_path, $mark)),
         qr/BBT770: the database's schema is version 1, older than this module needs \($MIN\): .*bbtoken db upgrade/,
         '  and says why, and what to do (BBT770), not only which column is missing');
};

my $before = $env->psql($SNAP, sep => '|');
my $before_other = $env->psql($SNAP_OTHER, sep => '|');

subtest 'db upgrade' => sub {
    my ($rc, $out, $err) = $env->cli('db', 'upgrade');
    is($rc, 0, 'exit 0') or diag $err;
    is($out, join('', map {"applied $_\n"} @LATER) . "schema version: $LATEST\n", 'says what it applied');
    is($env->psql('SELECT version FROM bbtoken_schema'), $LATEST, "bbtoken_schema says $LATEST");
    ($rc, $out, $err) = $env->cli('db', 'upgrade');
    ok($rc == 0 && $out =~ /already up to date/, 'again: nothing to do') or diag "$out$err";
    ($rc, $out) = $env->cli('db', 'status');
    like($out, qr/status: up to date/, 'db status: up to date');
    $env->grants_apply;    # as the README says: grants again after an upgrade
};

subtest 'no data lost' => sub {
    is($env->psql($SNAP_OTHER, sep => '|'), $before_other, 'users and grants unchanged');
    my $after = $env->psql($SNAP, sep => '|');
    my $renamed = $t{ci2}[1];
    (my $expect = $before) =~ s/^(\Q$renamed\E\|\d+\|)ci\|/$1ci #$renamed|/m;
    isnt($expect, $before, 'control: the duplicate name is in the old data');
    is($after, $expect, 'every token row unchanged, but the newer duplicate "ci" renamed "ci #ID"');
    is($env->token_row($t{ci1}[1])->{name}, 'ci', 'the oldest "ci" keeps its name');
    is($env->token_row($t{revoked}[1])->{name}, 'ci', 'a revoked "ci" keeps its name too');
    is($env->psql("SELECT event || ' ' || source || ' ' || detail FROM bbtoken_audit WHERE token_id = '$renamed'"),
       "renamed upgrade 'ci' -> 'ci #$renamed'", 'the rename is in the audit trail, by the upgrade');
    is($env->psql("SELECT count(*) FROM bbtoken_audit"), 1, 'and nothing else is');
    my $ids = () = $env->cli_ok('list', 'alice') =~ /^\d{12}\b/mg;
    is($ids, 4, 'list alice: the four tokens that are not revoked');
    # bbtoken notify mails news from the upgrade on: what was revoked or
    # had expired before counts as told, mailed to no one.
    is($env->psql("SELECT string_agg(token_id || ' ' || kind || ' ' || COALESCE(mailed_to, '-'), ','"
                  . " ORDER BY kind) FROM bbtoken_notices"),
       "$t{expired}[1] expired -,$t{revoked}[1] revoked -",
       'old news: the revoked and the expired token count as told, and nothing else');
};

subtest 'old tokens still authenticate through httpd' => sub {
    is_ok_res($env->get($UP, { Authorization => "Bearer $t{laptop}[0]" }), 'laptop (Bearer)');
    is_ok_res($env->get($UP, { Authorization => $env->basic('alice', $t{ci1}[0]) }), 'first ci (Basic)');
    is_ok_res($env->get($UP, { Authorization => "Bearer $t{ci2}[0]" }), 'renamed ci');
    is_ok_res($env->get($UP, { Authorization => $env->basic('bob', $t{bob}[0]) }), "Bob's token");
    is_401($env->get($UP, { Authorization => "Bearer $t{revoked}[0]" }), 1, 'the revoked one stays revoked');
    is_401($env->get($UP, { Authorization => "Bearer $t{expired}[0]" }), 1, 'the expired one stays expired');
    my $w = $env->workdir('clone');
    my ($rc, $out, $err) = $env->git('clone', '-q', $env->clone_url('alice', $t{laptop}[0], 'PROJ', 'repo'), $w);
    is($rc, 0, 'git clone with the old token') or diag $err;
    isnt($env->token_row($t{laptop}[1])->{last_authenticated}, '', 'last use recorded through bbtoken_touch');
    my ($r2, $o2, $e2) = $env->cli('create', 'root', '--name', 'one more');
    ok($r2 == 1 && $e2 =~ /live tokens/, 'root holds 105 tokens: kept, but no 106th') or diag $e2;
};

subtest 'sql/schema.sql makes the same schema as 0001 + db upgrade, and so does --init' => sub {
    psql_script($env, 'fresh', create_db('fresh') . "\\i $ROOT/sql/schema.sql\n" . $GRANTS);
    my ($a, $b) = (dump_schema('bbtoken'), dump_schema('fresh'));
    ok(length $a > 1000, 'the dump is not empty');
    # A SECURITY DEFINER function runs with its owner's rights: each must
    # fix its search_path, or a schema earlier in the caller's path can
    # shadow what it names (CREATE OR REPLACE drops the setting).
    for my $db (qw(bbtoken fresh)) {
        is($env->psql("SELECT string_agg(oid::regprocedure::text, ', ') FROM pg_proc"
                      . " WHERE prosecdef AND proconfig IS NULL", db => $db),
           '', "$db: every SECURITY DEFINER function fixes its search_path");
    }
    ok($a eq $b, 'pg_dump --schema-only: identical') or do {
        my @a = split /\n/, $a; my @b = split /\n/, $b;
        for my $i (0 .. $#a) { if (($a[$i] // '') ne ($b[$i] // '')) { diag "line $i:\n< $a[$i]\n> " . ($b[$i] // ''); last } }
    };
    $env->psql('CREATE DATABASE empty', db => 'postgres');
    my ($rc, $out, $err) = cli_db($env, 'empty', 'db', 'upgrade');
    ok($rc == 1 && $err =~ /no mod_bbtoken schema.*--init/, 'db upgrade on an empty database: refused') or diag $err;
    ($rc, $out, $err) = cli_db($env, 'empty', 'db', 'status');
    ok($rc == 1 && $err =~ /no mod_bbtoken schema/, 'db status on an empty database: exit 1') or diag $err;
    ($rc, $out, $err) = cli_db($env, 'empty', 'list', 'alice');
    ok($rc == 1 && $err =~ /no mod_bbtoken schema/, 'other commands: exit 1, say why') or diag $err;
    ($rc, $out, $err) = cli_db($env, 'empty', 'db', 'upgrade', '--init');
    is($rc, 0, 'db upgrade --init') or diag $err;
    is($out, join('', map {"applied $_\n"} '0001_initial', @LATER) . "schema version: $LATEST\n",
       'applies every migration');
    psql_script($env, 'empty-grants', "\\c empty\n$GRANTS");
    ok(dump_schema('empty') eq $b, '--init makes the same schema as sql/schema.sql');
    ($rc, $out, $err) = cli_db($env, 'empty', 'db', 'upgrade', '--init');
    ok($rc == 1 && $err =~ /already/, '--init on a database with a schema: refused') or diag $err;
};

subtest 'from a database at any earlier version, with rows of every kind: the same schema as a fresh one' => sub {
    # A migration may read or mend rows; none may leave a schema that
    # depends on them.  Each database is made as that version's release
    # made it (sql/schema.sql of the day: the migrations up to it), holds
    # what the schema of the day could hold, then is upgraded.
    my $fresh = dump_schema('fresh');
    for my $v (5, 10, 15, 18, $LATEST - 1) {
        my $db = "at$v";
        my $at = db_at($env, $db, $v);
        my @sql = (
            "INSERT INTO bbtoken_users (name, is_admin) VALUES ('alice', false), ('Bob', false), ('root', true),"
            . " ('gone', false)",
            "UPDATE bbtoken_users SET active = false WHERE name = 'gone'",
            "INSERT INTO bbtoken_project_grants SELECT id, 'PROJ', 'PROJECT_WRITE' FROM bbtoken_users"
            . " WHERE name = 'alice'",
            "INSERT INTO bbtoken_repo_grants SELECT id, 'PROJ', 'repo', 'REPO_READ' FROM bbtoken_users"
            . " WHERE name = 'Bob'",
            # Live, expired, revoked, used and never used, restored as rows
            # from the past are (triggers off).
            "SET session_replication_role = replica; INSERT INTO bbtoken_tokens (id, user_id, name,"
            . " project_perm, repo_perm, salt, secret_hash, created_at, expires_at, last_authenticated,"
            . " revoked_at) SELECT '10000000000' || n, (SELECT id FROM bbtoken_users WHERE name ="
            . " CASE WHEN n < 6 THEN 'alice' ELSE 'Bob' END), 'tok ' || n, 'PROJECT_READ', 'REPO_READ',"
            . " substr(md5(n::text), 1, 32), md5(n::text) || md5(n::text || 'x'), now() - interval '100 days',"
            . " CASE WHEN n IN (2, 7) THEN now() - interval '3 days' WHEN n = 3 THEN now() + interval '30 days' END,"
            . " CASE WHEN n IN (1, 3) THEN now() - interval '5 days' END,"
            . " CASE WHEN n IN (4, 8) THEN now() - interval '2 days' END FROM generate_series(1, 9) n");
        push @sql, "UPDATE bbtoken_policy SET max_tokens_per_user = 50" if $at >= 2;
        push @sql, "UPDATE bbtoken_users SET email = name || '\@example.com', display_name = 'The ' || name"
                   . " WHERE name <> 'root'" if $at >= 6;
        push @sql, "INSERT INTO bbtoken_notices (token_id, kind, mailed_to) VALUES ('100000000002', 'expired',"
                   . " 'alice\@example.com')",
                   # Shorter than version 48 allows (from 48 on, the CHECK
                   # refuses it): no room for the warning.
                   ($at < 48 ? "UPDATE bbtoken_policy SET revoke_unused_after = interval '2 days'" : ())
            if $at >= 7;
        push @sql, "INSERT INTO bbtoken_projects VALUES ('PROJ', false)",
                   "SET session_replication_role = replica; INSERT INTO bbtoken_tokens (id, project_key,"
                   . " repo_slug, name, project_perm, repo_perm, salt, secret_hash, created_at, expires_at,"
                   . " revoked_at) VALUES ('200000000001', 'PROJ', NULL, 'proj ci', 'PROJECT_READ',"
                   . " 'REPO_WRITE', repeat('a', 32), repeat('c', 64), now() - interval '10 days', NULL, NULL),"
                   . " ('200000000002', 'PROJ', 'repo', 'repo ci', NULL, 'REPO_READ', repeat('b', 32),"
                   . " repeat('d', 64), now() - interval '10 days', now() - interval '1 day', NULL),"
                   . " ('200000000003', 'PROJ', 'repo', 'repo old', NULL, 'REPO_ADMIN', repeat('b', 32),"
                   . " repeat('e', 64), now() - interval '10 days', NULL, now() - interval '1 day')" if $at >= 8;
        push @sql, "UPDATE bbtoken_tokens SET allowed_nets = '{10.0.0.0/8,2001:db8::/32}'"
                   . " WHERE id = '100000000001'",
                   "INSERT INTO bbtoken_token_nets (token_id, net, first_addr) VALUES"
                   . " ('100000000001', '10.1.2.0/24', '10.1.2.3')" if $at >= 12;
        # In one psql; what turned the triggers off for one statement turns
        # them on again before the next.
        psql_script($env, "$db-rows", "\\c $db\n"
                    . join '', map { /^SET session_replication_role/ ? "$_;\nRESET session_replication_role;\n"
                                                                     : "$_;\n" } @sql);
        my $tokens = "SELECT string_agg(id || ' ' || COALESCE(revoked_at::text, '-') || ' '"
                   . " || COALESCE(expires_at::text, '-'), ',' ORDER BY id) FROM bbtoken_tokens";
        my $before = $env->psql($tokens, db => $db);
        my ($rc, $out, $err) = cli_db($env, $db, 'db', 'upgrade');
        is($rc, 0, "version $at: db upgrade") or diag $err;
        psql_script($env, "$db-grants", "\\c $db\n$GRANTS");
        my $dump = dump_schema($db);
        ok($dump eq $fresh, "version $at: pg_dump --schema-only as a fresh one's (functions, triggers, grants,"
                            . " constraints)") or do {
            my @a = split /\n/, $fresh; my @b = split /\n/, $dump;
            for my $i (0 .. $#a) { if (($a[$i] // '') ne ($b[$i] // '')) { diag "line $i:\n< $a[$i]\n> " . ($b[$i] // ''); last } }
        };
        is($env->psql($tokens, db => $db), $before, "version $at: every token kept, revoked and expiry as they were");
        if ($at >= 7 && $at < 48) {
            is($env->psql("SELECT (extract(epoch FROM revoke_unused_after) / 86400)::integer FROM bbtoken_policy", db => $db),
               8, "version $at: an unused-token policy of 2 days is 8 days");
            like($env->psql("SELECT detail FROM bbtoken_audit WHERE event = 'policy_changed' ORDER BY id DESC"
                            . " LIMIT 1", db => $db),
                 qr/unused tokens revoked after 8 days\z/, "version $at: ... recorded as a policy change");
        }
        # httpd's listener believes its cache only while these twelve fire
        # (BBT710), for every session (ENABLE ALWAYS).
        is($env->psql("SELECT string_agg(tgrelid::regclass || ' ' || tgenabled::text, ',' ORDER BY tgname) FROM pg_trigger"
                      . " WHERE tgfoid = to_regproc('bbtoken_notify')", db => $db),
           'bbtoken_lookup A,bbtoken_lookup A,bbtoken_lookup A,'
           . 'bbtoken_project_grants A,bbtoken_project_grants A,bbtoken_repo_grants A,bbtoken_repo_grants A,'
           . 'bbtoken_tokens A,bbtoken_tokens A,bbtoken_tokens A,bbtoken_users A,'
           . 'bbtoken_users A', "version $at: the notifying triggers fire always");
    }
};

subtest 'a failing migration changes nothing; a newer database is refused' => sub {
    $env->psql('CREATE DATABASE broken', db => 'postgres');
    $env->psql(undef, db => 'broken', file => "$ROOT/sql/migrations/0001_initial.sql");
    # Something in the way of migration 2, half way through it.
    $env->psql('CREATE TABLE bbtoken_policy (x integer)', db => 'broken');
    my ($rc, $out, $err) = cli_db($env, 'broken', 'db', 'upgrade');
    ok($rc == 1 && $err =~ /\Abbtoken: applying migration 0002_lifecycle: [^\n]*bbtoken_policy[^\n]*\n\z/,
       'db upgrade fails with one line naming the migration') or diag "exit $rc: $err";
    is($env->psql('SELECT version FROM bbtoken_schema', db => 'broken'), 1, 'still version 1');
    is($env->psql("SELECT to_regclass('bbtoken_audit') IS NULL", db => 'broken'), 't',
       'nothing of migration 2 is left (it ran in one transaction)');
    my $newer = $LATEST + 1;
    $env->psql("UPDATE bbtoken_schema SET version = $newer", db => 'broken');
    ($rc, $out, $err) = cli_db($env, 'broken', 'user', 'add', 'x');
    ok($rc == 1 && $err =~ /version $newer, newer/, 'a newer schema: refused') or diag $err;
    ($rc, $out, $err) = cli_db($env, 'broken', 'db', 'upgrade');
    ok($rc == 1 && $err =~ /newer/, 'db upgrade will not touch a newer schema') or diag $err;
};

subtest 'users who would share a slug stop the upgrade, which changes nothing' => sub {
    $env->psql('CREATE DATABASE clash', db => 'postgres');
    $env->psql(undef, db => 'clash', file => "$ROOT/sql/migrations/0001_initial.sql");
    $env->psql("INSERT INTO bbtoken_users (name) VALUES ('carol\@corp'), ('Carol_Corp'), ('dave')", db => 'clash');
    my ($rc, $out, $err) = cli_db($env, 'clash', 'db', 'upgrade');
    ok($rc == 1 && $err =~ /share a slug[^\n]*Carol_Corp, carol\@corp/, 'refused, naming the two users')
        or diag "exit $rc: $out$err";
    my ($v) = $env->psql('SELECT version FROM bbtoken_schema', db => 'clash');
    ok($v < 6, "left at version $v, before the slug");
    is($env->psql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'bbtoken_users'"
                  . " AND column_name = 'slug'", db => 'clash'), 0, 'no slug column');
    $env->psql("UPDATE bbtoken_users SET name = 'carol.c' WHERE name = 'Carol_Corp'", db => 'clash');
    ($rc, $out, $err) = cli_db($env, 'clash', 'db', 'upgrade');
    is($rc, 0, 'once one is renamed, the upgrade goes through') or diag $err;
    is($env->psql("SELECT string_agg(name || '=' || slug, ' ' ORDER BY name) FROM bbtoken_users", db => 'clash'),
       'carol.c=carol.c carol@corp=carol_corp dave=dave', 'each user has their slug');
};

subtest 'no C1 control character in an e-mail address, from plain SQL either' => sub {
    # bbt_input_email refuses Unicode's Cc (U+0080 to U+009F too); the
    # schema's CHECK once let the C1 ones in, so CSI (U+009B) set by SQL
    # reached an administrator's terminal through user show and audit.
    my $c1 = "E'erin\\u009b31m\@example.com'";
    for my $sql ("INSERT INTO bbtoken_users (name, email) VALUES ('erin', $c1)",
                 "UPDATE bbtoken_users SET email = $c1 WHERE name = 'alice'",
                 "UPDATE bbtoken_users SET email = E'alice\@exa\\u0085mple.com' WHERE name = 'alice'",
                 "UPDATE bbtoken_users SET email = E'alice\\u0080\@example.com' WHERE name = 'alice'",
                 "UPDATE bbtoken_users SET email = E'alice\@example.com\\u009f' WHERE name = 'alice'") {
        my ($rc, $out, $err) = $env->psql_try($sql);
        ok($rc != 0 && $err =~ /bbtoken_users_email/, "refused: $sql") or diag "exit $rc: $out$err";
    }
    is($env->psql("SELECT count(*) FROM bbtoken_users WHERE email ~ '[\\u0080-\\u009f]'"), 0, 'none stored');
    $env->psql("UPDATE bbtoken_users SET email = E'jos\\u00e9\\u00a0\@example.com' WHERE name = 'alice'");
    is($env->psql("SELECT email = E'jos\\u00e9\\u00a0\@example.com' FROM bbtoken_users WHERE name = 'alice'"), 't',
       'other non-ASCII characters stay allowed, as bbt_input_email allows them');
    $env->psql("UPDATE bbtoken_users SET email = NULL WHERE name = 'alice'");

    # A database from before: such an address becomes none, and the audit
    # trail says so with each control as "?".
    my $last = db_at($env, 'c1mail', 19);
    $env->psql("INSERT INTO bbtoken_users (name, email) VALUES ('erin', $c1), ('fred', 'fred\@example.com'),"
               . " ('gina', E'gina\@exa\\u0085mple.com'), ('hal', NULL)", db => 'c1mail');
    is($env->psql("SELECT count(*) FROM bbtoken_users WHERE email ~ '[\\u0080-\\u009f]'", db => 'c1mail'), 2,
       "control: version $last took two such addresses");
    my ($rc, $out, $err) = cli_db($env, 'c1mail', 'db', 'upgrade');
    is($rc, 0, 'db upgrade') or diag $err;
    is($env->psql("SELECT string_agg(name || '=' || COALESCE(email, '-'), ' ' ORDER BY name) FROM bbtoken_users",
                  db => 'c1mail'),
       'erin=- fred=fred@example.com gina=- hal=-', 'the two addresses became none; the others are as they were');
    is($env->psql("SELECT string_agg(user_name || ' ' || source || ' ' || detail, ', ' ORDER BY user_name)"
                  . " FROM bbtoken_audit WHERE event = 'user_details_changed'", db => 'c1mail'),
       "erin upgrade e-mail none (was 'erin?31m\@example.com'), gina upgrade e-mail none (was 'gina\@exa?mple.com')",
       'recorded by the upgrade, each control shown as "?"');
    is($env->psql("SELECT count(*) FROM bbtoken_audit WHERE detail ~ '[\\u0001-\\u001f\\u007f-\\u009f]'",
                  db => 'c1mail'), 0, 'no control character in the audit trail');
    ($rc, $out, $err) = $env->psql_try("UPDATE bbtoken_users SET email = $c1 WHERE name = 'fred'", db => 'c1mail');
    ok($rc != 0 && $err =~ /bbtoken_users_email/, 'and refused from then on') or diag "exit $rc: $out$err";
};

subtest 'two upgrades at once: the second waits, and does not claim what the first applied' => sub {
    $env->psql('CREATE DATABASE racing', db => 'postgres');
    $env->psql(undef, db => 'racing', file => "$ROOT/sql/migrations/0001_initial.sql");
    # The first upgrade: a session that holds the upgrade's lock and applies
    # every later migration in one transaction, as db upgrade would.
    open my $first, '|-', "$BBT::Env::PGBIN/psql", '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1',
        '-p', $env->pg_port, '-U', 'postgres', '-d', 'racing'
        or die "psql: $!";
    $first->autoflush(1);
    print $first "BEGIN;\nLOCK TABLE bbtoken_schema IN EXCLUSIVE MODE;\n";
    my $locked = "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
               . " WHERE d.datname = 'racing' AND l.relation = 'bbtoken_schema'::regclass"
               . " AND l.mode = 'ExclusiveLock' AND l.granted";
    for (1 .. 600) { last if $env->psql($locked, db => 'racing'); select undef, undef, undef, 0.1 }
    is($env->psql($locked, db => 'racing'), 1, 'the first holds the lock');
    # The second, meanwhile.
    my $done = upgrade_waiting('racing');
    print $first "\\i $ROOT/sql/migrations/$_.sql\n" for @LATER;
    print $first "COMMIT;\n";
    ok(close($first), 'the first upgrade commits');
    my ($rc, $stdout, $stderr) = $done->();
    is($rc, 0, 'the second exits 0') or diag $stderr;
    is($stdout, "schema version: $LATEST (already up to date)\n", 'and says it applied nothing');
    is($env->psql('SELECT max(version) FROM bbtoken_schema', db => 'racing'), $LATEST, "at version $LATEST");
};

subtest 'two db upgrade --init at once: the second waits for all of the first, and exits 0' => sub {
    # The first is held where it makes table $table: an event trigger of the
    # database's waits there for a lock a session of the test's holds.  In
    # 0001 no other session sees its tables yet; in 0002 they see version 1,
    # a schema the second must not take for one that was there before it.
    my $n = 0;
    for my $c (['bbtoken_users', 'in its first migration', 'no schema yet'],
               ['bbtoken_audit', 'in its second migration', 'version 1']) {
        my ($table, $where, $seen) = @$c;
        my $db = 'initrace' . ++$n;
        note "the first held $where";
        psql_script($env, $db, create_db($db) . <<"EOS");
CREATE FUNCTION public.hold() RETURNS event_trigger LANGUAGE plpgsql AS \$\$
BEGIN
    IF EXISTS (SELECT FROM pg_event_trigger_ddl_commands()
               WHERE object_identity = 'public.$table') THEN
        PERFORM pg_advisory_xact_lock_shared(4711);
    END IF;
END \$\$;
CREATE EVENT TRIGGER hold ON ddl_command_end EXECUTE FUNCTION public.hold();
EOS
        my $hold = $env->pg_session("hold$n");
        $hold->send("\\c $db")->send('SELECT pg_advisory_lock(4711);');
        ok($hold->done, 'the test holds the lock the event trigger waits for');
        my ($pid1, $first) = upgrade_started($db, '--init');
        ok(cli_waiting($db, 1, $pid1), "the first waits for it $where");
        is($env->psql("SELECT CASE WHEN to_regclass('public.bbtoken_schema') IS NULL"
                      . " THEN 'no schema yet' END", db => $db)
           || 'version ' . $env->psql('SELECT max(version) FROM bbtoken_schema', db => $db),
           $seen, "others see $seen");
        my ($pid2, $second) = upgrade_started($db, '--init');
        ok(cli_waiting($db, 2, $pid2), 'the second waits too');
        $hold->send('SELECT pg_advisory_unlock(4711);');
        $hold->finish;
        my ($rc, $stdout, $stderr) = $first->();
        is($rc, 0, 'the first exits 0') or diag $stderr;
        is($stdout, join('', map {"applied $_\n"} '0001_initial', @LATER) . "schema version: $LATEST\n",
           'and applied every migration');
        ($rc, $stdout, $stderr) = $second->();
        is($rc, 0, 'the second exits 0') or diag $stderr;
        is($stdout, "schema version: $LATEST (already up to date)\n", 'and says it applied nothing');
        is($env->psql('SELECT max(version) FROM bbtoken_schema', db => $db), $LATEST, "at version $LATEST");
    }
};

subtest 'db upgrade --init refuses a schema that was there, with another --init looking at once' => sub {
    # One that finds a schema looks holding the lock of --init shared
    # (cli/cmd_db.c, BBTOKEN_INIT_LOCK): another's look does not pass
    # for an --init making the schema, which it would wait for.
    my $look = $env->pg_session('look');
    $look->send("\\c racing")->send('SELECT pg_advisory_lock_shared(27692799942681966);');
    ok($look->done, 'a look holds it');
    my ($rc, $out, $err) = cli_db($env, 'racing', 'db', 'upgrade', '--init');
    is($rc, 1, 'refused, exit 1');
    is($err, "bbtoken: --init: this database has a mod_bbtoken schema already (version $LATEST)\n", '  in words');
    $look->finish;
};

done_testing;
