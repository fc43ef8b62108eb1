# A token revoked while the cache's listener is away, and presented again
# only once the listener is back, is refused then.  Its notification went
# to no one: PostgreSQL delivers one only to the sessions that listened
# when it was committed, and the listener's new session passes over the
# ones before its LISTEN.  No request came in between to find the token's
# entry untrusted and make it anew.  The listener forgets every entry when
# it subscribes again: whatever changed while no one listened.  It is kept
# away by its backend ended and its role refused new logins (NOLOGIN: the
# pooled connections stay), then let back.
#
# On the current schema, and on schema 58.  From version 59 the heartbeat
# reads how many changes skipped their notification (sql/migrations/0059),
# which the subscription does not read, so the first heartbeat after it
# finds the tables' identity changed and forgets every entry as well; on
# 58 the subscription's forgetting is all that refuses the token.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Cache qw(served_from_cache wait_log settle log_mark log_since);
use BBT::Migrations qw(env_before_skips);

my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

# Token $tok (id $id) answered from $env's cache, then revoked by $revoke
# while the listener is away; the next request, once it is back, must be
# refused, the cache having forgotten the entry.  $other, a token of the
# same owner, shows the cache believed again.
sub revoked_while_away {
    my ($env, $tok, $id, $other, $oid, $revoke) = @_;
    settle();
    ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'the token: answered from the cache');
    my $mark = log_mark($env);
    $env->psql('ALTER ROLE bbtoken_httpd NOLOGIN');
    my $pid = $env->psql("SELECT pid FROM pg_stat_activity WHERE application_name = 'mod_bbtoken listener'");
    like($pid, qr/^\d+$/, "the listener's backend: $pid");
    is($env->psql("SELECT pg_terminate_backend($pid)"), 't', 'ended');
    ok(wait_log($env, $mark, qr/BBT307: the token cache's listener lost its connection/), 'the listener is away');
    ok(wait_log($env, $mark, qr/BBT308: the token cache's listener cannot reach PostgreSQL/),
       '  and cannot come back');
    $revoke->();
    $env->psql('ALTER ROLE bbtoken_httpd LOGIN');
    ok(wait_log($env, $mark, qr/BBT309: the token cache's listener hears PostgreSQL again/), 'the listener is back');
    my $back = log_mark($env);
    is_401($env->get($UP, auth_bearer($tok)), 1, 'the token revoked meanwhile: refused');
    like(log_since($env, $back), qr/BBT312: token \Q$id\E not answered from the cache: its entry is older than the last change/,
         '  its entry forgotten');
    ok(served_from_cache($env, $UP, auth_bearer($other), $oid), 'the cache is believed again');
    is_401($env->get($UP, auth_bearer($tok)), 1, 'the revoked token stays refused');
    is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
}

subtest 'the current schema' => sub {
    my $env = BBT::Env->new->start;
    $env->make_repo('PROJ', 'repo');
    $env->user_add('alice');
    $env->grant('alice', 'PROJECT_WRITE', 'PROJ');
    ok(wait_log($env, 0, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up');
    my ($tok, $id) = $env->token_create('alice', name => 'away');
    my ($other, $oid) = $env->token_create('alice', name => 'other');
    revoked_while_away($env, $tok, $id, $other, $oid, sub { $env->cli_ok('revoke', $id) });
    $env->cleanup;
};

subtest 'schema 58' => sub {
    my $FROM = 58;
    my $env = env_before_skips();
    $env->make_repo('PROJ', 'repo');
    ok(wait_log($env, 0, qr/BBT309: the token cache's listener hears PostgreSQL/), "the listener is up on version $FROM");
    # Made in SQL: the CLI wants the latest schema.
    $env->psql("INSERT INTO bbtoken_users (name) VALUES ('alice')");
    $env->psql("INSERT INTO bbtoken_project_grants (user_id, project_key, permission)"
               . " SELECT id, 'PROJ', 'PROJECT_WRITE' FROM bbtoken_users WHERE name = 'alice'");
    my ($tok, $id) = $env->token_insert('alice', name => 'away', project => 'PROJECT_READ', repo => 'REPO_READ');
    my ($other, $oid) = $env->token_insert('alice', name => 'other', project => 'PROJECT_READ', repo => 'REPO_READ');
    revoked_while_away($env, $tok, $id, $other, $oid,
                       sub { $env->psql("UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$id'") });
    $env->cleanup;
};

done_testing;
