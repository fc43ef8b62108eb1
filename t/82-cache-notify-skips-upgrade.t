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
use BBT::Migrations qw(latest_version);

my $ROOT = $BBT::Env::ROOT;
my $FROM = 58;
my @upto = grep { m{/(\d{4})_} && $1 > 1 && $1 <= $FROM } sort glob "$ROOT/sql/migrations/0*.sql";
my $env = BBT::Env->new(httpd => 0, grants => 0,
                        schema_files => ["$ROOT/sql/migrations/0001_initial.sql"])->start;
BBT::Util::spew($env->dir . '/scratch/upto.sql', join '', map {"BEGIN;\n\\ir $_\nCOMMIT;\n"} @upto);
$env->psql(undef, file => $env->dir . '/scratch/upto.sql');
is($env->psql('SELECT version FROM bbtoken_schema'), $FROM, "the database is at version $FROM");

# The grants as they were at version 58: without the table that is not
# there yet.
for my $f (['grants.sql', 'bbtoken_httpd'], ['grants-api.sql', 'bbtoken_api']) {
    my $sql = BBT::Util::slurp("$ROOT/sql/$f->[0]");
    $sql =~ s/^GRANT SELECT ON bbtoken_notify_skips TO :"role";\n//m or die "$f->[0]: no grant on bbtoken_notify_skips";
    BBT::Util::spew($env->dir . "/scratch/$f->[0]", $sql);
    BBT::Util::spew($env->dir . '/scratch/grants-connect.sql', BBT::Util::slurp("$ROOT/sql/grants-connect.sql"));
    $env->psql(undef, file => $env->dir . "/scratch/$f->[0]", vars => ["role=$f->[1]"]);
}
$env->write_cgi;
$env->httpd_start;
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
