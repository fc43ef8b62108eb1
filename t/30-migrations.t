# Schema upgrades (issue 3).  A database made by the previous release
# (sql/migrations/0001_initial.sql is that release's sql/schema.sql, kept as
# it was) with users, grants and tokens made the way that release made them
# (rows inserted by SQL, tokens hashed here as its CLI hashed them), is
# upgraded in place by `bbtoken db upgrade`: no data lost, the old tokens
# still authenticate through httpd.  Also: db status, upgrading twice,
# --init, two upgrades at once, a failing migration changing nothing, the
# CLI refusing a database at another version, sql/schema.sql making
# exactly the schema that the upgrade makes, and so does the upgrade from
# databases at later versions holding rows of every kind.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA;
use POSIX ();
use BBT::Env qw(run_cmd);
use BBT::Assert;

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
my @LATER = map { m{/(\d{4}_\w+)\.sql\z} ? $1 : () } sort glob "$ROOT/sql/migrations/0*.sql";
shift @LATER;
my ($LATEST) = $LATER[-1] =~ /^0*(\d+)_/;

sub conninfo { $env->superuser_conninfo($_[0]) }
sub cli_db { my ($db, @a) = @_; return $env->cli_raw('--db', conninfo($db), @a) }
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
# Run psql script $text (saved as scratch/$name.sql), connected first to
# the database postgres: one psql where there would be several (each is a
# process and a connection, a fifth of a second and more on a busy
# machine).  Each statement commits on its own, as with one psql each.
sub psql_script {
    my ($name, $text) = @_;
    my $file = $env->dir . "/scratch/$name.sql";
    BBT::Util::spew($file, $text);
    $env->psql(undef, db => 'postgres', file => $file);
}
# What psql runs to make new database $db: CREATE DATABASE with $how after
# the name, then a connection to it.
sub create_db { my ($db, $how) = @_; return "CREATE DATABASE $db" . ($how ? " $how" : '') . ";\n\\c $db\n" }
# What psql runs to give httpd's roles their grants in the database it is
# connected to (sql/grants.sql and sql/grants-api.sql), as the README says
# to after an upgrade.
my $GRANTS = "\\set role bbtoken_httpd\n\\i $ROOT/sql/grants.sql\n"
           . "\\set role bbtoken_api\n\\i $ROOT/sql/grants-api.sql\n";
