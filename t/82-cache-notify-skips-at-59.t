#!/usr/bin/perl
# A database at exactly schema version 59, the first whose changes may
# skip their notification (sql/migrations/0059), with httpd running: the
# listener's heartbeat must read bbtoken_notify_skips.n from version 59
# on, not only past it.  A revocation whose notification was skipped
# (at_usage 0, as with the NOTIFY queue half full) is refused all the
# same.  t/82-cache-notify-skips-upgrade goes from 58 straight to the
# latest version, where reading it from 59 or from a later one is alike;
# a site that upgraded to that release, and no further, is at 59.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Cache qw(served_from_cache until_status wait_log settle log_mark);
use BBT::Migrations qw(env_before_skips);

my $env = env_before_skips();
$env->make_repo('PROJ', 'repo');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
ok(wait_log($env, 0, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up on version 58');

# Made in SQL: the CLI wants the latest schema.
$env->psql("INSERT INTO bbtoken_users (name) VALUES ('alice')");
$env->psql("INSERT INTO bbtoken_project_grants (user_id, project_key, permission)"
           . " SELECT id, 'PROJ', 'PROJECT_WRITE' FROM bbtoken_users WHERE name = 'alice'");
my ($tok, $id) = $env->token_insert('alice', name => 'at59', project => 'PROJECT_READ', repo => 'REPO_READ');

# Version 59 and no further, as `bbtoken db upgrade` of that release ran
# it, with the roles' grant on its new table (sql/grants.sql) in the same
# transaction: the heartbeat reads the table from the first one under 59.
my $mark = log_mark($env);
my ($m59) = glob "$BBT::Util::ROOT/sql/migrations/0059_*.sql";
BBT::Util::spew($env->dir . '/scratch/to59.sql',
                "BEGIN;\n\\ir $m59\nGRANT SELECT ON bbtoken_notify_skips TO bbtoken_httpd, bbtoken_api;\nCOMMIT;\n");
$env->psql(undef, file => $env->dir . '/scratch/to59.sql');
is($env->psql('SELECT max(version) FROM bbtoken_schema'), 59, 'the database is at version 59');
ok(wait_log($env, $mark, qr/BBT309: the token cache's listener hears PostgreSQL again/),
   'the listener subscribes again under version 59');

# Every change from now on skips its notification.
$env->psql('UPDATE bbtoken_notify_skips SET at_usage = 0');
settle();
ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'the token: from the cache');
$env->psql("UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$id'");
is($env->psql('SELECT n FROM bbtoken_notify_skips'), 1, 'the revocation skipped its notification');
my ($ok, $tries, $seen) = until_status($env, $UP, auth_bearer($tok), 401);
ok($ok, "the revoked token is refused on version 59 ($tries requests)") or diag $seen;

done_testing;
