# A row of bbtoken_lookup that changes what it decides tells the caches,
# whatever wrote it.  After its triggers were off (a hand edit, a partial
# restore: BBT720), a row may say less than the live tables do, and the
# cache holds entries made from it, as the lookup without the cache reads
# it.  The next write of the token's row that notifies nothing (a last
# use, a new address group) writes the lookup row again from the live
# tables: from then on the lookup refuses the token, and an entry made
# from the old row must not go on letting it in.  `bbtoken db check` then
# finds nothing to repair, so its --repair, which notifies, never runs.
# Each lookup row's change that decides access (a revocation, a grant, an
# allow-list) notifies (the lookup's own triggers, migration 38), and the
# cache hears it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Cache qw(served_from_cache until_status wait_log settle log_mark);

my $env = BBT::Env->new->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
$env->user_add('bob');
$env->grant('bob', 'PROJECT_WRITE', 'PROJ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
ok(wait_log($env, 0, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up');

# Token $tok cached from a stale lookup row: $change made with the
# lookup's trigger $trigger (on $table) disabled, which notifies (the
# cache forgets) but leaves the row as it was; then the trigger enabled
# again, and $heal (a write that notifies nothing) writes the row again.
sub healed_refused {
    my ($name, $tok, $id, $table, $trigger, $change, $heal, $want) = @_;
    subtest $name => sub {
        settle();
        ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'the token: from the cache');
        my $mark = log_mark($env);
        $env->psql("ALTER TABLE $table DISABLE TRIGGER $trigger");
        ok(wait_log($env, $mark, qr/BBT720: 13 of the 14 triggers that keep bbtoken_lookup/),
           'BBT720: a lookup trigger is off');
        $change->();
        settle();
        ok(served_from_cache($env, $UP, auth_bearer($tok), $id),
           'changed with the row left stale: from the cache still, as the lookup says');
        $env->psql("ALTER TABLE $table ENABLE ALWAYS TRIGGER $trigger");
        $heal->();
        $env->cli_is('db check: the row written again', ['db', 'check'], 0, stdout => qr/ 0 rows wrong;/);
        my ($ok, $tries, $seen) = until_status($env, $UP, auth_bearer($tok), $want);
        ok($ok, "the row written again by a write that notifies nothing: $want ($tries requests)")
            or diag $seen;
        is($env->get($UP, auth_bearer($tok))->{status}, $want, "and it stays $want");
    };
}

my ($t1, $i1) = $env->token_create('alice', name => 'revoked');
healed_refused('a revocation the lookup missed, then a last use', $t1, $i1,
               'bbtoken_tokens', 'bbtoken_tokens_lookup_upd',
               sub { $env->cli_ok('revoke', $i1) },
               sub { $env->psql("UPDATE bbtoken_tokens SET last_authenticated = now() WHERE id = '$i1'") },
               401);

my ($t2, $i2) = $env->token_create('bob', name => 'ungranted');
healed_refused("a grant removed unwritten, then the token's new address group", $t2, $i2,
               'bbtoken_project_grants', 'bbtoken_project_grants_lookup_del',
               sub { $env->cli_ok('ungrant', 'bob', 'PROJ') },
               sub { $env->psql("SELECT bbtoken_note_net('$i2', '192.0.2.0/24', '192.0.2.7')") },
               403);

# The allow-list decides access as the grants do: the lookup row's own
# trigger lists it among the columns whose change notifies, or a token
# fenced while the row was stale would go on being let in, by the cached
# entry, from outside its new list (127.0.0.1 here).
my ($t3, $i3) = $env->token_create('alice', name => 'fenced later');
healed_refused('an allow-list set unwritten, then a last use', $t3, $i3,
               'bbtoken_tokens', 'bbtoken_tokens_lookup_upd',
               sub { $env->cli_ok('update', $i3, '--allow-from', '10.0.0.0/8') },
               sub {
                   $env->psql("UPDATE bbtoken_tokens SET last_authenticated = now() WHERE id = '$i3'");
                   is($env->psql("SELECT allowed_nets FROM bbtoken_lookup WHERE id = '$i3'"), '10.0.0.0/8',
                      'the lookup row has the new list');
               },
               401);

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