# A new database $db as the release of version $v made it (sql/schema.sql of
# the day: the migrations up to $v); CREATE DATABASE takes $how after the
# name.  The version it is at.
sub db_at {
    my ($db, $v, $how) = @_;
    my @upto = grep { m{/(\d{4})_} && $1 <= $v } sort glob "$ROOT/sql/migrations/0*.sql";
    psql_script($db, join '', create_db($db, $how), "\\ir $upto[0]\n",
                map {"BEGIN;\n\\ir $_\nCOMMIT;\n"} @upto[1 .. $#upto]);
    my ($at) = $upto[-1] =~ m{/0*(\d+)_};
    return $at;
}

# `bbtoken db upgrade @args` on $db, started while another session holds
# the lock it needs: once it waits for that lock, a sub that gives its exit
# status, stdout and stderr when it has ended.
sub upgrade_waiting {
    my ($db, @args) = @_;
    my $out = $env->dir . "/run/$db.out";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', $out or die $!;
        open STDERR, '>', "$out.err" or die $!;
        exec $env->cli_path, '--db', conninfo($db), 'db', 'upgrade', @args or die "exec: $!";
    }
    my $waits = "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db'"
              . " AND application_name = 'bbtoken' AND wait_event_type = 'Lock'";
    for (1 .. 600) { last if $env->psql($waits, db => 'postgres'); select undef, undef, undef, 0.1 }
    is($env->psql($waits, db => 'postgres'), 1, 'the second waits for it');
    return sub {
        waitpid $pid, 0;
        my $rc = $? >> 8;
        my $stdout = do { local (@ARGV, $/) = $out; <> };
        my $stderr = do { local (@ARGV, $/) = "$out.err"; <> };
        return ($rc, $stdout, $stderr);
    };
}

my $SNAP = "SELECT id, user_id, name, project_perm, repo_perm, salt, secret_hash, created_at, expires_at, "
         . "last_authenticated, revoked_at FROM bbtoken_tokens ORDER BY id";
my $SNAP_OTHER = "SELECT u.id, u.name, u.active, u.is_admin, u.created_at, "
               . "(SELECT string_agg(project_key || ' ' || permission, ',' ORDER BY 1) FROM bbtoken_project_grants g "
               . "WHERE g.user_id = u.id), (SELECT string_agg(project_key || '/' || repo_slug || ' ' || permission, "
               . "',' ORDER BY 1) FROM bbtoken_repo_grants g WHERE g.user_id = u.id) FROM bbtoken_users u ORDER BY id";

# ---- databases at earlier versions, upgraded ----------------------------
# Each in a database of its own, first: the sweeps they ask for then run
# while the rest of the test goes on.

subtest 'version 21: live tokens of, and grants on, a personal project without a user are gone after the upgrade' => sub {
    db_at('orphans', 20);
    $env->psql("INSERT INTO bbtoken_users (name) VALUES ('Alice')", db => 'orphans');
    # ~ghost's user was deleted, or never existed; ~alice's is Alice.
    $env->psql("INSERT INTO bbtoken_tokens (id, project_key, repo_slug, name, project_perm, repo_perm, salt,"
               . " secret_hash) VALUES ('300000000001', '~ghost', NULL, 'g', 'PROJECT_READ', 'REPO_READ',"
               . " repeat('a', 32), repeat('c', 64)), ('300000000002', '~ghost', 'x', 'g', NULL, 'REPO_READ',"
               . " repeat('a', 32), repeat('d', 64)), ('300000000003', '~alice', NULL, 'a', 'PROJECT_READ',"
               . " 'REPO_READ', repeat('a', 32), repeat('e', 64))", db => 'orphans');
    # Bob's grants on ~ghost, left by its deleted user, and on Alice's.
    $env->psql("INSERT INTO bbtoken_users (name) VALUES ('bob')", db => 'orphans');
    $env->psql("INSERT INTO bbtoken_project_grants (user_id, project_key, permission) SELECT id, k, 'PROJECT_READ'"
               . " FROM bbtoken_users, unnest(ARRAY['~ghost', '~alice']) k WHERE name = 'bob'", db => 'orphans');
    $env->psql("INSERT INTO bbtoken_repo_grants (user_id, project_key, repo_slug, permission)"
               . " SELECT id, k, 'x', 'REPO_WRITE' FROM bbtoken_users, unnest(ARRAY['~ghost', '~alice']) k"
               . " WHERE name = 'bob'", db => 'orphans');
    my ($rc, $out, $err) = cli_db('orphans', 'db', 'upgrade');
    is($rc, 0, 'db upgrade') or diag $err;
    is($env->psql("SELECT (SELECT string_agg(project_key, ',') FROM bbtoken_project_grants) || ' '"
                  . " || (SELECT string_agg(project_key || '/' || repo_slug, ',') FROM bbtoken_repo_grants)",
                  db => 'orphans'),
       '~alice ~alice/x', "bob's grants on ~ghost removed, on Alice's ~alice kept");
    is($env->psql("SELECT count(*) FROM bbtoken_audit WHERE event = 'ungranted' AND source = 'upgrade'",
                  db => 'orphans'),
       2, '  audited, by the upgrade');
    is($env->psql("SELECT string_agg(id || ' ' || (revoked_at IS NOT NULL), ',' ORDER BY id) FROM bbtoken_tokens",
                  db => 'orphans'),
       '300000000001 true,300000000002 true,300000000003 false', "~ghost's two revoked, Alice's ~alice kept");
    is($env->psql("SELECT string_agg(token_id || ' ' || source, ',' ORDER BY token_id) FROM bbtoken_audit"
                  . " WHERE event = 'revoked'", db => 'orphans'),
       '300000000001 upgrade,300000000002 upgrade', 'audited, by the upgrade');
};

# The invisible formatting characters (bbt_is_invisible), written out again.
my $INVISIBLE = '00AD 034F 061C 115F-1160 17B4-17B5 180E 200B-200F 2028-202E 2060-206F 3164 FEFF FFA0 FFF0-FFFB'
              . ' 1BCA0-1BCA3 1D173-1D17A E0000-E00FF E01F0-E0FFF';

# What bbtoken_token_name_problem says of "n" and each code point from
# U+0080 up, in $db, each given as its UTF-8 bytes whatever the database's
# encoding: "reason: ranges" per reason.  $rule, if given, is another rule
# of c (the code point as text) whose result is the reason or NULL.
sub name_rule_sweep {
    my ($db, $rule) = @_;
    $rule //= "bbtoken_token_name_problem('n' || c)";
    my $b = sub { "(128 + ((cp >> $_[0]) & 63))" };
    my $utf8 = "CASE WHEN cp < 2048 THEN decode(lpad(to_hex(((192 + (cp >> 6)) << 8) + ${\ $b->(0)}), 4, '0'), 'hex')"
             . " WHEN cp < 65536 THEN decode(lpad(to_hex(((224 + (cp >> 12)) << 16) + (${\ $b->(6)} << 8)"
             . " + ${\ $b->(0)}), 6, '0'), 'hex')"
             . " ELSE decode(lpad(to_hex(((240 + (cp >> 18))::bigint << 24) + (${\ $b->(12)} << 16)"
             . " + (${\ $b->(6)} << 8) + ${\ $b->(0)}), 8, '0'), 'hex') END";
    my $rows = $env->psql("SELECT cp, p FROM (SELECT cp, $rule p FROM generate_series(128, 1114111) cp,"
                          . " convert_from($utf8, getdatabaseencoding()) c"
                          . " WHERE cp NOT BETWEEN 55296 AND 57343) s WHERE p IS NOT NULL ORDER BY cp",
                          db => $db, sep => '|');
    my (%r, @order);
    for (split /\n/, $rows) {
        my ($cp, $why) = split /\|/;
        push @order, $why unless $r{$why};
        my $l = $r{$why} ||= [];
        if (@$l && $l->[-1][1] == $cp - 1) { $l->[-1][1] = $cp } else { push @$l, [$cp, $cp] }
    }
    return join '; ', map {
        my $why = $_;
        "$why: " . join ' ', map { $_->[0] == $_->[1] ? sprintf('%04X', $_->[0]) : sprintf('%04X-%04X', @$_) }
                                 @{ $r{$why} }
    } @order;
}

# A sweep is a million calls of the rule, seconds of one backend's time,
# and what it reads (the functions of a database no later subtest
# changes) is settled when it is asked for: it runs in a process of its
# own, one sweep after another, while the subtests go on, and the last
# subtest asserts what each found.  sweep_later($db, $rule, $want, $name)
# asks for is(name_rule_sweep($db, $rule), $want, $name).
my ($SWEEPER, @SWEEPS);
sub sweep_later {
    my ($db, $rule, $want, $name) = @_;
    if (!$SWEEPER) {
        my $pid = open($SWEEPER, '|-') // die "fork: $!";
        if (!$pid) {
            # One line per sweep: its result file, the database, the rule.
            while (my $line = <STDIN>) {
                chomp $line;
                my ($file, $d, $r) = split /\t/, $line, 3;
                my $found = eval { name_rule_sweep($d, $r eq '' ? undef : $r) } // "the sweep failed: $@";
                BBT::Util::spew("$file.part", $found);
                rename "$file.part", $file or die "$file: $!";
            }
            POSIX::_exit(0);    # none of the parent's END blocks or destructors
        }
        $SWEEPER->autoflush(1);
    }
    my $file = $env->dir . '/run/sweep-' . @SWEEPS;
    push @SWEEPS, [$file, $want, $name];
    print $SWEEPER join("\t", $file, $db, $rule // ''), "\n";
}

subtest 'version 22: invisible formatting characters leave names; a personal project\'s settings leave with its owner' => sub {
    db_at('invisible', 21);
    # Characters that reorder or hide text, in names version 21 took.
    $env->psql("INSERT INTO bbtoken_users (name, display_name) VALUES ('alice', E'Mallory \\u202enimda'),"
               . " ('bob', E'\\u200b'), ('carl', E'Carl \\u2714\\ufe0f')", db => 'invisible');
    $env->psql("INSERT INTO bbtoken_tokens (id, user_id, project_key, name, project_perm, repo_perm, salt, secret_hash)"
               . " SELECT '40000000000' || n, CASE WHEN n <> 4 THEN (SELECT id FROM bbtoken_users WHERE name = 'alice')"
               . " END, CASE WHEN n = 4 THEN 'PROJ' END, v, 'PROJECT_READ', 'REPO_READ', repeat('a', 32),"
               . " repeat(n::text, 64) FROM (VALUES (1, 'deploy-ci'), (2, E'deploy-ci\\u200b'),"
               . " (3, E'ci\\u202eyolped'), (4, E'\\u2066\\u2069'), (5, E'ok \\u2714\\ufe0f'),"
               . " (6, repeat('x', 250) || E'\\U000e0041')) t(n, v)", db => 'invisible');
    $env->psql("UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '400000000003'", db => 'invisible');
    $env->psql("INSERT INTO bbtoken_projects VALUES ('~ghost', false), ('~alice', false), ('PROJ', false)",
               db => 'invisible');
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE name ~ '[\\u200b\\u202e\\u2066\\U000e0041]'",
                  db => 'invisible'), 4, 'control: version 21 took four such token names');
    my ($rc, $out, $err) = cli_db('invisible', 'db', 'upgrade');
    is($rc, 0, 'db upgrade') or diag $err;
    my $x241 = 'x' x 241;
    is($env->psql("SELECT string_agg(id || '=' || name, ',' ORDER BY id) FROM bbtoken_tokens", db => 'invisible'),
       "400000000001=deploy-ci,400000000002=deploy-ci #400000000002,400000000003=ciyolped #400000000003,"
       . "400000000004=#400000000004,400000000005=ok \xe2\x9c\x94\xef\xb8\x8f,400000000006=$x241 #400000000006",
       'the characters are removed and the id appended (no two live names meet, 255 at most); a variation'
       . ' selector and clean names are kept');
    is($env->psql("SELECT string_agg(token_id, ',' ORDER BY token_id) FROM bbtoken_audit WHERE event = 'renamed'"
                  . " AND source = 'upgrade'", db => 'invisible'),
       '400000000002,400000000003,400000000004,400000000006', '  each rename audited, by the upgrade');
    is($env->psql("SELECT detail = E'''deploy-ci\\u200b'' -> ''deploy-ci #400000000002''' FROM bbtoken_audit"
                  . " WHERE event = 'renamed' AND token_id = '400000000002'", db => 'invisible'),
       't', '  with the old name as it was');
    ($rc, $out, $err) = cli_db('invisible', 'audit', '--token', '400000000003');
    ok($rc == 0 && $out =~ /'ci\?yolped' -> 'ciyolped #400000000003'/ && $out =~ /name 'ci\?yolped'/
       && $out !~ /\xe2\x80\xae/, '  which `bbtoken audit` shows with "?" for U+202E, in the rename and before it')
        or diag "exit $rc: $out$err";
    is($env->psql("SELECT string_agg(name || '=' || COALESCE(display_name, '-'), ',' ORDER BY name)"
                  . " FROM bbtoken_users", db => 'invisible'),
       "alice=Mallory nimda,bob=-,carl=Carl \xe2\x9c\x94\xef\xb8\x8f",
       'display names: the characters removed, none when nothing is left');
    is($env->psql("SELECT string_agg(user_name, ',' ORDER BY user_name) FROM bbtoken_audit"
                  . " WHERE event = 'user_details_changed' AND source = 'upgrade'", db => 'invisible'),
       'alice,bob', '  audited, by the upgrade');
    is($env->psql("SELECT string_agg(conname || ' ' || convalidated, ',' ORDER BY conname) FROM pg_constraint"
                  . " WHERE conname IN ('bbtoken_tokens_name', 'bbtoken_users_display_name')", db => 'invisible'),
       'bbtoken_tokens_name true,bbtoken_users_display_name true', 'both CHECKs hold for every row (not NOT VALID)');
    for my $c (["UPDATE bbtoken_tokens SET name = E'deploy\\u202eic' WHERE id = '400000000001'",
                qr/token name must not contain invisible formatting characters/],
               ["INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash)"
                . " SELECT '400000000007', id, E'\\ufeffci', 'PROJECT_READ', 'REPO_READ', repeat('a', 32),"
                . " repeat('7', 64) FROM bbtoken_users WHERE name = 'carl'",
                qr/token name must not contain invisible formatting characters/],
               ["UPDATE bbtoken_users SET display_name = E'Carl \\u2066x' WHERE name = 'carl'",
                qr/bbtoken_users_display_name/],
               ["INSERT INTO bbtoken_projects VALUES ('~nobody', true)", qr/personal project ~nobody has no user/]) {
        ($rc, $out, $err) = $env->psql_try($c->[0], db => 'invisible');
        ok($rc != 0 && $err =~ $c->[1], "refused: $c->[0]") or diag "exit $rc: $out$err";
    }
    is($env->psql("SELECT string_agg(project_key, ',' ORDER BY project_key) FROM bbtoken_projects",
                  db => 'invisible'),
       'PROJ,~alice', "~ghost's settings (no such user) deleted; alice's and PROJ's kept");
    is($env->psql("SELECT string_agg(user_name || ' ' || source, ',') FROM bbtoken_audit"
                  . " WHERE event = 'project_changed' AND detail = 'repository admins may manage repository tokens'",
                  db => 'invisible'),
       'project:~ghost upgrade', '  audited, by the upgrade');
    sweep_later('invisible', undef,
                "token name must not contain control characters: 0080-009F; token name must not contain"
                . " invisible formatting characters: $INVISIBLE",
                'every code point from U+0080: the database refuses the C1 controls and the invisible'
                . ' characters, and nothing else, as bbt_input_token_name');
};

