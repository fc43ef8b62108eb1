# A member of the tables' owner's role (no superuser) that may run dblink's
# dblink_connect_u (granted; SECURITY DEFINER, owned by the superuser who
# made the extension) may become a superuser: it connects wherever it
# likes without a password, as postgres (trust on loopback here, peer on
# the socket with Debian's pg_hba).  Refused, wherever dblink is, since
# the owner's trigger, run in its session, would make the owner a
# superuser.  Nor is such a role's code trusted as a superuser's (it may
# become one only where pg_hba lets postgres in without a password), nor
# does a function of that name that is not dblink's (another role's SQL,
# or dblink's C code owned by a role that is no superuser, which then
# checks the password) guard anyone: the owner's tables stay refused to a
# superuser's session, and its plain members go on.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;

my $env = BBT::Env->new(httpd => 0)->start;
sub cli_as { $env->cli_as(@_) }
my $port = $env->pg_port;

plan skip_all => 'no dblink extension (postgresql-contrib) on this server'
    unless $env->psql("SELECT count(*) FROM pg_available_extensions WHERE name = 'dblink'", db => 'postgres');

$env->psql('CREATE ROLE bbown9 LOGIN; CREATE ROLE plain9 LOGIN IN ROLE bbown9;'
           . ' CREATE ROLE du9 LOGIN IN ROLE bbown9; CREATE ROLE du9b LOGIN IN ROLE bbown9');
$env->psql('CREATE DATABASE o9 OWNER bbown9', db => 'postgres');
my ($rc, $out, $err) = cli_as('plain9', 'o9', 'db', 'upgrade', '--init');
is($rc, 0, 'a plain member of the owner\'s role makes the schema') or diag $err;
$env->psql('REASSIGN OWNED BY plain9 TO bbown9; CREATE SCHEMA ext; GRANT USAGE ON SCHEMA ext TO PUBLIC;'
           . ' CREATE EXTENSION dblink SCHEMA ext;'
           . ' GRANT EXECUTE ON FUNCTION ext.dblink_connect_u(text, text) TO du9;'
           . ' GRANT EXECUTE ON FUNCTION ext.dblink_connect_u(text) TO du9b', db => 'o9');
$env->psql(<<"EOS", db => 'o9', user => 'bbown9');
CREATE FUNCTION public.zz_lay() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    BEGIN
        PERFORM ext.dblink_connect_u('zz', 'host=127.0.0.1 port=$port dbname=o9 user=postgres');
        PERFORM ext.dblink_exec('zz', 'ALTER ROLE bbown9 SUPERUSER');
        PERFORM ext.dblink_disconnect('zz');
    EXCEPTION WHEN OTHERS THEN RAISE WARNING 'zz: %', SQLERRM;
    END;
    RETURN NEW;
END \$\$;
CREATE TRIGGER zz_lay BEFORE INSERT ON bbtoken_users FOR EACH ROW EXECUTE FUNCTION zz_lay();
EOS
sub owner_super { $env->psql("SELECT rolsuper FROM pg_roles WHERE rolname = 'bbown9'", db => 'o9') }
is(owner_super(), 'f', 'the owner is no superuser');
($rc, $out, $err) = cli_as('du9', 'o9', 'user', 'add', 'carol', '--email', 'c@example.com');
is($rc, 1, 'a member that may call dblink_connect_u(text, text): refused') or diag "out: $out err: $err";
like($err, qr/may not become one \(.*dblink_connect_u granted\)/, '  in words') or diag $err;
is(owner_super(), 'f', '  the owner\'s trigger did not make it a superuser');
($rc, $out, $err) = cli_as('du9b', 'o9', 'user', 'add', 'carol', '--email', 'c@example.com');
is($rc, 1, 'a member that may call dblink_connect_u(text): refused') or diag "out: $out err: $err";
is(owner_super(), 'f', '  the owner is still no superuser');
($rc, $out, $err) = cli_as('plain9', 'o9', 'user', 'add', 'dave', '--email', 'd@example.com');
is($rc, 0, 'a plain member goes on') or diag $err;
is(owner_super(), 'f', '  and its trigger gets nowhere: it may not call dblink_connect_u');

# Functions named dblink_connect_u that are not dblink's, granted to all:
# were they counted, the owner would pass for one that may become a
# superuser, and a superuser's session would run its trigger.
my @fakes = (
    [ 'an SQL function of the owner\'s',
      'CREATE FUNCTION public.dblink_connect_u(text, text) RETURNS text LANGUAGE sql SECURITY DEFINER'
      . ' AS $$SELECT $1$$; GRANT EXECUTE ON FUNCTION public.dblink_connect_u(text, text) TO PUBLIC',
      'bbown9' ],
    [ 'dblink\'s C code given to the owner',
      'CREATE FUNCTION public.dblink_connect_u(text, text) RETURNS text LANGUAGE c SECURITY DEFINER STRICT'
      . q{ AS '$libdir/dblink', 'dblink_connect';}
      . ' ALTER FUNCTION public.dblink_connect_u(text, text) OWNER TO bbown9;'
      . ' GRANT EXECUTE ON FUNCTION public.dblink_connect_u(text, text) TO PUBLIC',
      undef ],
);
my $n = 0;
for my $f (@fakes) {
    my ($what, $sql, $user) = @$f;
    $n++;
    $env->psql($sql, db => 'o9', $user ? (user => $user) : ());
    ($rc, $out, $err) = cli_as('postgres', 'o9', 'user', 'add', "fake$n", '--email', "f$n\@example.com");
    is($rc, 1, "$what: a superuser's session is still refused") or diag "out: $out err: $err";
    like($err, qr/belong to role bbown9, which is no superuser/, '  in words') or diag $err;
    is(owner_super(), 'f', '  the owner is still no superuser');
    ($rc, $out, $err) = cli_as('plain9', 'o9', 'user', 'add', "plain$n", '--email', "p$n\@example.com");
    is($rc, 0, '  and a plain member, which may call it, goes on') or diag $err;
    $env->psql('DROP FUNCTION public.dblink_connect_u(text, text)', db => 'o9');
}

# dblink's own, granted to the owner itself: its session is guarded, but
# its code is not trusted as a superuser's is (where every login needs a
# password, dblink_connect_u makes no one a superuser; nor without the
# USAGE of dblink's schema): a superuser's session is still refused.
$env->psql('DROP TRIGGER zz_lay ON bbtoken_users', db => 'o9', user => 'bbown9');
$env->psql('GRANT EXECUTE ON FUNCTION ext.dblink_connect_u(text, text) TO bbown9', db => 'o9');
($rc, $out, $err) = cli_as('postgres', 'o9', 'user', 'add', 'erin', '--email', 'e@example.com');
is($rc, 1, 'an owner that may call dblink_connect_u is not trusted as a superuser is') or diag "out: $out err: $err";
like($err, qr/belong to role bbown9, which is no superuser/, '  in words') or diag $err;
($rc, $out, $err) = cli_as('bbown9', 'o9', 'user', 'add', 'erin', '--email', 'e@example.com');
is($rc, 0, '  and the owner itself goes on: its own code in its own session') or diag "out: $out err: $err";
done_testing;
