#!/usr/bin/perl
# httpd started on schema 58, whose changes always notify, and the schema
# upgraded to 59 under it (sql/migrations/0059): the cache's listener reads
# the schema's version with every heartbeat, and when it is another than
# the one it subscribed under it subscribes again, with the heartbeat that
# reads how many changes skipped their notification.  Without that, a
# change that skips it (at_usage 0 here: every one does, as with the NOTIFY
# queue half full) would go unheard until httpd restarts, and a revoked
# token stay in the cache.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Cache qw(served_from_cache until_status wait_log settle log_mark);
use BBT::Migrations qw(latest_version env_before_skips);

my $FROM = 58;
my $env = env_before_skips();
$env->make_repo('PROJ', 'repo');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
ok(wait_log($env, 0, qr/BBT309: the token cache's listener hears PostgreSQL/), "the listener is up on version $FROM");

# Made in SQL: the CLI wants the latest schema.
$env->psql("INSERT INTO bbtoken_users (name) VALUES ('alice')");
$env->psql("INSERT INTO bbtoken_project_grants (user_id, project_key, permission)"
           . " SELECT id, 'PROJ', 'PROJECT_WRITE' FROM bbtoken_users WHERE name = 'alice'");
my ($tok, $id) = $env->token_insert('alice', name => 'upgraded', project => 'PROJECT_READ', repo => 'REPO_READ');
settle();
ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'a token: from the cache');

my ($rc, $out, $err) = $env->cli('db', 'upgrade');
is($rc, 0, 'bbtoken db upgrade, httpd running') or diag "$out$err";
$env->grants_apply;
# 59, and whatever later migrations there are.
is($env->psql('SELECT version FROM bbtoken_schema'), latest_version(), 'the database is at version ' . latest_version());

# Every change from now on skips its notification.
$env->psql('UPDATE bbtoken_notify_skips SET at_usage = 0');
settle();
ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'the token: from the cache again');
$env->cli_ok('revoke', $id);
is($env->psql('SELECT n FROM bbtoken_notify_skips'), 1, 'the revocation skipped its notification');
my ($ok, $tries, $seen) = until_status($env, $UP, auth_bearer($tok), 401);
ok($ok, "the revoked token is refused, httpd not restarted ($tries requests)") or diag $seen;

done_testing;