# An owner's level on target (t.k, t.s) read from u's level map as httpd
# reads it (mod_bbtoken/bbt_levelmap.c): the largest of the entries "*",
# key and key/slug.
our $MAP_LEVEL = "(SELECT COALESCE(max(split_part(e, ':', 2)::integer), 0)"
    . " FROM unnest(string_to_array(bbtoken_owner_level_map(u), ' ')) e"
    . " WHERE t.k IS NOT NULL AND split_part(e, ':', 1) IN ('*', t.k, t.k || '/' || t.s))";

subtest 'version 23: each grant keeps its level; every owner\'s level is what it was' => sub {
    db_at('levels', 22);
    $env->psql("INSERT INTO bbtoken_users (name, active, is_admin) VALUES ('alice', true, false),"
               . " ('Bob', true, false), ('carol', false, false), ('root', true, true)", db => 'levels');
    $env->psql("INSERT INTO bbtoken_project_grants SELECT u.id, g.k, g.p FROM bbtoken_users u JOIN (VALUES"
               . " ('alice', 'PROJ', 'PROJECT_WRITE'), ('Bob', '~alice', 'PROJECT_READ'),"
               . " ('carol', 'PROJ', 'PROJECT_ADMIN'), ('Bob', 'OTHER', 'PROJECT_ADMIN')) g(n, k, p) ON u.name = g.n",
               db => 'levels');
    $env->psql("INSERT INTO bbtoken_repo_grants SELECT u.id, g.k, g.s, g.p FROM bbtoken_users u JOIN (VALUES"
               . " ('alice', 'PROJ', 'repo', 'REPO_ADMIN'), ('alice', 'OTHER', 'x', 'REPO_READ'),"
               . " ('Bob', 'PROJ', 'repo', 'REPO_WRITE'), ('Bob', 'OTHER', 'x', 'REPO_READ')) g(n, k, s, p)"
               . " ON u.name = g.n", db => 'levels');
    # Every user on every kind of target, by bbtoken_owner_levels and by the
    # level map httpd reads (version 26; before it, bbtoken_owner_level_of,
    # which it replaced).
    my $v22_level = "bbtoken_owner_level_of(u, t.k, t.s)";
    my $levels = "SELECT string_agg(u.name || ' ' || COALESCE(t.k, '-') || '/' || COALESCE(t.s, '-') || '='"
               . " || (SELECT l.level FROM bbtoken_owner_levels(u, t.k, t.s) l) || ','"
               . " || $MAP_LEVEL, ' ' ORDER BY u.name, t.k, t.s)"
               . " FROM bbtoken_users u, (VALUES ('PROJ', NULL), ('PROJ', 'repo'), ('PROJ', 'other'),"
               . " ('OTHER', NULL), ('OTHER', 'x'), ('~alice', NULL), ('~alice', 'x'), ('~bob', NULL),"
               . " (NULL, NULL)) t(k, s)";
    my $before = $env->psql($levels =~ s/\Q$MAP_LEVEL\E/$v22_level/r, db => 'levels');
    my @t = ('OTHER/x', 'OTHER/-', 'PROJ/other', 'PROJ/repo', 'PROJ/-', '~alice/x', '~alice/-', '~bob/-', '-/-');
    my %want = (Bob => [3, 3, 0, 2, 0, 1, 1, 3, 0], alice => [1, 0, 2, 3, 2, 3, 3, 0, 0],
                carol => [(0) x 9], root => [(3) x 8, 0]);
    is($before, join(' ', map { my $n = $_; map {"$n $t[$_]=$want{$n}[$_],$want{$n}[$_]"} 0 .. $#t }
                              qw(Bob alice carol root)),
       'control: version 22 computes them (grants, the personal project\'s owner, an admin, a disabled user)');
    my ($rc, $out, $err) = cli_db('levels', 'db', 'upgrade');
    is($rc, 0, 'db upgrade') or diag $err;
    is($env->psql($levels, db => 'levels'), $before, 'every owner\'s level on every target is what it was');
    is($env->psql("SELECT count(*) FROM (SELECT permission, perm_level FROM bbtoken_project_grants UNION ALL"
                  . " SELECT permission, perm_level FROM bbtoken_repo_grants) g"
                  . " WHERE g.perm_level IS DISTINCT FROM bbtoken_perm_level(g.permission)", db => 'levels'),
       0, 'each grant\'s perm_level is its permission\'s level');
    $env->psql("UPDATE bbtoken_repo_grants SET permission = 'REPO_READ' WHERE project_key = 'PROJ'"
               . " AND user_id = (SELECT id FROM bbtoken_users WHERE name = 'alice')", db => 'levels');
    $env->psql("INSERT INTO bbtoken_project_grants VALUES ((SELECT id FROM bbtoken_users WHERE name = 'Bob'),"
               . " 'PROJ', 'PROJECT_ADMIN')", db => 'levels');
    is($env->psql("SELECT string_agg(u.name || '=' || l.level, ' ' ORDER BY u.name) FROM bbtoken_users u,"
                  . " bbtoken_owner_levels(u, 'PROJ', 'repo') l", db => 'levels'),
       'Bob=3 alice=2 carol=0 root=3', 'a grant changed or made (by a plain INSERT) is read at its new level');
    ($rc, $out, $err) = $env->psql_try("UPDATE bbtoken_project_grants SET perm_level = 3", db => 'levels');
    ok($rc != 0 && $err =~ /generated column/, 'perm_level cannot be written') or diag "exit $rc: $out$err";
};

# bbtoken_valid_email of "a" c "@b", as name_rule_sweep's rule.
my $EMAIL_RULE = "CASE WHEN NOT bbtoken_valid_email('a' || c || '\@b') THEN 'refused' END";

subtest 'version 25: no invisible formatting character in an e-mail address' => sub {
    # An address is shown to administrators and mailed to by notify: what
    # reorders or hides text makes it read as another address.
    db_at('invmail', 24);
    $env->psql("INSERT INTO bbtoken_users (name, email) VALUES ('alice', E'alice\@corp\\u202eelpmaxe.'),"
               . " ('bob', E'b\\u200bob\@corp.example'), ('carl', E'carl\@corp.example\\U000e0041'),"
               . " ('dave', 'dave\@corp.example'), ('erin', E'erin\\u2714\\ufe0f\@corp.example'), ('fred', NULL)",
               db => 'invmail');
    is($env->psql("SELECT count(*) FROM bbtoken_users WHERE email ~ '[\\u200b\\u202e\\U000e0041]'", db => 'invmail'),
       3, 'control: version 24 took three such addresses');
    my ($rc, $out, $err) = cli_db('invmail', 'db', 'upgrade');
    is($rc, 0, 'db upgrade') or diag $err;
    is($env->psql("SELECT string_agg(name || '=' || COALESCE(email, '-'), ' ' ORDER BY name) FROM bbtoken_users",
                  db => 'invmail'),
       "alice=- bob=- carl=- dave=dave\@corp.example erin=erin\xe2\x9c\x94\xef\xb8\x8f\@corp.example fred=-",
       'the three became none; the others, a variation selector too, are as they were');
    is($env->psql("SELECT string_agg(user_name || ' ' || source || ' ' || detail, ', ' ORDER BY user_name)"
                  . " FROM bbtoken_audit WHERE event = 'user_details_changed'", db => 'invmail'),
       "alice upgrade e-mail none (was 'alice\@corp?elpmaxe.'), bob upgrade e-mail none (was 'b?ob\@corp.example'),"
       . " carl upgrade e-mail none (was 'carl\@corp.example?')",
       'recorded by the upgrade, each such character shown as "?"');
    is($env->psql("SELECT count(*) FROM bbtoken_audit WHERE detail ~ '[\\u200b\\u202e\\U000e0041]'",
                  db => 'invmail'), 0, 'none of them in the audit trail');
    is($env->psql("SELECT convalidated FROM pg_constraint WHERE conname = 'bbtoken_users_email'", db => 'invmail'),
       't', 'the CHECK holds for every row');
    for my $e ("E'dave\@corp\\u202eelpmaxe.'", "E'da\\u200bve\@corp.example'", "E'\\ufeffdave\@corp.example'") {
        ($rc, $out, $err) = $env->psql_try("UPDATE bbtoken_users SET email = $e WHERE name = 'dave'",
                                           db => 'invmail');
        ok($rc != 0 && $err =~ /bbtoken_users_email/, "refused from then on: $e") or diag "exit $rc: $out$err";
    }
    sweep_later('invmail', $EMAIL_RULE, "refused: 0080-009F $INVISIBLE",
                'every code point from U+0080: the database refuses the C1 controls and the invisible'
                . ' characters in an address, as bbt_input_email does, and nothing else');
};

subtest 'SQL_ASCII: a control character is read as the database stores it, and other characters pass' => sub {
    # What initdb makes under the C locale without -E: the database holds
    # the CLI's UTF-8 bytes as they come, and its regular expressions read
    # bytes.  A C1 control is C2 80 to C2 9F there; a lone byte in 80 to
    # 9F is part of another character (S with acute, C5 9A), which the old
    # rules refused as a control: a display name, a token name, and (with
    # the new rule read as in UTF8) an address.
    my ($S, $s, $nel) = ("\xc5\x9a", "\xc5\x9b", "\xc2\x85");
    db_at('ascii', 19, "ENCODING 'SQL_ASCII' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'");
    is($env->psql('SELECT getdatabaseencoding()', db => 'ascii'), 'SQL_ASCII', 'control: the database is SQL_ASCII');
    $env->psql("INSERT INTO bbtoken_users (name, email) VALUES ('zofia', '${s}liwa\@example.pl'),"
               . " ('bad', 'bad${nel}x\@example.pl'), ('ok', 'ok\@example.pl')", db => 'ascii');
    my ($rc, $out, $err) = cli_db('ascii', 'db', 'upgrade');
    is($rc, 0, 'db upgrade') or diag $err;
    is($env->psql("SELECT string_agg(name || '=' || COALESCE(email, '-'), ' ' ORDER BY name) FROM bbtoken_users",
                  db => 'ascii'),
       "bad=- ok=ok\@example.pl zofia=${s}liwa\@example.pl",
       'the address with a control became none; one with a non-ASCII letter is kept');
    is($env->psql("SELECT detail FROM bbtoken_audit WHERE event = 'user_details_changed'", db => 'ascii'),
       "e-mail none (was 'bad?x\@example.pl')", '  recorded, the control (both its bytes) as "?"');
    ($rc, $out, $err) = cli_db('ascii', 'user', 'set', 'zofia', '--display-name', "Zofia ${S}liwa");
    is($rc, 0, "user set --display-name 'Zofia Sliwa' (S with acute)") or diag $err;
    ($rc, $out, $err) = cli_db('ascii', 'user', 'set', 'ok', '--email', "${s}\@example.pl");
    is($rc, 0, 'user set --email with a non-ASCII letter') or diag $err;
    ($rc, $out, $err) = cli_db('ascii', 'create', 'zofia', '--name', "${S}liwa laptop");
    is($rc, 0, "create --name 'Sliwa laptop' (S with acute)") or diag $err;
    for my $sql ("UPDATE bbtoken_users SET display_name = 'Zofia${nel}' WHERE name = 'zofia'",
                 "UPDATE bbtoken_users SET email = 'ok${nel}\@example.pl' WHERE name = 'ok'",
                 "UPDATE bbtoken_tokens SET name = 'laptop${nel}'") {
        ($rc, $out, $err) = $env->psql_try($sql, db => 'ascii');
        ok($rc != 0 && $err =~ /display_name|users_email|control characters/, 'a C1 control is still refused')
            or diag "exit $rc: $out$err";
    }
    # The invisible formatting characters as their bytes: U+FEFF, U+202E,
    # U+200B; from before version 22, and from then on.
    db_at('ascii21', 21, "ENCODING 'SQL_ASCII' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'");
    $env->psql("INSERT INTO bbtoken_users (name, display_name) VALUES ('ok', 'O\xef\xbb\xbfK')", db => 'ascii21');
    $env->psql("INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash)"
               . " SELECT '500000000001', id, 'laptop\xe2\x80\xae', 'PROJECT_READ', 'REPO_READ', repeat('a', 32),"
               . " repeat('c', 64) FROM bbtoken_users", db => 'ascii21');
    ($rc, $out, $err) = cli_db('ascii21', 'db', 'upgrade');
    is($rc, 0, 'db upgrade of a database in SQL_ASCII at version 21') or diag $err;
    is($env->psql("SELECT display_name || ',' || (SELECT name FROM bbtoken_tokens) FROM bbtoken_users",
                  db => 'ascii21'), 'OK,laptop #500000000001',
       '  the characters, as their bytes, removed from a display name and a token name');
    for my $sql ("UPDATE bbtoken_users SET display_name = 'Zofia\xe2\x80\xae' WHERE name = 'zofia'",
                 "UPDATE bbtoken_tokens SET name = 'laptop\xe2\x80\x8b'") {
        ($rc, $out, $err) = $env->psql_try($sql, db => 'ascii');
        ok($rc != 0 && $err =~ /display_name|invisible formatting characters/,
           'an invisible formatting character is refused as its bytes') or diag "exit $rc: $out$err";
    }
    sweep_later('ascii', undef,
                "token name must not contain control characters: 0080-009F; token name must not contain"
                . " invisible formatting characters: $INVISIBLE",
                'SQL_ASCII: every code point from U+0080 as its UTF-8 bytes: the same refusals as in UTF8');
    # An address, likewise from before version 25 and from then on.
    db_at('ascii24', 24, "ENCODING 'SQL_ASCII' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'");
    $env->psql("INSERT INTO bbtoken_users (name, email) VALUES ('rlo', 'rlo\@corp\xe2\x80\xae.example'),"
               . " ('zofia', '${s}liwa\@example.pl')", db => 'ascii24');
    ($rc, $out, $err) = cli_db('ascii24', 'db', 'upgrade');
    is($rc, 0, 'db upgrade of a database in SQL_ASCII at version 24') or diag $err;
    is($env->psql("SELECT string_agg(name || '=' || COALESCE(email, '-'), ' ' ORDER BY name) FROM bbtoken_users",
                  db => 'ascii24'), "rlo=- zofia=${s}liwa\@example.pl",
       '  the address with U+202E, as its bytes, became none; one with a non-ASCII letter is kept');
    is($env->psql("SELECT detail FROM bbtoken_audit WHERE event = 'user_details_changed'", db => 'ascii24'),
       "e-mail none (was 'rlo\@corp?.example')", '  recorded, the character (its three bytes) as "?"');
    sweep_later('ascii', $EMAIL_RULE, "refused: 0080-009F $INVISIBLE",
                'SQL_ASCII: every code point from U+0080 in an address, as its UTF-8 bytes: the same refusals'
                . ' as in UTF8');
};

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
    psql_script('fresh', create_db('fresh') . "\\i $ROOT/sql/schema.sql\n" . $GRANTS);
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
    my ($rc, $out, $err) = cli_db('empty', 'db', 'upgrade');
    ok($rc == 1 && $err =~ /no mod_bbtoken schema.*--init/, 'db upgrade on an empty database: refused') or diag $err;
    ($rc, $out, $err) = cli_db('empty', 'db', 'status');
    ok($rc == 1 && $err =~ /no mod_bbtoken schema/, 'db status on an empty database: exit 1') or diag $err;
    ($rc, $out, $err) = cli_db('empty', 'list', 'alice');
    ok($rc == 1 && $err =~ /no mod_bbtoken schema/, 'other commands: exit 1, say why') or diag $err;
    ($rc, $out, $err) = cli_db('empty', 'db', 'upgrade', '--init');
    is($rc, 0, 'db upgrade --init') or diag $err;
    is($out, join('', map {"applied $_\n"} '0001_initial', @LATER) . "schema version: $LATEST\n",
       'applies every migration');
    psql_script('empty-grants', "\\c empty\n$GRANTS");
    ok(dump_schema('empty') eq $b, '--init makes the same schema as sql/schema.sql');
    ($rc, $out, $err) = cli_db('empty', 'db', 'upgrade', '--init');
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
        my $at = db_at($db, $v);
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
                   . " 'alice\@example.com')" if $at >= 7;
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
        psql_script("$db-rows", "\\c $db\n"
                    . join '', map { /^SET session_replication_role/ ? "$_;\nRESET session_replication_role;\n"
                                                                     : "$_;\n" } @sql);
        my $tokens = "SELECT string_agg(id || ' ' || COALESCE(revoked_at::text, '-') || ' '"
                   . " || COALESCE(expires_at::text, '-'), ',' ORDER BY id) FROM bbtoken_tokens";
        my $before = $env->psql($tokens, db => $db);
        my ($rc, $out, $err) = cli_db($db, 'db', 'upgrade');
        is($rc, 0, "version $at: db upgrade") or diag $err;
        psql_script("$db-grants", "\\c $db\n$GRANTS");
        my $dump = dump_schema($db);
        ok($dump eq $fresh, "version $at: pg_dump --schema-only as a fresh one's (functions, triggers, grants,"
                            . " constraints)") or do {
            my @a = split /\n/, $fresh; my @b = split /\n/, $dump;
            for my $i (0 .. $#a) { if (($a[$i] // '') ne ($b[$i] // '')) { diag "line $i:\n< $a[$i]\n> " . ($b[$i] // ''); last } }
        };
        is($env->psql($tokens, db => $db), $before, "version $at: every token kept, revoked and expiry as they were");
        # httpd's listener believes its cache only while these eleven fire
        # (BBT710), for every session (ENABLE ALWAYS).
        is($env->psql("SELECT string_agg(tgrelid::regclass || ' ' || tgenabled::text, ',' ORDER BY tgname) FROM pg_trigger"
                      . " WHERE tgfoid = to_regproc('bbtoken_notify')", db => $db),
           'bbtoken_lookup A,bbtoken_lookup A,bbtoken_lookup A,'
           . 'bbtoken_project_grants A,bbtoken_project_grants A,bbtoken_repo_grants A,bbtoken_repo_grants A,'
           . 'bbtoken_tokens A,bbtoken_tokens A,bbtoken_users A,'
           . 'bbtoken_users A', "version $at: the notifying triggers fire always");
    }
};

