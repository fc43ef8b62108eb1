# The guard of a superuser's session (t/30-migrations-owner,
# t/30-migrations-owner-uses) against what PostgreSQL finds for a
# statement where pg_depend does not say so (a cast, an operator's
# negator), and what a foreign table's server, whose owner chooses where
# it connects and as whom, makes of a superuser's statement.  Each: a
# superuser's command is refused, and nothing of rep's runs as a
# superuser; the README's install, with common extensions, goes on.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;

my $env = BBT::Env->new(httpd => 0)->start;

sub cli_as { $env->cli_as(@_) }

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
EOS
sub ran { $env->psql("SELECT coalesce(string_agg(DISTINCT what || ' as ' || who, ', '), '') FROM rep.probe") }

subtest 'README install with common extensions: a superuser\'s session goes on' => sub {
    $env->psql('CREATE SCHEMA ext; CREATE EXTENSION pgcrypto; CREATE EXTENSION citext; CREATE EXTENSION pg_trgm;'
               . ' CREATE EXTENSION btree_gist; CREATE EXTENSION hstore SCHEMA ext; CREATE EXTENSION "uuid-ossp";'
               . ' CREATE EXTENSION postgres_fdw;'
               . ' CREATE INDEX zz_trgm ON bbtoken_users USING gin (name gin_trgm_ops)');
    my ($rc, $out, $err) = cli_as('postgres', undef, 'user', 'add', 'carol', '--email', 'c@example.com');
    is($rc, 0, 'user add as postgres works') or diag $err;
    $env->psql('DROP INDEX zz_trgm');
};

subtest 'a cast whose function rep owns (pg_cast: found for the statement, in no pg_depend)' => sub {
    $env->psql(<<'EOS', user => 'rep');
CREATE FUNCTION rep.c(text) RETURNS int4 LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN PERFORM rep.lay('cast text to int4'); RETURN int4in(textout($1)); END $$;
CREATE FUNCTION rep.rc(regclass) RETURNS text LANGUAGE plpgsql STABLE AS $$
BEGIN PERFORM rep.lay('cast regclass to text'); RETURN textin(regclassout($1)); END $$;
EOS
    # Neither pair has a cast of its own (I/O conversion): a superuser may
    # make one, here with rep's function.
    for my $c (['CREATE CAST (regclass AS text) WITH FUNCTION rep.rc(regclass)', 'DROP CAST (regclass AS text)',
                'cast regclass to text'],
               ['CREATE ROLE cr NOLOGIN CREATEROLE; CREATE CAST (text AS int4) WITH FUNCTION rep.c(text)',
                'DROP CAST (text AS int4); DROP ROLE cr', 'cast text to int4']) {
        my ($do, $undo, $what) = @$c;
        $env->psql($do);
        my ($rc, $out, $err) = cli_as('postgres', undef, 'db', 'status');
        is($rc, 1, "$do: db status as postgres refused") or diag $out;
        unlike(ran(), qr/\Q$what\E as postgres/, "  rep's cast function did not run as postgres");
        $env->psql($undo);
        $env->psql('TRUNCATE rep.probe');
    }
};

