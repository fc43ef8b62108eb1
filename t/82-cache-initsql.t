#!/usr/bin/perl
# The main server's DBDInitSQL sets its sessions up (SET search_path): its
# requests read the schema's tables in schema bbt2, while another copy of
# them stays in public, in the same database.  The cache's listener must
# check the triggers of the tables the requests read, not those its own
# default search_path finds: with bbt2's notifying trigger disabled (and
# public's firing) a token revoked in bbt2 notifies nothing, and the cache
# must not be believed (BBT710): the revoked token is refused.  With bbt2's
# triggers firing again, a revocation is heard and the cache is believed.
# The same with DBDInitSQL's SET ROLE to a role that alone may use bbt2.
# A pooled session that finds the tables somewhere the listener cannot
# follow (a temporary view of its own, first in every search_path) is not
# trusted either (BBT711).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::SchemaCopy qw(schema_copy cli_in token_in copy_to_public);
use BBT::Cache qw(served_from_cache until_status wait_log settle log_mark);

my $env = BBT::Env->new(httpd => 0)->start;
my $dir = $env->dir;
my $root = $BBT::Env::ROOT;
# The whole schema again, in bbt2, with the lookup role's grants there.
schema_copy($env, 'bbt2');
is($env->psql("SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
              . "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'bbt2' "
              . "AND t.tgname LIKE '%notify%'"), 12, "bbt2 has the schema's twelve notifying triggers");

$env->{extra_conf} = "DBDInitSQL \"SET search_path TO bbt2, public\"\n";
my $mark = log_mark($env);
$env->httpd_start;
$env->make_repo('PROJ', 'repo');
ok(wait_log($env, $mark, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up (BBT309)');

# The CLI on bbt2, as the server's sessions read it.
sub cli2 { return cli_in($env, 'bbt2', @_) }
cli2('user', 'add', 'alice');
cli2('grant', 'alice', 'PROJECT_WRITE', 'PROJ');
sub token2 { return token_in($env, 'bbt2', 'alice', $_[0]) }
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

my ($tok, $id) = token2('first');
is($env->psql("SELECT count(*) FROM public.bbtoken_tokens"), 0, 'public holds no token');
settle();
ok(served_from_cache($env, $UP, auth_bearer($tok), $id), "bbt2's token: from the cache");

my @off = (['bbtoken_tokens', 'bbtoken_tokens_notify_upd'], ['bbtoken_lookup', 'bbtoken_lookup_notify_upd']);
subtest "bbt2's notifying triggers disabled: not believed" => sub {
    my ($t, $tid) = token2('unheard');
    settle();
    ok(served_from_cache($env, $UP, auth_bearer($t), $tid), 'the token: from the cache');
    my $mark = log_mark($env);
    # The token's and its lookup row's: nothing notifies its revocation.
    $env->psql(join '; ', map { "ALTER TABLE bbt2.$_->[0] DISABLE TRIGGER $_->[1]" } @off);
    ok(wait_log($env, $mark, qr/BBT710: 10 of the 12 triggers that notify the token cache fire/, 10),
       "BBT710 counts bbt2's triggers");
    settle();
    $env->get($UP, auth_bearer($t)) for 1 .. 3;
    cli2('revoke', $tid);
    my ($ok, $tries, $seen) = until_status($env, $UP, auth_bearer($t), 401);
    ok($ok, "revoked in bbt2 unheard, refused all the same ($tries requests)") or diag $seen;
    $env->psql(join '; ', map { "ALTER TABLE bbt2.$_->[0] ENABLE ALWAYS TRIGGER $_->[1]" } @off);
};

subtest "bbt2's triggers firing: a revocation is heard" => sub {
    my ($t, $tid) = token2('heard');
    settle();
    ok(served_from_cache($env, $UP, auth_bearer($t), $tid), 'the cache is believed again');
    cli2('revoke', $tid);
    my ($ok, $tries, $seen) = until_status($env, $UP, auth_bearer($t), 401);
    ok($ok, "revoked in bbt2: refused ($tries requests)") or diag $seen;
    ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'the other token: still from the cache');
};

# The sessions' role set too (SET ROLE), and only that role may use bbt2:
# the listener's login role alone would skip bbt2 in the same search_path
# and find public's tables.  It takes the role as well, and so finds
# bbt2's: the cache is believed, and bbt2's changes heard.
subtest "DBDInitSQL's role: the listener's too" => sub {
    $env->httpd_stop(graceful => 1);
    BBT::Util::spew("$dir/run/bbt2-role.sql", "CREATE ROLE bbt2r NOLOGIN;\nGRANT bbt2r TO bbtoken_httpd;\n"
                    # Its privileges only once the session takes it.
                    . "ALTER ROLE bbtoken_httpd NOINHERIT;\n"
                    . "REVOKE USAGE ON SCHEMA bbt2 FROM bbtoken_httpd;\nSET search_path TO bbt2;\n"
                    . "GRANT USAGE ON SCHEMA bbt2 TO :\"role\";\n\\i $root/sql/grants.sql\n");
    $env->psql(undef, file => "$dir/run/bbt2-role.sql", vars => ['role=bbt2r']);
    $env->{extra_conf} = "DBDInitSQL \"SET ROLE bbt2r\"\nDBDInitSQL \"SET search_path TO bbt2, public\"\n";
    my $mark = log_mark($env);
    $env->httpd_start;
    ok(wait_log($env, $mark, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up (BBT309)');
    my ($t, $tid) = token2('role');
    settle();
    ok(served_from_cache($env, $UP, auth_bearer($t), $tid), "bbt2's token: from the cache");
    cli2('revoke', $tid);
    my ($ok, $tries, $seen) = until_status($env, $UP, auth_bearer($t), 401);
    ok($ok, "revoked in bbt2: refused ($tries requests)") or diag $seen;
    unlike(BBT::Cache::log_since($env, $mark), qr/BBT711/, 'the listener finds what the sessions find');
};

# A temporary view is found first whatever the search_path: the pooled
# sessions read bbt2's tokens through it, the listener cannot see it.
subtest "the pool's sessions find the tables where the listener cannot: not believed" => sub {
    $env->httpd_stop(graceful => 1);
    $env->{extra_conf} = "DBDInitSQL \"SET ROLE bbt2r\"\nDBDInitSQL \"SET search_path TO bbt2, public\"\n"
        . "DBDInitSQL \"CREATE TEMPORARY VIEW bbtoken_tokens AS SELECT * FROM bbt2.bbtoken_tokens\"\n";
    my $mark = log_mark($env);
    $env->httpd_start;
    ok(wait_log($env, $mark, qr/BBT711: the token cache's listener finds other tables/),
       'BBT711 says so');
    my ($ok) = until_status($env, $UP, auth_bearer($tok), 200);
    ok($ok, 'the token is served');
    ok(!served_from_cache($env, $UP, auth_bearer($tok), $id, 5), 'never from the cache');
    unlike(BBT::Cache::log_since($env, $mark), qr/BBT309/, 'the listener does not say it hears');
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
