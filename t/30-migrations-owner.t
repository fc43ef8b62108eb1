# Whose code the CLI runs, and as whom `bbtoken db upgrade` migrates.  A
# session runs the code of whoever owns what it touches (a trigger on a
# table, a function or an operator its statements find) with its own
# rights, and SET ROLE does not change that (RESET ROLE is anyone's): so a
# session whose login is or may become a superuser runs only where no
# other role can reach the schema's namespace (create in it, own its
# functions, operators or our objects), and the migrations run as the
# tables' owner, each new object its.  Here a role that is no superuser
# owns a database and made its schema as release 0.2.0 did (version 3).
# A superuser's session is refused before anything of the schema's runs,
# whatever that role lays for it (a trigger, an operator the guard's own
# statements would find, a view in place of bbtoken_schema, the
# database's role setting); the owner's upgrade works, and everything
# stays the owner's.  An earlier upgrade's leftovers (objects of a
# superuser's) are given back by a superuser's upgrade and refused in
# words by the owner's; a role that is no superuser is never given
# anything of a superuser's, nor its objects given to one.  A member of
# the owner's role upgrades as the owner, in the tables' schema even
# where one is named after the owner; httpd's role is refused.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Migrations qw(latest_version);

my $ROOT = $BBT::Env::ROOT;
my $env = BBT::Env->new(httpd => 0)->start;
my $LATEST = latest_version();

$env->psql("CREATE ROLE bbowner LOGIN; CREATE ROLE ops LOGIN; GRANT bbowner TO ops;"
           . " CREATE ROLE bbtoken_httpd2 LOGIN");