subtest 'an operator of the tables whose negator is rep\'s (oprnegate: in no pg_depend)' => sub {
    $env->psql(<<'EOS', user => 'rep');
CREATE FUNCTION rep.ne(text, text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN PERFORM rep.lay('negator'); RETURN $1 <> $2; END $$;
CREATE OPERATOR rep.!== (LEFTARG = text, RIGHTARG = text, FUNCTION = rep.ne);
EOS
    $env->psql(<<'EOS');
CREATE SCHEMA audit;
CREATE FUNCTION audit.eq(text, text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS 'BEGIN RETURN $1 = $2; END';
CREATE OPERATOR audit.=== (LEFTARG = text, RIGHTARG = text, FUNCTION = audit.eq, NEGATOR = OPERATOR(rep.!==));
ALTER TABLE bbtoken_users ADD CONSTRAINT zz_neg CHECK (NOT (email OPERATOR(audit.===) 'nobody@example.com'));
EOS
    my ($rc, $out, $err) = cli_as('postgres', undef, 'user', 'set', 'carol', '--email', 'c2@example.com');
    is($rc, 1, 'user set as postgres refused') or diag $out;
    unlike(ran(), qr/negator as postgres/, '  rep\'s negator did not run as postgres');
    $env->psql('ALTER TABLE bbtoken_users DROP CONSTRAINT zz_neg; DROP SCHEMA audit CASCADE; TRUNCATE rep.probe');
};

subtest 'a foreign table of the tables on a server rep owns (pg_foreign_server: not in owners)' => sub {
    # rep's own database, where it keeps an archive table with a trigger.
    $env->psql('CREATE DATABASE repdb OWNER rep', db => 'postgres');
    $env->psql(<<'EOS', db => 'repdb', user => 'rep');
CREATE SCHEMA archive;
CREATE TABLE archive.users_t (id bigint, name text, active boolean, is_admin boolean, created_at timestamptz,
                              email text, display_name text, slug text);
INSERT INTO archive.users_t (id, name) VALUES (-1, 'nobody');
CREATE TABLE archive.probe (who text, super boolean);
GRANT USAGE ON SCHEMA archive TO PUBLIC; GRANT INSERT ON archive.probe TO PUBLIC;
-- Cheap, so that it runs before any condition the scan is sent with.
CREATE FUNCTION archive.lay() RETURNS boolean LANGUAGE plpgsql VOLATILE COST 0.001 AS $$
BEGIN
    INSERT INTO archive.probe SELECT current_user, rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user;
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        EXECUTE 'ALTER ROLE rep SUPERUSER';
    END IF;
    RETURN false;
END $$;
CREATE VIEW archive.users AS SELECT * FROM archive.users_t WHERE archive.lay();
EOS
    # The DBA archives users to rep's server, a child of bbtoken_users.
    $env->psql(<<'EOS');
CREATE SCHEMA archive;
GRANT USAGE ON FOREIGN DATA WRAPPER postgres_fdw TO rep;
CREATE SERVER archive FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname 'archive');
ALTER SERVER archive OWNER TO rep;
CREATE FOREIGN TABLE archive.users () INHERITS (public.bbtoken_users) SERVER archive
    OPTIONS (schema_name 'archive', table_name 'users');
EOS
    # What the server's owner may change: where it connects, and as whom.
    my ($sock, $port) = ($env->dir . '/pg/sock', $env->pg_port);
    $env->psql(<<"EOS", user => 'rep');
ALTER SERVER archive OPTIONS (SET dbname 'repdb', ADD host '$sock', ADD port '$port');
CREATE USER MAPPING FOR postgres SERVER archive OPTIONS (user 'postgres');
EOS
    my ($rc, $out, $err) = cli_as('postgres', undef, 'user', 'show', 'carol');
    is($rc, 1, 'user show as postgres refused') or diag $out;
    is($env->psql("SELECT coalesce(string_agg(DISTINCT who || ' ' || super, ','), '') FROM archive.probe", db => 'repdb'), '',
       '  rep\'s trigger did not run as a superuser');
    is($env->psql("SELECT rolsuper FROM pg_roles WHERE rolname = 'rep'"), 'f', '  rep is no superuser');
    $env->psql('DROP SCHEMA archive CASCADE; DROP SERVER archive CASCADE');
};

subtest 'an operator class whose member operator runs rep\'s function' => sub {
    # A default class is chosen for a type wherever a statement sorts or
    # hashes it, not only through our tables' indexes.
    $env->psql(<<'EOS', user => 'rep');
CREATE FUNCTION rep.eqf(text, text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN PERFORM rep.lay('class member'); RETURN $1 = $2; END $$;
EOS
    $env->psql(<<'EOS');
CREATE SCHEMA audit;
CREATE OPERATOR audit.=== (LEFTARG = text, RIGHTARG = text, FUNCTION = rep.eqf);
CREATE OPERATOR CLASS audit.t_ops FOR TYPE text USING hash AS OPERATOR 1 audit.===, FUNCTION 1 hashtext(text);
EOS
    my ($rc, $out, $err) = cli_as('postgres', undef, 'db', 'status');
    is($rc, 1, 'db status as postgres refused');
    like($err, qr/^bbtoken: role rep, which is no superuser, owns the function of operator 1/, '  in words') or diag $err;
    $env->psql('DROP SCHEMA audit CASCADE');
    ($rc, $out, $err) = cli_as('postgres', undef, 'db', 'status');
    is($rc, 0, 'the class gone: it works') or diag $err;
};

subtest 'a cast from a type of its own, another role\'s, stops no one' => sub {
    # No statement of ours carries such a type (a column of it is refused
    # by the walk); PUBLIC keeps TEMP, so httpd's own role could make one.
    my $psql = "$BBT::Env::PGBIN/psql -X -q -h 127.0.0.1 -p " . $env->pg_port . ' -U bbtoken_httpd -d bbtoken';
    open(my $h, '|-', $psql) or die "psql: $!";
    select((select($h), $| = 1)[0]);
    print $h <<'EOS';
CREATE TEMP TABLE t (x int);
CREATE FUNCTION pg_temp.f(pg_temp.t) RETURNS text LANGUAGE sql AS 'SELECT ''x''';
CREATE CAST (pg_temp.t AS text) WITH FUNCTION pg_temp.f(pg_temp.t);
EOS
    my $made = 0;
    for (1 .. 100) {
        last if ($made = $env->psql("SELECT count(*) FROM pg_cast c JOIN pg_proc p ON p.oid = c.castfunc"
                                    . " WHERE p.proowner = 'bbtoken_httpd'::regrole")) > 0;
        select(undef, undef, undef, 0.1);
    }
    ok($made, 'bbtoken_httpd holds a session with a cast from its temp table\'s type');
    for my $args (['list', '--all'], ['user', 'add', 'dave', '--email', 'd@example.com']) {
        my ($rc, $out, $err) = cli_as('postgres', undef, @$args);
        is($rc, 0, "  @$args as postgres works") or diag $err;
    }
    close $h;
    $env->psql(<<'EOS', user => 'rep');
CREATE TABLE rep.r (x int);
CREATE FUNCTION rep.f(rep.r) RETURNS text LANGUAGE sql AS 'SELECT ''x''';
CREATE CAST (rep.r AS text) WITH FUNCTION rep.f(rep.r);
EOS
    my ($rc, $out, $err) = cli_as('postgres', undef, 'list', '--all');
    is($rc, 0, 'rep\'s cast from its own table\'s type: list --all as postgres works') or diag $err;
    $env->psql('DROP CAST (rep.r AS text); DROP TABLE rep.r CASCADE', user => 'rep');
};

subtest 'the database\'s standard_conforming_strings off widens nothing' => sub {
    # A database bbowner owns, its schema made as 0.2.0 did; a superuser's
    # table named like ours but not ours (bbtokens_...).
    my $ROOT = $BBT::Env::ROOT;
    $env->psql('CREATE ROLE bbowner LOGIN');
    $env->psql('CREATE DATABASE scsoff OWNER bbowner', db => 'postgres');
    my @upto = grep { m{/(\d{4})_} && $1 <= 3 } sort glob "$ROOT/sql/migrations/0*.sql";
    my $script = $env->dir . '/scratch/owner-scsoff.sql';
    BBT::Env::spew($script, join '', "\\ir $upto[0]\n", map {"BEGIN;\n\\ir $_\nCOMMIT;\n"} @upto[1 .. $#upto]);
    $env->psql(undef, db => 'scsoff', user => 'bbowner', file => $script);
    $env->psql("CREATE TABLE public.bbtokens_archive (secret text); INSERT INTO bbtokens_archive VALUES ('s3cr3t')",
               db => 'scsoff');
    $env->psql('ALTER DATABASE scsoff SET standard_conforming_strings = off', db => 'scsoff', user => 'bbowner');
    my ($rc, $out, $err) = cli_as('postgres', 'scsoff', 'db', 'upgrade');
    is($env->psql("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'bbtokens_archive'", db => 'scsoff'),
       'postgres', 'a superuser\'s db upgrade leaves the superuser\'s bbtokens_archive its own') or diag "$out$err";
};

done_testing;