subtest 'a failing migration changes nothing; a newer database is refused' => sub {
    $env->psql('CREATE DATABASE broken', db => 'postgres');
    $env->psql(undef, db => 'broken', file => "$ROOT/sql/migrations/0001_initial.sql");
    # Something in the way of migration 2, half way through it.
    $env->psql('CREATE TABLE bbtoken_policy (x integer)', db => 'broken');
    my ($rc, $out, $err) = cli_db('broken', 'db', 'upgrade');
    ok($rc == 1 && $err =~ /\Abbtoken: applying migration 0002_lifecycle: [^\n]*bbtoken_policy[^\n]*\n\z/,
       'db upgrade fails with one line naming the migration') or diag "exit $rc: $err";
    is($env->psql('SELECT version FROM bbtoken_schema', db => 'broken'), 1, 'still version 1');
    is($env->psql("SELECT to_regclass('bbtoken_audit') IS NULL", db => 'broken'), 't',
       'nothing of migration 2 is left (it ran in one transaction)');
    my $newer = $LATEST + 1;
    $env->psql("UPDATE bbtoken_schema SET version = $newer", db => 'broken');
    ($rc, $out, $err) = cli_db('broken', 'user', 'add', 'x');
    ok($rc == 1 && $err =~ /version $newer, newer/, 'a newer schema: refused') or diag $err;
    ($rc, $out, $err) = cli_db('broken', 'db', 'upgrade');
    ok($rc == 1 && $err =~ /newer/, 'db upgrade will not touch a newer schema') or diag $err;
};

