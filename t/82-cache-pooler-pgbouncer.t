#!/usr/bin/perl
# The cache through a real PgBouncer in session mode, as a site runs it:
# stock startup parameters (ignore_startup_parameters empty), so a client
# that sends libpq's options is refused ("unsupported startup parameter:
# options"), and DBDParams has none (README: statement_timeout on the
# role instead).  The listener, connecting with DBDParams' own options
# and setting the pooled session's search_path and role in its session,
# comes into service (BBT309), and a revocation reaches the cache.  With
# DBDInitSQL setting another search_path (bbt2), and then a role that
# alone may use bbt2, the listener finds the tables the sessions read (no
# BBT711), and a revocation made there is heard.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::PgBouncer;
use BBT::SchemaCopy qw(schema_copy cli_in token_in);
use BBT::Cache qw(served_from_cache until_status wait_log log_mark log_since);
use BBT::Util qw(run_cmd spew);

plan skip_all => BBT::PgBouncer::missing() if BBT::PgBouncer::missing();
my $a = BBT::Env->new(httpd => 0)->start;
my $pgb = BBT::PgBouncer->start($a, pool_mode => 'session');
my $pport = $pgb->port;
ok($pgb->listening, 'PgBouncer listens');

# What the README has DBDParams' options= do, on the role instead.
$a->psql("ALTER ROLE bbtoken_httpd SET statement_timeout = '5s'");
sub through_pgb {
    my ($sql, $options) = @_;
    return run_cmd(cmd => ["$BBT::Env::PGBIN/psql", '-X', '-A', '-t', '-h', '127.0.0.1', '-p', $pport,
                           '-U', 'bbtoken_httpd', '-d', 'bbtoken', '-c', $sql],
                   env => { PGOPTIONS => $options });
}
{
    my ($rc, $out, $err) = through_pgb('SELECT 1', '-cstatement_timeout=5000');
    ok($rc != 0 && $err =~ /unsupported startup parameter: options/, "PgBouncer refuses libpq's options")
        or diag "$rc $out$err";
    ($rc, $out, $err) = through_pgb('SHOW statement_timeout');
    is("$rc $out", "0 5s\n", "  the role's statement_timeout holds through it") or diag $err;
}

my $b = BBT::Env->new(pg_from => $a, dbd_ports => [$pport], dbd_options => '', httpd => 0)->start;
$b->make_repo('PROJ', 'repo');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

# The listener's connection refused, or in a loop of BBT711s: said.
sub no_listener_trouble {
    my ($mark, $what) = @_;
    my @bad = log_since($b, $mark) =~ /(BBT30[78]: [^\n]*|BBT711: [^\n]*)/g;
    is(scalar(@bad), 0, $what) or diag join "\n", @bad;
}

subtest 'DBDInitSQL none: the listener in service, a revocation heard' => sub {
    $a->user_add('alice');
    $a->grant('alice', 'PROJECT_WRITE', 'PROJ');
    my ($tok, $id) = $a->token_create('alice', name => 'pooled');
    my $mark = log_mark($b);
    $b->httpd_start;
    ok(wait_log($b, $mark, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up (BBT309)');
    ok(served_from_cache($b, $UP, auth_bearer($tok), $id), 'the token is answered from the cache');
    $a->cli_ok('revoke', $id);
    my ($ok, $tries, $seen) = until_status($b, $UP, auth_bearer($tok), 401);
    ok($ok, "revoked: refused through PgBouncer ($tries requests)") or diag $seen;
    no_listener_trouble($mark, 'the listener was never refused nor lost');
    $b->httpd_stop(graceful => 1);
};

schema_copy($a, 'bbt2');
cli_in($a, 'bbt2', 'user', 'add', 'alice');
cli_in($a, 'bbt2', 'grant', 'alice', 'PROJECT_WRITE', 'PROJ');

# The listener finds bbt2's tables, as the sessions do: it comes into
# service, and a token revoked in bbt2 is refused once the cache had it.
sub bbt2_heard {
    my ($name) = @_;
    my $mark = log_mark($b);
    $b->httpd_start;
    ok(wait_log($b, $mark, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up (BBT309)');
    my ($t, $tid) = token_in($a, 'bbt2', 'alice', $name);
    ok(served_from_cache($b, $UP, auth_bearer($t), $tid), "bbt2's token: from the cache");
    cli_in($a, 'bbt2', 'revoke', $tid);
    my ($ok, $tries, $seen) = until_status($b, $UP, auth_bearer($t), 401);
    ok($ok, "revoked in bbt2: refused ($tries requests)") or diag $seen;
    no_listener_trouble($mark, 'the listener finds what the sessions find (no BBT711)');
    $b->httpd_stop(graceful => 1);
}

subtest 'DBDInitSQL sets another search_path: the listener follows' => sub {
    $b->{extra_conf} = "DBDInitSQL \"SET search_path TO bbt2, public\"\n";
    bbt2_heard('path');
};

# Only bbt2r may use bbt2: the listener's login role alone would skip it
# in the same search_path and find public's tables.
subtest "DBDInitSQL's role too: the listener takes it" => sub {
    my ($dir, $root) = ($a->dir, $BBT::Env::ROOT);
    spew("$dir/run/bbt2-role.sql", "CREATE ROLE bbt2r NOLOGIN;\nGRANT bbt2r TO bbtoken_httpd;\n"
                    . "ALTER ROLE bbtoken_httpd NOINHERIT;\n"
                    . "REVOKE USAGE ON SCHEMA bbt2 FROM bbtoken_httpd;\nSET search_path TO bbt2;\n"
                    . "GRANT USAGE ON SCHEMA bbt2 TO :\"role\";\n\\i $root/sql/grants.sql\n");
    $a->psql(undef, file => "$dir/run/bbt2-role.sql", vars => ['role=bbt2r']);
    $b->{extra_conf} = "DBDInitSQL \"SET ROLE bbt2r\"\nDBDInitSQL \"SET search_path TO bbt2, public\"\n";
    bbt2_heard('role');
};

is(scalar($b->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $b->crash_lines;
$pgb->stop;
done_testing;
