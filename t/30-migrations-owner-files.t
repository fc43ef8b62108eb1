# A member of the tables' owner's role (no superuser) that may write the
# server's files, through pg_write_server_files or through a function
# granted to it (lo_export), may become a superuser (the server's system
# user logs in as postgres): refused ("connect as OWNER or a member of its
# role that is no superuser and may not become one"), since the owner's
# trigger, run in its session, would write a file as that user.  One that
# may read them (pg_read_file granted) is guarded too.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;

my $env = BBT::Env->new(httpd => 0)->start;
sub cli_as { $env->cli_as(@_) }

my $file = "/tmp/bbt-owner-files-written-$$";  # where the server's system user may write
unlink $file;
$env->psql('CREATE ROLE bbown4 LOGIN; CREATE ROLE plain4 LOGIN IN ROLE bbown4;'
           . ' CREATE ROLE wsf4 LOGIN IN ROLE bbown4, pg_write_server_files; CREATE ROLE lox4 LOGIN IN ROLE bbown4');
$env->psql('CREATE DATABASE o4 OWNER bbown4', db => 'postgres');
my ($rc, $out, $err) = cli_as('plain4', 'o4', 'db', 'upgrade', '--init');
is($rc, 0, 'a plain member of the owner\'s role makes the schema') or diag $err;
$env->psql('REASSIGN OWNED BY plain4 TO bbown4; GRANT EXECUTE ON FUNCTION lo_export(oid, text) TO lox4', db => 'o4');
$env->psql(<<"EOS", db => 'o4', user => 'bbown4');
CREATE FUNCTION public.zz_lay() RETURNS trigger LANGUAGE plpgsql AS \$\$
DECLARE was text := current_user; lo oid;
BEGIN
    BEGIN
        RESET ROLE;
        lo := lo_from_bytea(0, convert_to('written as ' || current_user, 'UTF8'));
        PERFORM lo_export(lo, '$file');
        EXECUTE format('SET ROLE %I', was);
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    RETURN NEW;
END \$\$;
CREATE TRIGGER zz_lay BEFORE INSERT ON bbtoken_users FOR EACH ROW EXECUTE FUNCTION zz_lay();
EOS
($rc, $out, $err) = cli_as('wsf4', 'o4', 'user', 'add', 'carol', '--email', 'c@example.com');
is($rc, 1, 'a member in pg_write_server_files: refused');
like($err, qr/may not become one/, '  in words') or diag $err;
ok(!-e $file, '  nothing written');
# The database's owner may set its search path, and make types there that
# a function's signature, unqualified, would name: nothing hides lo_export.
$env->psql('ALTER DATABASE o4 SET search_path = public, pg_catalog;'
           . ' CREATE DOMAIN public.oid AS pg_catalog.oid; CREATE DOMAIN public.text AS pg_catalog.text',
           db => 'o4', user => 'bbown4');
($rc, $out, $err) = cli_as('lox4', 'o4', 'user', 'add', 'dave', '--email', 'd@example.com');
is($rc, 1, 'a member that may call lo_export: refused as well') or diag $out;
ok(!-e $file, '  the owner\'s trigger wrote no server file') or diag 'written: ' . `ls -l $file; cat $file`;
unlink $file;
$env->psql('ALTER DATABASE o4 RESET search_path; DROP DOMAIN public.oid; DROP DOMAIN public.text',
           db => 'o4', user => 'bbown4');
$env->psql('CREATE ROLE rf4 LOGIN IN ROLE bbown4', db => 'o4');
$env->psql('GRANT EXECUTE ON FUNCTION pg_read_file(text) TO rf4', db => 'o4');
($rc, $out, $err) = cli_as('rf4', 'o4', 'user', 'add', 'erin', '--email', 'e@example.com');
is($rc, 1, 'a member that may call pg_read_file: refused');
like($err, qr/may not become one/, '  in words') or diag $err;
($rc, $out, $err) = cli_as('plain4', 'o4', 'user', 'add', 'fred', '--email', 'f@example.com');
is($rc, 0, 'a plain member goes on') or diag $err;
ok(!-e $file, '  and writes nothing: it has no such power') or diag `cat $file`;
done_testing;
