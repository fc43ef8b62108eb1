# The guard of a superuser's session (t/30-migrations-owner) looks past
# the triggers' functions at everything the schema's tables use: a
# function another role owns, called from a trigger's WHEN, a CHECK, a
# column's DEFAULT, an index's expression or a rule, would run as the
# superuser all the same.  It counts as superusers the logins that may
# become one (CREATEROLE before PostgreSQL 16, pg_execute_server_program,
# pg_write_server_files), and guards one that reads the server's files;
# another role's default privileges for the tables it makes itself do not
# stop it; and a superuser's db upgrade, which gives the tables' owner
# back what superusers own of its schema (DDL, which fires event
# triggers), refuses before it where that owner owns an event trigger's
# function.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;

my $ROOT = $BBT::Env::ROOT;
my $env = BBT::Env->new(httpd => 0)->start;

sub cli_as { $env->cli_as(@_) }

# rep, a reporting tool's role with a schema of its own, records whoever
# runs its function as a superuser from the CLI.
$env->psql('CREATE ROLE rep LOGIN; CREATE SCHEMA rep AUTHORIZATION rep; GRANT CONNECT ON DATABASE bbtoken TO rep');
$env->psql(<<'EOS', user => 'rep');
CREATE TABLE rep.probe (what text, who text);
GRANT INSERT ON rep.probe TO PUBLIC;
GRANT USAGE ON SCHEMA rep TO PUBLIC;
CREATE FUNCTION rep.lay(what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)
       AND current_setting('bbtoken.source', true) = 'cli' THEN
        INSERT INTO rep.probe VALUES (what, current_user);
    END IF;
    RETURN true;
