# `bbtoken db upgrade` runs the migrations as the role that owns the
# schema's tables, whoever connects.  A superuser's upgrade (the README's
# `runuser -u postgres`) of tables another role owns used to leave the new
# functions, the SECURITY DEFINER ones among them, owned by the superuser:
# the tables' owner, putting a trigger of its own on its own table, had it
# run as the superuser by those functions' writes.  Here a role that is no
# superuser owns the database and made its schema as release 0.2.0 did
# (version 3); a superuser upgrades it; every object of the schema is the
# owner's after, the owner's trigger runs as the owner, and grants.sql
# works as the owner.  An earlier upgrade's leftovers are given back by a
# superuser's upgrade, and refused in words by the owner's; a role that is
# neither owner nor superuser is refused, a member of the owner's role is
# not.
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

$env->psql("CREATE ROLE bbowner LOGIN; CREATE ROLE ops LOGIN;"
           . " GRANT bbowner TO ops; CREATE ROLE bbtoken_httpd2 LOGIN");
$env->psql('CREATE DATABASE mixed OWNER bbowner', db => 'postgres');
# Version 3 (0.2.0's schema.sql), made by the owner.
my @upto = grep { m{/(\d{4})_} && $1 <= 3 } sort glob "$ROOT/sql/migrations/0*.sql";
my $script = $env->dir . '/scratch/owner-v3.sql';
BBT::Env::spew($script, join '', "\\ir $upto[0]\n", map {"BEGIN;\n\\ir $_\nCOMMIT;\n"} @upto[1 .. $#upto]);
$env->psql(undef, db => 'mixed', user => 'bbowner', file => $script);

sub conninfo {
    my ($user) = @_;
    return 'host=127.0.0.1 port=' . $env->pg_port . " dbname=mixed user=$user connect_timeout=5";
}
sub upgrade { $env->cli_raw('--db', conninfo($_[0]), 'db', 'upgrade') }

# The schema's objects (named bbtoken_...) that a role other than bbowner
# owns: "kind name owner" lines.
sub foreign {
    return $env->psql(<<'EOS', db => 'mixed');
SELECT string_agg(x, E'\n' ORDER BY x) FROM (
  SELECT 'rel ' || c.relname || ' ' || pg_get_userbyid(c.relowner) AS x FROM pg_class c
   WHERE c.relnamespace = 'public'::regnamespace AND c.relname LIKE 'bbtoken\_%'
     AND pg_get_userbyid(c.relowner) <> 'bbowner'
  UNION ALL
  SELECT 'proc ' || p.proname || ' ' || pg_get_userbyid(p.proowner) FROM pg_proc p
   WHERE p.pronamespace = 'public'::regnamespace AND p.proname LIKE 'bbtoken\_%'
     AND pg_get_userbyid(p.proowner) <> 'bbowner') f
EOS
}

subtest 'a superuser upgrades the owner\'s schema: everything stays the owner\'s' => sub {
    is(foreign(), '', 'before: all the owner\'s');
    my ($rc, $out, $err) = upgrade('postgres');
    is($rc, 0, 'upgraded') or diag $err;
    like($out, qr/schema version: $LATEST\b/, "to version $LATEST");
    is(foreign(), '', 'after: every table and function is still the owner\'s');
    is($env->psql("SELECT pg_get_userbyid(proowner) FROM pg_proc"
                  . " WHERE proname = 'bbtoken_users_personal_revoke'", db => 'mixed'),
       'bbowner', 'a SECURITY DEFINER function a migration made is the owner\'s');
    my ($grc, undef, $gerr) = $env->psql_try(undef, db => 'mixed', user => 'bbowner',
                                             vars => ['role=bbtoken_httpd2'],
                                             file => "$ROOT/sql/grants.sql");
    is($grc, 0, 'grants.sql works as the owner') or diag $gerr;
};

subtest 'the owner\'s trigger runs as the owner, never as a superuser' => sub {
    $env->psql(<<'EOS', db => 'mixed', user => 'bbowner');
CREATE TABLE probe (who text, super boolean);
CREATE FUNCTION probe() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO probe SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user;
    RETURN NULL;
END $$;
CREATE TRIGGER zz_probe AFTER UPDATE ON bbtoken_tokens FOR EACH ROW EXECUTE FUNCTION probe();
EOS
    $env->psql("INSERT INTO bbtoken_users (name) VALUES ('carol')", db => 'mixed');
    $env->psql("INSERT INTO bbtoken_tokens (id, project_key, name, project_perm, repo_perm, salt,"
               . " secret_hash) VALUES ('000000000042', '~carol', 'p', 'PROJECT_READ', 'REPO_READ',"
               . " repeat('a', 32), repeat('b', 64))", db => 'mixed');
    # Renaming carol revokes ~carol's tokens, by a SECURITY DEFINER function.
    $env->psql("UPDATE bbtoken_users SET name = 'carol2' WHERE name = 'carol'", db => 'mixed',
               user => 'bbowner');
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE id = '000000000042'"
                  . " AND revoked_at IS NOT NULL", db => 'mixed'), 1, 'the rename revoked the token');
    is($env->psql("SELECT string_agg(DISTINCT who || ' ' || super, ',') FROM probe", db => 'mixed'),
       'bbowner false', 'the owner\'s trigger ran as the owner');
};

subtest 'objects an earlier upgrade left to a superuser' => sub {
    $env->psql("ALTER FUNCTION bbtoken_perm_level(text) OWNER TO postgres;"
               . " ALTER TABLE bbtoken_lookup OWNER TO postgres", db => 'mixed');
    like(foreign(), qr/bbtoken_perm_level postgres/, 'a function left to postgres');
    my ($rc, $out, $err) = upgrade('bbowner');
    is($rc, 1, 'the owner\'s upgrade stops');
    like($err, qr/^bbtoken: 2 of the schema's objects belong to role postgres, not to bbowner, the owner of its tables: run db upgrade once as a superuser/,
         'and says why, in one line') or diag $err;
    is(($err =~ tr/\n//), 1, 'one line');
    ($rc, $out, $err) = upgrade('postgres');
    is($rc, 0, 'a superuser\'s upgrade works') or diag $err;
    like($out, qr/^gave 2 of the schema's objects that other roles owned \(postgres among them\) to bbowner/m,
         'and says what it gave back');
    is(foreign(), '', 'all the owner\'s again');
    ($rc, $out, $err) = upgrade('bbowner');
    is($rc, 0, 'the owner\'s upgrade works again') or diag $err;
    unlike($out, qr/gave/, 'with nothing to give');
};

subtest 'who else may upgrade' => sub {
    # httpd's role, which may read the version (grants.sql, above).
    my ($rc, $out, $err) = upgrade('bbtoken_httpd2');
    is($rc, 1, 'a role that is neither the owner nor a superuser is refused');
    like($err, qr/the schema's tables belong to role bbowner: run db upgrade as bbowner/, 'in words')
        or diag $err;
    ($rc, $out, $err) = upgrade('ops');
    is($rc, 0, 'a member of the owner\'s role may') or diag $err;
};

done_testing;