# Database $db, owned by bbowner, at version 3 (0.2.0's schema.sql), made
# by bbowner.
sub owner_db {
    my ($db) = @_;
    $env->psql("CREATE DATABASE $db OWNER bbowner", db => 'postgres');
    my @upto = grep { m{/(\d{4})_} && $1 <= 3 } sort glob "$ROOT/sql/migrations/0*.sql";
    my $script = $env->dir . "/scratch/owner-$db.sql";
    BBT::Env::spew($script, join '', "\\ir $upto[0]\n", map {"BEGIN;\n\\ir $_\nCOMMIT;\n"} @upto[1 .. $#upto]);
    $env->psql(undef, db => $db, user => 'bbowner', file => $script);
}
owner_db('mixed');

sub cli_as { my ($user, $db, @args) = @_; $env->cli_as($user, $db || 'mixed', @args) }
sub upgrade { cli_as($_[0], $_[1], 'db', 'upgrade') }
sub version { $env->psql('SELECT max(version) FROM bbtoken_schema', db => $_[0] || 'mixed') }

# The schema's objects (named bbtoken_...) in schema $nsp (public) that a
# role other than $owner (bbowner) owns: "kind name owner" lines.
sub foreign {
    my ($db, $owner, $nsp) = @_;
    $db ||= 'mixed';
    $owner ||= 'bbowner';
    $nsp ||= 'public';
    return $env->psql(<<"EOS", db => $db);
SELECT coalesce(string_agg(x, E'\\n' ORDER BY x), '') FROM (
  SELECT 'rel ' || c.relname || ' ' || pg_get_userbyid(c.relowner) AS x FROM pg_class c
   WHERE c.relnamespace = '$nsp'::regnamespace AND c.relname LIKE 'bbtoken\\_%'
     AND pg_get_userbyid(c.relowner) <> '$owner'
  UNION ALL
  SELECT 'proc ' || p.proname || ' ' || pg_get_userbyid(p.proowner) FROM pg_proc p
   WHERE p.pronamespace = '$nsp'::regnamespace AND p.proname LIKE 'bbtoken\\_%'
     AND pg_get_userbyid(p.proowner) <> '$owner') f
EOS
}

sub owner_super { $env->psql("SELECT rolsuper FROM pg_roles WHERE rolname = 'bbowner'") }

subtest 'a superuser\'s session on the owner\'s schema: refused before it reads any of it' => sub {
    # The owner's trigger, on the table every migration writes, that would
    # make the owner a superuser if a superuser's session ran it.
    $env->psql(<<'EOS', db => 'mixed', user => 'bbowner');
CREATE TABLE probe (who text);
CREATE FUNCTION probe() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO probe VALUES (session_user);
    RESET ROLE;
    EXECUTE 'ALTER ROLE bbowner SUPERUSER';
    RETURN NEW;
EXCEPTION WHEN insufficient_privilege THEN
    RETURN NEW;
END $$;
CREATE TRIGGER zz_probe BEFORE UPDATE ON bbtoken_schema FOR EACH ROW EXECUTE FUNCTION probe();
EOS
    for my $args (['db', 'upgrade'], ['db', 'status'], ['list', '--all']) {
        my ($rc, $out, $err) = cli_as('postgres', undef, @$args);
        is($rc, 1, "@$args as postgres: exit 1");
        like($err, qr/^bbtoken: the schema's tables belong to role bbowner, which is no superuser: .*; connect as bbowner or a member of its role that is no superuser and may not become one \(no CREATEROLE, nor pg_execute_server_program, pg_write_server_files or pg_read_server_files, nor a function of theirs or dblink_connect_u granted\)\n\z/,
             '  says why, in one line') or diag $err;
    }
    is(version(), 3, 'nothing migrated');
    is(owner_super(), 'f', 'the owner is no superuser');
    is($env->psql('SELECT count(*) FROM probe', db => 'mixed'), 0, 'the owner\'s trigger never ran');
    $env->psql('DROP TRIGGER zz_probe ON bbtoken_schema; DROP FUNCTION probe(); DROP TABLE probe',
               db => 'mixed', user => 'bbowner');
};

subtest 'the owner upgrades: everything stays the owner\'s' => sub {
    my ($rc, $out, $err) = upgrade('bbowner');
    is($rc, 0, 'upgraded') or diag $err;
    like($out, qr/schema version: $LATEST\b/, "to version $LATEST");
    is(foreign(), '', 'every table and function is the owner\'s');
    my ($grc, undef, $gerr) = $env->psql_try(undef, db => 'mixed', user => 'bbowner',
                                             vars => ['role=bbtoken_httpd2'],
                                             file => "$ROOT/sql/grants.sql");
    is($grc, 0, 'grants.sql works as the owner') or diag $gerr;
};

subtest 'objects an earlier upgrade left to a superuser' => sub {
    $env->psql("ALTER FUNCTION bbtoken_perm_level(text) OWNER TO postgres;"
               . " ALTER TABLE bbtoken_lookup OWNER TO postgres", db => 'mixed');
    like(foreign(), qr/bbtoken_perm_level postgres/, 'a function left to postgres');
    my ($rc, $out, $err) = upgrade('bbowner');
    is($rc, 1, 'the owner\'s upgrade stops');
    like($err, qr/^bbtoken: 2 of the schema's objects belong to role postgres, not to bbowner, the owner of its tables: run db upgrade once as a superuser, which gives them to the owner\n\z/,
         'and says why, in one line') or diag $err;
    ($rc, $out, $err) = upgrade('postgres');
    is($rc, 1, 'a superuser\'s upgrade gives them back, then stops');
    like($out, qr/^gave 2 of the schema's objects that superusers owned to bbowner, the owner of its tables$/m,
         '  and says what it gave back') or diag $out;
    like($err, qr/connect as bbowner or a member of its role that is no superuser and may not become one \(no CREATEROLE, nor pg_execute_server_program, pg_write_server_files or pg_read_server_files, nor a function of theirs or dblink_connect_u granted\)\n\z/, '  and whom to connect as') or diag $err;
    is(foreign(), '', 'all the owner\'s again');
    ($rc, $out, $err) = upgrade('bbowner');
    is($rc, 0, 'the owner\'s upgrade works again') or diag $err;
};

subtest 'a superuser\'s schema that a role that is no superuser can reach' => sub {
    # The environment's own database: postgres owns it all.
    for my $c (['ALTER FUNCTION bbtoken_perm_level(text) OWNER TO bbowner',
                'ALTER FUNCTION bbtoken_perm_level(text) OWNER TO postgres', 'owns a function there'],
               ['GRANT CREATE ON SCHEMA public TO bbowner', 'REVOKE CREATE ON SCHEMA public FROM bbowner',
                'may create objects there']) {
        my ($do, $undo, $says) = @$c;
        $env->psql($do);
        for my $args (['list', '--all'], ['db', 'upgrade']) {
            my ($rc, $out, $err) = cli_as('postgres', 'bbtoken', @$args);
            is($rc, 1, "$do: @$args as postgres: refused");
            like($err, qr/^bbtoken: role bbowner, which is no superuser, \Q$says\E \(schema public\): /,
                 '  says why') or diag $err;
            unlike($out, qr/gave/, '  and gives no one anything');
        }
        is($env->psql("SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE proname = 'bbtoken_perm_level'"),
           $do =~ /OWNER/ ? 'bbowner' : 'postgres', '  nothing of a role that is no superuser adopted');
        $env->psql($undo);
        my ($rc, $out, $err) = cli_as('postgres', 'bbtoken', 'list', '--all');
        is($rc, 0, "  $undo: list --all works again") or diag $err;
    }
};

# Functions of bbowner's that make bbowner a superuser when a superuser's
# session runs them, and say so in table probe.
my $LAY = <<'EOS';
CREATE TABLE IF NOT EXISTS probe (what text);
GRANT INSERT ON probe TO PUBLIC;
CREATE OR REPLACE FUNCTION lay(what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = session_user) THEN
        INSERT INTO probe VALUES (what);
        RESET ROLE;
        EXECUTE 'ALTER ROLE bbowner SUPERUSER';
    END IF;
END $$;
EOS
sub probes { $env->psql('SELECT count(*) FROM probe', db => $_[0]) }

subtest 'what the owner lays for a superuser\'s session never runs' => sub {
    $env->psql($LAY . <<'EOS', db => 'mixed', user => 'bbowner');
CREATE FUNCTION eq_oid_regclass(oid, regclass) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM lay('operator');
    RETURN $1 OPERATOR(pg_catalog.=) $2::oid;
END $$;
CREATE OPERATOR public.= (LEFTARG = oid, RIGHTARG = regclass, FUNCTION = eq_oid_regclass);
EOS
    for my $args (['db', 'status'], ['db', 'upgrade'], ['list', '--all']) {
        my ($rc, $out, $err) = cli_as('postgres', undef, @$args);
        is($rc, 1, "an operator the statements would find: @$args refused");
    }
    $env->psql('ALTER DATABASE mixed SET role = bbowner', db => 'postgres');
    my ($rc, $out, $err) = cli_as('postgres', undef, 'list', '--all');
    is($rc, 1, 'the database\'s role setting: still a superuser\'s session, refused');
    like($err, qr/belong to role bbowner, which is no superuser/, '  in words') or diag $err;
    $env->psql('ALTER DATABASE mixed RESET role', db => 'postgres');
    is(probes('mixed'), 0, 'nothing of the owner\'s ran in a superuser\'s session');
    is(owner_super(), 'f', 'the owner is no superuser');
    $env->psql('DROP OPERATOR public.= (oid, regclass); DROP FUNCTION eq_oid_regclass(oid, regclass)',
               db => 'mixed', user => 'bbowner');
};

subtest 'a database the owner may create in: no schema made or read there by a superuser' => sub {
    $env->psql('CREATE DATABASE fresh OWNER bbowner', db => 'postgres');
    my ($rc, $out, $err) = cli_as('postgres', 'fresh', 'db', 'upgrade', '--init');
    is($rc, 1, '--init as postgres: refused');
    like($err, qr/role bbowner, which is no superuser, may create objects there \(schema public\)/, '  says why')
        or diag $err;
    is($env->psql("SELECT to_regclass('bbtoken_schema') IS NULL", db => 'fresh'), 't', '  nothing made');
    # bbtoken_schema as the owner's view, over the owner's function.
    $env->psql($LAY . <<'EOS', db => 'fresh', user => 'bbowner');
CREATE FUNCTION v() RETURNS integer LANGUAGE plpgsql AS $$ BEGIN PERFORM lay('view'); RETURN 51; END $$;
CREATE VIEW bbtoken_schema AS SELECT v() AS version;
EOS
    for my $args (['db', 'status'], ['db', 'upgrade'], ['db', 'upgrade', '--init']) {
        ($rc, $out, $err) = cli_as('postgres', 'fresh', @$args);
        is($rc, 1, "a view in place of bbtoken_schema: @$args refused");
    }
    is(probes('fresh'), 0, 'the view\'s function never ran in a superuser\'s session');
    is(owner_super(), 'f', 'the owner is no superuser');
};

subtest 'a database whose owner is no superuser: its schemas and pg_database_owner\'s objects' => sub {
    $env->psql('CREATE DATABASE fresh2 OWNER bbowner', db => 'postgres');
    my $init = sub { cli_as('postgres', 'fresh2', 'db', 'upgrade', '--init') };
    # "$user": a schema named after the superuser, first in its path.
    $env->psql('CREATE SCHEMA postgres', db => 'fresh2', user => 'bbowner');
    my ($rc, $out, $err) = $init->();
    is($rc, 1, 'a schema the owner made, named postgres: --init refused');
    like($err, qr/role bbowner, which is no superuser, (owns the schema|may create objects there) \(schema postgres\)/,
         '  in words')
        or diag $err;
    $env->psql('DROP SCHEMA postgres', db => 'fresh2', user => 'bbowner');
    # public, pg_database_owner's: the database's owner's, whatever it may
    # create there now.
    $env->psql('REVOKE CREATE ON SCHEMA public FROM pg_database_owner', db => 'fresh2');
    ($rc, $out, $err) = $init->();
    is($rc, 1, 'public, pg_database_owner\'s, CREATE revoked: --init refused');
    like($err, qr/role pg_database_owner, which is no superuser, owns the schema \(schema public\)/,
         '  in words') or diag $err;
    # public a superuser's, an operator pg_database_owner's in it.
    $env->psql(<<'EOS', db => 'fresh2');
ALTER SCHEMA public OWNER TO postgres;
CREATE FUNCTION public.eq_oid_regclass(oid, regclass) RETURNS boolean LANGUAGE sql
    AS 'SELECT $1 OPERATOR(pg_catalog.=) $2::oid';
CREATE OPERATOR public.= (LEFTARG = oid, RIGHTARG = regclass, FUNCTION = public.eq_oid_regclass);
ALTER FUNCTION public.eq_oid_regclass(oid, regclass) OWNER TO pg_database_owner;
ALTER OPERATOR public.= (oid, regclass) OWNER TO pg_database_owner;
EOS
    ($rc, $out, $err) = $init->();
    is($rc, 1, 'an operator of pg_database_owner\'s: --init refused');
    like($err, qr/role pg_database_owner, which is no superuser, owns (a function|an operator) there/, '  in words')
        or diag $err;
    is($env->psql("SELECT to_regclass('bbtoken_schema') IS NULL", db => 'fresh2'), 't', 'nothing made so far');
    $env->psql('DROP OPERATOR public.= (oid, regclass); DROP FUNCTION public.eq_oid_regclass(oid, regclass)',
               db => 'fresh2');
    ($rc, $out, $err) = $init->();
    is($rc, 0, 'public a superuser\'s, no one else may create there: --init works') or diag $err;
    is($env->psql("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'public.bbtoken_schema'::regclass",
                  db => 'fresh2'), 'postgres', '  the tables are postgres\'s, in public');
};

subtest 'a superuser\'s tables that another role may put triggers on or refer to' => sub {
    # The environment's own database (postgres's, README's install); a
    # role of a reporting tool, say, with a schema of its own.
    $env->psql('CREATE ROLE rep LOGIN; CREATE SCHEMA rep AUTHORIZATION rep; GRANT CONNECT ON DATABASE bbtoken TO rep;'
               . ' CREATE ROLE dba LOGIN IN ROLE postgres');
    my $refused = sub {
        my ($what, $says) = @_;
        my ($rc, $out, $err) = cli_as('postgres', 'bbtoken', 'user', 'show', 'bbtoken-nobody');
        is($rc, 1, "$what: a superuser's session refused");
        like($err, qr/^bbtoken: role rep, which is no superuser, \Q$says\E/, '  in words') or diag $err;
    };
    my $works = sub {
        my ($what) = @_;
        my ($rc, $out, $err) = cli_as('postgres', 'bbtoken', 'db', 'status');
        is($rc, 0, "$what: a superuser's session goes on") or diag $err;
    };
    $works->('a member of a superuser role exists');
    my ($rc, $out, $err) = cli_as('dba', 'bbtoken', 'db', 'status');
    is($rc, 0, '  and its own session goes on, guarded') or diag $err;
    $env->psql('GRANT TRIGGER ON bbtoken_users TO rep');
    $refused->('TRIGGER on a table', 'may put a trigger on or refer to bbtoken_users');
    $env->psql('REVOKE TRIGGER ON bbtoken_users FROM rep; GRANT REFERENCES ON bbtoken_project_grants TO rep');
    $refused->('REFERENCES on a table', 'may put a trigger on or refer to bbtoken_project_grants');
    $env->psql(<<'EOS', user => 'rep');
CREATE TABLE rep.t (u bigint, k text, FOREIGN KEY (u, k) REFERENCES public.bbtoken_project_grants ON DELETE CASCADE);
EOS
    $env->psql('REVOKE REFERENCES ON bbtoken_project_grants FROM rep');
    my $refused_fk = sub {
        my ($what, $table) = @_;
        my ($rc, $out, $err) = cli_as('postgres', 'bbtoken', 'user', 'show', 'bbtoken-nobody');
        is($rc, 1, "$what: a superuser's session refused");
        like($err, qr/^bbtoken: table \Q$table\E refers to bbtoken_project_grants \(schema public\): a cascade/,
             '  in words') or diag $err;
    };
    $refused_fk->('a table of its own referring to one', 'rep.t');
    $env->psql('DROP TABLE rep.t', user => 'rep');
    $works->('the table gone');
    # A superuser's table referring to one of ours, which another role may
    # put a trigger on: the cascade would run it.
    $env->psql('CREATE SCHEMA audit; CREATE TABLE audit.t (u bigint, k text,'
               . ' FOREIGN KEY (u, k) REFERENCES public.bbtoken_project_grants ON DELETE CASCADE)');
    $refused_fk->('a superuser\'s table referring to one', 'audit.t');
    $env->psql('DROP SCHEMA audit CASCADE');
    $works->('that table gone');
    # Default privileges: TRIGGER on the tables a migration makes later.
    $env->psql('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT TRIGGER ON TABLES TO rep');
    $refused->('default privileges', 'may put a trigger on or refer to the tables made there (default privileges)');
    $env->psql('ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE TRIGGER ON TABLES FROM rep');
    $works->('the default privilege gone');
    # An event trigger (DDL, a migration, fires it) on rep's function.
    $env->psql(<<'EOS');
CREATE FUNCTION rep.evt() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
ALTER FUNCTION rep.evt() OWNER TO rep;
CREATE EVENT TRIGGER zz_rep ON ddl_command_end EXECUTE FUNCTION rep.evt();
EOS
    $refused->('an event trigger', 'owns the function of the event trigger zz_rep');
    $env->psql('DROP EVENT TRIGGER zz_rep');
    $works->('the event trigger gone');
    $env->psql(<<'EOS');
CREATE FUNCTION rep.f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
ALTER FUNCTION rep.f() OWNER TO rep;
CREATE TRIGGER zz_rep AFTER INSERT ON bbtoken_users FOR EACH ROW EXECUTE FUNCTION rep.f();
EOS
    $refused->('a trigger whose function it owns', 'owns function rep.f(), which the tables use');
    $env->psql('DROP TRIGGER zz_rep ON bbtoken_users; DROP SCHEMA rep CASCADE; REVOKE CONNECT ON DATABASE bbtoken FROM rep; DROP ROLE rep; DROP ROLE dba');
    $works->('the trigger gone');
};

subtest 'a member of the owner\'s role migrates as the owner, in the tables\' schema' => sub {
    owner_db('mixed2');
    # A schema named after the owner: first in the default search path
    # ("$user", public) once the session is the owner's.
    $env->psql('CREATE SCHEMA bbowner AUTHORIZATION bbowner', db => 'mixed2');
    my ($rc, $out, $err) = upgrade('ops', 'mixed2');
    is($rc, 0, 'upgraded by ops') or diag $err;
    is(version('mixed2'), $LATEST, "to version $LATEST");
    is(foreign('mixed2'), '', 'every object the owner\'s');
    is($env->psql("SELECT count(*) FROM pg_proc WHERE pronamespace = 'bbowner'::regnamespace", db => 'mixed2'),
       0, 'nothing made in the owner\'s own schema');
    like($env->psql("SELECT array_to_string(proconfig, ',') FROM pg_proc"
                    . " WHERE proname = 'bbtoken_tokens_isolation'", db => 'mixed2'),
         qr/search_path=public, pg_temp/, 'the newest function looks in public');
};

subtest 'any other role: refused' => sub {
    # httpd's role, which may read the version (grants.sql, above).
    my ($rc, $out, $err) = upgrade('bbtoken_httpd2');
    is($rc, 1, 'a role that is neither the owner, a member of its role, nor a superuser is refused');
    like($err, qr/the schema's tables belong to role bbowner: run db upgrade as bbowner or a member of its role/,
         'in words') or diag $err;
};

done_testing;