END $$;
-- Immutable, for an index's expression; what it calls records all the same.
CREATE FUNCTION rep.ok(what text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN rep.lay(what);
END $$;
EOS
sub ran { $env->psql("SELECT coalesce(string_agg(what || ' as ' || who, ', '), '') FROM rep.probe") }

subtest 'what the tables use, another role\'s' => sub {
    my @cases = (
        ['the WHEN of a trigger on a built-in function',
         'CREATE TRIGGER zz_when BEFORE UPDATE ON bbtoken_policy FOR EACH ROW'
         . " WHEN (rep.ok('when')) EXECUTE FUNCTION pg_catalog.suppress_redundant_updates_trigger()",
         'DROP TRIGGER zz_when ON bbtoken_policy'],
        ['a column DEFAULT', "ALTER TABLE bbtoken_policy ADD COLUMN zz boolean DEFAULT rep.ok('default')",
         'ALTER TABLE bbtoken_policy DROP COLUMN zz'],
        ['a CHECK constraint', "ALTER TABLE bbtoken_policy ADD CONSTRAINT zz_check CHECK (rep.ok('check'))",
         'ALTER TABLE bbtoken_policy DROP CONSTRAINT zz_check'],
        ['an index expression',
         "CREATE INDEX zz_idx ON bbtoken_policy ((rep.ok('index' || max_tokens_per_user::text)))",
         'DROP INDEX zz_idx'],
        ['a rule', "CREATE RULE zz_rule AS ON UPDATE TO bbtoken_policy DO ALSO SELECT rep.ok('rule')",
         'DROP RULE zz_rule ON bbtoken_policy'],
        ['a column of a domain whose CHECK calls it',
         "CREATE DOMAIN rep.yes AS boolean CHECK (rep.ok('domain' || VALUE::text)); ALTER DOMAIN rep.yes OWNER TO postgres;"
         . ' ALTER TABLE bbtoken_policy ADD COLUMN zz rep.yes DEFAULT true',
         'ALTER TABLE bbtoken_policy DROP COLUMN zz; DROP DOMAIN rep.yes'],
    );
    my $n = 0;
    for my $c (@cases) {
        my ($what, $do, $undo) = @$c;
        $env->psql($do);
        $n++;
        my ($rc, $out, $err) = cli_as('postgres', undef, 'policy', '--max-tokens', 100 + $n);
        is($rc, 1, "$what: a superuser's policy refused");
        like($err, qr/^bbtoken: role rep, which is no superuser, owns function rep\.ok\(text\), which the tables use/,
             '  in words') or diag $err;
        $env->psql($undo);
    }
    is(ran(), '', 'nothing of rep\'s ran as a superuser');
    my ($rc, $out, $err) = cli_as('postgres', undef, 'policy', '--max-tokens', 99);
    is($rc, 0, 'with all of it gone, the superuser\'s policy works') or diag $err;
};

subtest 'what the tables reach beyond pg_depend\'s plain edges' => sub {
    $env->psql('CREATE SCHEMA audit; GRANT USAGE ON SCHEMA audit TO rep');
    $env->psql(<<'EOS', user => 'rep');
CREATE FUNCTION rep.h(int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN PERFORM rep.lay('hash support function'); RETURN hashint4($1); END $$;
CREATE FUNCTION rep.eq(text, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM rep.lay('exclusion operator'); RETURN false; END $$;
CREATE OPERATOR rep.=== (LEFTARG = text, RIGHTARG = text, FUNCTION = rep.eq, COMMUTATOR = OPERATOR(rep.===));
CREATE FUNCTION rep.trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM rep.lay(TG_TABLE_NAME || ' trigger'); RETURN NEW; END $$;
EOS
    for my $u (qw(alice bob)) {
        my ($rc, $out, $err) = cli_as('postgres', undef, 'user', 'add', $u, '--email', "$u\@example.com");
        is($rc, 0, "user $u added") or diag $err;
    }
    my @cases = (
        ['an index whose operator class (postgres\'s) has rep\'s support function',
         'CREATE OPERATOR CLASS audit.h_ops FOR TYPE int4 USING hash AS OPERATOR 1 =, FUNCTION 1 rep.h(int);'
         . ' CREATE INDEX zz_idx ON bbtoken_policy USING hash (max_tokens_per_user audit.h_ops)',
         ['policy', '--max-tokens', 101], qr/owns function rep\.h\(integer\)/,
         'DROP INDEX zz_idx; DROP OPERATOR CLASS audit.h_ops USING hash'],
        ['an exclusion constraint with rep\'s operator (pg_depend records only the operator class)',
         'CREATE OPERATOR CLASS audit.x_ops FOR TYPE text USING hash AS OPERATOR 1 rep.===, FUNCTION 1 hashtext(text);'
         . ' ALTER TABLE bbtoken_users ADD CONSTRAINT zz_ex EXCLUDE USING hash (email audit.x_ops WITH rep.===)',
         ['user', 'set', 'alice', '--email', 'bob@example.com'], qr/owns (function rep\.eq|operator rep\.===)/,
         'ALTER TABLE bbtoken_users DROP CONSTRAINT zz_ex; DROP OPERATOR CLASS audit.x_ops USING hash'],
        ['an inheritance child of ours that rep owns, with its trigger',
         'CREATE TABLE audit.zz_users () INHERITS (public.bbtoken_users); ALTER TABLE audit.zz_users OWNER TO rep;'
         . " SET ROLE rep; INSERT INTO audit.zz_users (id, name) VALUES (-1, 'bob');"
         . ' CREATE TRIGGER zz BEFORE UPDATE ON audit.zz_users FOR EACH ROW EXECUTE FUNCTION rep.trg()',
         ['user', 'disable', 'bob'], qr/(owns (table audit\.zz_users|function rep\.trg)|may put a trigger on or refer to audit\.zz_users)/,
         'DROP TABLE audit.zz_users'],
        ['an inheritance child of ours, postgres\'s, that rep may put a trigger on',
         'CREATE TABLE audit.zz_users () INHERITS (public.bbtoken_users); GRANT TRIGGER ON audit.zz_users TO rep',
         ['user', 'disable', 'bob'], qr/may put a trigger on or refer to audit\.zz_users/,
         'DROP TABLE audit.zz_users'],
        ['a rule on ours writing a table rep may put a trigger on',
         'CREATE TABLE audit.log (who text); GRANT TRIGGER ON audit.log TO rep;'
         . ' CREATE RULE zz_log AS ON UPDATE TO public.bbtoken_users DO ALSO INSERT INTO audit.log VALUES (new.name);'
         . ' SET ROLE rep; CREATE TRIGGER zz BEFORE INSERT ON audit.log FOR EACH ROW EXECUTE FUNCTION rep.trg()',
         ['user', 'enable', 'bob'], qr/(may put a trigger on or refer to audit\.log|owns function rep\.trg)/,
         'DROP RULE zz_log ON bbtoken_users; DROP TABLE audit.log'],
    );
    for my $c (@cases) {
        my ($what, $do, $args, $says, $undo) = @$c;
        $env->psql($do);
        my ($rc, $out, $err) = cli_as('postgres', undef, @$args);
        is($rc, 1, "$what: @$args as postgres refused");
        like($err, qr/^bbtoken: role rep, which is no superuser, $says/, '  in words') or diag $err;
        $env->psql($undo);
    }
    is(ran(), '', 'nothing of rep\'s ran as a superuser');
    my ($rc, $out, $err) = cli_as('postgres', undef, 'user', 'disable', 'bob');
    is($rc, 0, 'with all of it gone, the superuser\'s commands work') or diag $err;
    $env->psql('DROP SCHEMA audit CASCADE');
};

subtest 'logins that may become superusers, or read the server\'s files, are guarded' => sub {
    $env->psql(<<'EOS');
CREATE ROLE cr LOGIN CREATEROLE;
CREATE ROLE reader LOGIN IN ROLE pg_read_server_files;
GRANT CONNECT ON DATABASE bbtoken TO cr, reader; GRANT SELECT ON bbtoken_schema TO cr;
CREATE TRIGGER zz_when BEFORE UPDATE ON bbtoken_policy FOR EACH ROW
    WHEN (rep.ok('when')) EXECUTE FUNCTION pg_catalog.suppress_redundant_updates_trigger();
EOS
    for my $login ('cr', 'reader') {
        my ($rc, $out, $err) = cli_as($login, undef, 'db', 'status');
        is($rc, 1, "$login: db status refused");
        like($err, qr/^bbtoken: role rep, which is no superuser, owns function rep\.ok\(text\)/, '  in words')
            or diag $err;
    }
    is(ran(), '', 'nothing of rep\'s ran');
    $env->psql('DROP TRIGGER zz_when ON bbtoken_policy');
    my ($rc, $out, $err) = cli_as('cr', undef, 'db', 'status');
    is($rc, 0, 'with the trigger gone, cr\'s session goes on') or diag $err;
    # A member of the tables' owner's role that may become a superuser
    # would run the owner's code with that power: refused, saying whom to
    # connect as.
    $env->psql('CREATE ROLE bbown2; CREATE ROLE ops2 LOGIN CREATEROLE IN ROLE bbown2;'
               . ' CREATE ROLE plain2 LOGIN IN ROLE bbown2');
    $env->psql('CREATE DATABASE o2 OWNER bbown2', db => 'postgres');
    ($rc, $out, $err) = cli_as('plain2', 'o2', 'db', 'upgrade', '--init');
    is($rc, 0, 'a plain member of the owner\'s role makes the schema') or diag $err;
    $env->psql('ALTER TABLE bbtoken_schema OWNER TO bbown2', db => 'o2');
    ($rc, $out, $err) = cli_as('ops2', 'o2', 'db', 'status');
    is($rc, 1, 'a CREATEROLE member of the owner\'s role: refused');
    like($err, qr/connect as bbown2 or a member of its role that is no superuser and may not become one \(no CREATEROLE/,
         '  saying whom to connect as') or diag $err;
    ($rc, $out, $err) = cli_as('plain2', 'o2', 'db', 'status');
    is($rc, 0, '  a plain member goes on') or diag $err;
    $env->psql('REVOKE CONNECT ON DATABASE bbtoken FROM cr, reader; REVOKE SELECT ON bbtoken_schema FROM cr; DROP ROLE cr; DROP ROLE reader');
};

subtest 'another role\'s default privileges for its own tables stop no one' => sub {
    # bbtoken_api may create nowhere; its default privileges are for the
    # tables it would make, which none of ours is.
    for my $sql ('ALTER DEFAULT PRIVILEGES GRANT TRIGGER ON TABLES TO PUBLIC',
                 'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT REFERENCES ON TABLES TO bbtoken_httpd') {
        $env->psql($sql, user => 'bbtoken_api');
        my ($rc, $out, $err) = cli_as('postgres', undef, 'list', '--all');
        is($rc, 0, "after bbtoken_api's $sql: a superuser's list works") or diag $err;
        (my $undo = $sql) =~ s/GRANT (\w+) ON TABLES TO/REVOKE $1 ON TABLES FROM/;
        $env->psql($undo, user => 'bbtoken_api');
    }
    # The tables' owner's own, for the tables a migration makes, still do.
    $env->psql('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT TRIGGER ON TABLES TO rep');
    my ($rc, $out, $err) = cli_as('postgres', undef, 'list', '--all');
    is($rc, 1, 'the owner\'s default privilege giving rep TRIGGER: refused');
    $env->psql('ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE TRIGGER ON TABLES FROM rep');
};

subtest 'a superuser\'s upgrade gives nothing back before looking at event triggers' => sub {
    # A database a role that is no superuser owns, its schema made by it.
    $env->psql('CREATE ROLE bbowner LOGIN');
    $env->psql('CREATE DATABASE mixed OWNER bbowner', db => 'postgres');
    my @upto = grep { m{/(\d{4})_} && $1 <= 3 } sort glob "$ROOT/sql/migrations/0*.sql";
    my $script = $env->dir . '/scratch/owner-mixed.sql';
    BBT::Env::spew($script, join '', "\\ir $upto[0]\n", map {"BEGIN;\n\\ir $_\nCOMMIT;\n"} @upto[1 .. $#upto]);
    $env->psql(undef, db => 'mixed', user => 'bbowner', file => $script);
    my ($rc, $out, $err) = cli_as('bbowner', 'mixed', 'db', 'upgrade');
    is($rc, 0, 'the owner upgrades') or diag $err;
    # A DDL audit a superuser made on the owner's function, and an object
    # of the schema's a superuser owns (an earlier upgrade's leftover).
    $env->psql(<<'EOS', db => 'mixed', user => 'bbowner');
CREATE TABLE probe (who text);
GRANT INSERT ON probe TO PUBLIC;
CREATE FUNCTION public.evt() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)
       AND current_setting('bbtoken.source', true) = 'cli' THEN
        INSERT INTO public.probe VALUES (current_user);
    END IF;
END $$;
EOS
    $env->psql(<<'EOS', db => 'mixed');
CREATE EVENT TRIGGER zz_audit ON ddl_command_end EXECUTE FUNCTION public.evt();
ALTER FUNCTION bbtoken_perm_level(text) OWNER TO postgres;
EOS
    ($rc, $out, $err) = cli_as('postgres', 'mixed', 'db', 'upgrade');
    is($rc, 1, 'db upgrade as postgres refused');
    like($err, qr/^bbtoken: role bbowner, which is no superuser, owns the function of an event trigger/, '  in words')
        or diag $err;
    unlike($out, qr/gave \d+/, '  nothing given');
    is($env->psql('SELECT count(*) FROM probe', db => 'mixed'), 0, 'the owner\'s function never ran as postgres');
    is($env->psql("SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE proname = 'bbtoken_perm_level'", db => 'mixed'),
       'postgres', 'the leftover still postgres\'s');
    $env->psql('DROP EVENT TRIGGER zz_audit', db => 'mixed');
    ($rc, $out, $err) = cli_as('postgres', 'mixed', 'db', 'upgrade');
    like($out, qr/gave 1 of the schema's objects that superusers owned to bbowner/,
         'with the event trigger gone, it gives the leftover back') or diag $err;
};

done_testing;