subtest 'users who would share a slug stop the upgrade, which changes nothing' => sub {
    $env->psql('CREATE DATABASE clash', db => 'postgres');
    $env->psql(undef, db => 'clash', file => "$ROOT/sql/migrations/0001_initial.sql");
    $env->psql("INSERT INTO bbtoken_users (name) VALUES ('carol\@corp'), ('Carol_Corp'), ('dave')", db => 'clash');
    my ($rc, $out, $err) = cli_db('clash', 'db', 'upgrade');
    ok($rc == 1 && $err =~ /share a slug[^\n]*Carol_Corp, carol\@corp/, 'refused, naming the two users')
        or diag "exit $rc: $out$err";
    my ($v) = $env->psql('SELECT version FROM bbtoken_schema', db => 'clash');
    ok($v < 6, "left at version $v, before the slug");
    is($env->psql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'bbtoken_users'"
                  . " AND column_name = 'slug'", db => 'clash'), 0, 'no slug column');
    $env->psql("UPDATE bbtoken_users SET name = 'carol.c' WHERE name = 'Carol_Corp'", db => 'clash');
    ($rc, $out, $err) = cli_db('clash', 'db', 'upgrade');
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
    my $last = db_at('c1mail', 19);
    $env->psql("INSERT INTO bbtoken_users (name, email) VALUES ('erin', $c1), ('fred', 'fred\@example.com'),"
               . " ('gina', E'gina\@exa\\u0085mple.com'), ('hal', NULL)", db => 'c1mail');
    is($env->psql("SELECT count(*) FROM bbtoken_users WHERE email ~ '[\\u0080-\\u009f]'", db => 'c1mail'), 2,
       "control: version $last took two such addresses");
    my ($rc, $out, $err) = cli_db('c1mail', 'db', 'upgrade');
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

subtest 'two db upgrade --init at once: the second waits for the first\'s tables, and exits 0' => sub {
    # No table exists to lock before the first migration: db upgrade --init
    # takes a session lock of the database's first (cli/cmd_admin.c,
    # BBTOKEN_INIT_LOCK).  Without it the second made the tables too and
    # failed on the first's, exit 1, "the database refused the value".
    my $key = '27692799942681966';
    $env->psql('CREATE DATABASE initrace', db => 'postgres');
    open my $first, '|-', "$BBT::Env::PGBIN/psql", '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1',
        '-p', $env->pg_port, '-U', 'postgres', '-d', 'initrace', '-o', '/dev/null'
        or die "psql: $!";
    $first->autoflush(1);
    print $first "SELECT pg_advisory_lock($key);\n";
    my $locked = "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
               . " WHERE d.datname = 'initrace' AND l.locktype = 'advisory' AND l.granted";
    for (1 .. 600) { last if $env->psql($locked, db => 'postgres'); select undef, undef, undef, 0.1 }
    is($env->psql($locked, db => 'postgres'), 1, 'the first holds the lock');
    my $done = upgrade_waiting('initrace', '--init');
    print $first "\\i $ROOT/sql/migrations/0001_initial.sql\n";
    print $first "BEGIN;\n\\i $ROOT/sql/migrations/$_.sql\nCOMMIT;\n" for @LATER;
    print $first "SELECT pg_advisory_unlock($key);\n";
    ok(close($first), 'the first makes the schema');
    my ($rc, $stdout, $stderr) = $done->();
    is($rc, 0, 'the second exits 0') or diag $stderr;
    is($stdout, "schema version: $LATEST (already up to date)\n", 'and says it applied nothing');
    is($env->psql('SELECT max(version) FROM bbtoken_schema', db => 'initrace'), $LATEST, "at version $LATEST");
};

subtest 'every code point from U+0080, swept while the subtests above ran' => sub {
    ok(close($SWEEPER), 'the sweeps ended') if $SWEEPER;
    is(scalar @SWEEPS, 4, 'control: four were asked for');
    for my $s (@SWEEPS) {
        my ($file, $want, $name) = @$s;
        is(BBT::Util::slurp($file), $want, $name);
    }
};

done_testing;
