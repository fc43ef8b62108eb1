# The cache is believed only while the schema's twelve notifying triggers
# fire: those twelve, on their tables, not any twelve that call
# bbtoken_notify().
# A trigger of someone else's that calls the function too (on a table of
# their own, or a second one on a table of the schema's) must not stand in
# for one of the twelve that is disabled: a revocation would then go unheard,
# and the cache would answer the revoked token for as long as nothing else
# notified.  A thirteenth trigger alone changes nothing: the cache is believed.
# Nor may the tables' owner turn notifying triggers off and on again within
# one transaction unseen: the cache forgets what it held; nor empty the
# schema's version table to have fewer wanted.
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
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
ok(wait_log($env, 0, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up');

subtest 'a thirteenth trigger that notifies: the cache is believed' => sub {
    $env->psql('CREATE TABLE bbt_extra (x integer); '
               . 'CREATE TRIGGER bbt_extra_notify AFTER INSERT ON bbt_extra '
               . 'FOR EACH STATEMENT EXECUTE FUNCTION bbtoken_notify()');
    my ($tok, $id) = $env->token_create('alice', name => 'thirteenth');
    settle();
    ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'a token: from the cache');
};

# A request with $tok answered 200, its BBT037 line not "from the cache":
# the database decided.  The revocations below are heard all the same,
# through bbtoken_lookup's own trigger, so only this shows that a cache
# that must not be believed is not.
sub from_database {
    my ($tok, $id) = @_;
    my $mark = log_mark($env);
    my $st = $env->get($UP, auth_bearer($tok))->{status};
    my @l = BBT::Cache::wait_lines($env->error_log_path, $mark, qr/BBT037: token \Q$id\E /);
    my ($line) = grep {/BBT037: token \Q$id\E /} @l;
    return $st == 200 && defined $line && $line !~ /\(from the cache\)/;
}

# A token cached; then $table's trigger $trigger disabled, with another
# trigger that calls bbtoken_notify() in place: BBT710 must say so, and
# what $change->($id) takes away (a CLI command) must be refused, though
# no notification tells of it.
sub unheard_refused {
    my ($name, $table, $trigger, $change) = @_;
    my ($tok, $id) = $env->token_create('alice', name => $name);
    settle();
    ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'the token: from the cache');
    my $mark = log_mark($env);
    $env->psql("ALTER TABLE $table DISABLE TRIGGER $trigger");
    ok(wait_log($env, $mark, qr/BBT710: 11 of the 12 triggers that notify the token cache fire/),
       'BBT710 counts the named twelve alone');
    # The disabled trigger changed the triggers' identity, which forgot
    # every entry: the token is used again (and cached, if the cache were
    # believed) before the change.
    settle();
    $env->get($UP, auth_bearer($tok)) for 1 .. 3;
    ok(from_database($tok, $id) && from_database($tok, $id), 'the token is asked of the database, not the cache');
    my @cmd = $change->($id);
    $env->cli_ok(@cmd);
    my ($ok, $tries, $seen) = until_status($env, $UP, auth_bearer($tok), 401);
    ok($ok, "@cmd unheard, refused all the same ($tries requests)") or diag $seen;
    $env->psql("ALTER TABLE $table ENABLE ALWAYS TRIGGER $trigger");
}

subtest 'one of the twelve disabled, a thirteenth firing: not believed' => sub {
    unheard_refused('masked', 'bbtoken_tokens', 'bbtoken_tokens_notify_upd',
                    sub { ('revoke', $_[0]) });
};

subtest 'a second trigger on the same table does not stand in either' => sub {
    $env->psql('DROP TABLE bbt_extra; '
               . 'CREATE TRIGGER bbt_users_twin AFTER INSERT ON bbtoken_users '
               . 'FOR EACH STATEMENT EXECUTE FUNCTION bbtoken_notify()');
    unheard_refused('twin', 'bbtoken_users', 'bbtoken_users_notify_upd',
                    sub { ('user', 'disable', 'alice') });
};

# One of bbtoken_lookup's own notifying triggers disabled: a hand edit of
# the lookup's row (as a restore of that table writes it, or the token's
# next last use after a change made while the lookup's keeping triggers
# were off) would go unheard, so the cache is not believed either.
subtest "one of bbtoken_lookup's own disabled: not believed" => sub {
    $env->psql('DROP TRIGGER bbt_users_twin ON bbtoken_users');
    $env->cli_ok('user', 'enable', 'alice');
    my ($tok, $id) = $env->token_create('alice', name => 'lookup edited');
    settle();
    ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'the token: from the cache');
    my $mark = log_mark($env);
    $env->psql('ALTER TABLE bbtoken_lookup DISABLE TRIGGER bbtoken_lookup_notify_upd');
    ok(wait_log($env, $mark, qr/BBT710: 11 of the 12 triggers that notify the token cache fire/),
       "BBT710 counts bbtoken_lookup's own");
    settle();
    $env->get($UP, auth_bearer($tok)) for 1 .. 3;
    $env->psql("UPDATE bbtoken_lookup SET revoked = true WHERE id = '$id'");
    my ($ok, $tries, $seen) = until_status($env, $UP, auth_bearer($tok), 401);
    ok($ok, "the lookup's row revoked unheard, refused all the same ($tries requests)") or diag $seen;
    $env->psql('ALTER TABLE bbtoken_lookup ENABLE ALWAYS TRIGGER bbtoken_lookup_notify_upd');
    $env->psql("UPDATE bbtoken_lookup SET revoked = false WHERE id = '$id'");
};

# A grant table's row trigger (version 39) disabled: on a logical
# replica, whose apply fires no statement trigger, a grant removed from an
# owner with more grants than a level map holds would go unheard
# (t/82-cache-logical), so it is counted as the others are.  So is the
# tokens' TRUNCATE trigger (version 46: their INSERT and DELETE notify by
# row, naming the token, and a TRUNCATE names none).
subtest "a grant table's row trigger, or the tokens' TRUNCATE trigger, disabled: not believed" => sub {
    for my $tt (['bbtoken_project_grants', 'bbtoken_project_grants_notify_row'],
                ['bbtoken_repo_grants', 'bbtoken_repo_grants_notify_row'],
                ['bbtoken_tokens', 'bbtoken_tokens_notify_truncate']) {
        my ($t, $trigger) = @$tt;
        my $mark = log_mark($env);
        $env->psql("ALTER TABLE $t DISABLE TRIGGER $trigger");
        ok(wait_log($env, $mark, qr/BBT710: 11 of the 12 triggers that notify the token cache fire/),
           "BBT710 counts $trigger");
        my ($tok, $id) = $env->token_create('alice', name => "$trigger off");
        settle();
        $env->get($UP, auth_bearer($tok)) for 1 .. 3;
        ok(from_database($tok, $id) && from_database($tok, $id), '  a token is asked of the database, not the cache');
        $env->psql("ALTER TABLE $t ENABLE ALWAYS TRIGGER $trigger");
    }
    my ($tok, $id) = $env->token_create('alice', name => 'triggers back');
    ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'all back: the cache is believed');
};

# The tables' owner turns the notifying triggers off and on again, ENABLE
# ALWAYS as before, within one transaction: no heartbeat ever sees one
# off, and the change made meanwhile notified nothing.  Each trigger's row
# in the catalog was written again all the same (its xmin), and so the
# listener forgets every entry: the lookup, written by its own triggers,
# refuses the token, and so must the cache.
subtest 'notifying triggers off and on again within one transaction: forgotten' => sub {
    $env->cli_ok('user', 'enable', 'alice');
    my ($tok, $id) = $env->token_create('alice', name => 'toggled');
    settle();
    ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'the token: from the cache');
    my @off = (['bbtoken_tokens', 'bbtoken_tokens_notify_upd'], ['bbtoken_lookup', 'bbtoken_lookup_notify_upd']);
    $env->psql(join('; ', map { "ALTER TABLE $_->[0] DISABLE TRIGGER $_->[1]" } @off)
               . "; UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$id'; "
               . join('; ', map { "ALTER TABLE $_->[0] ENABLE ALWAYS TRIGGER $_->[1]" } @off));
    is($env->psql("SELECT string_agg(tgenabled::text, '') FROM pg_trigger WHERE tgname IN "
                  . "('bbtoken_tokens_notify_upd', 'bbtoken_lookup_notify_upd')"), 'AA', 'both fire always again');
    my ($ok, $tries, $seen) = until_status($env, $UP, auth_bearer($tok), 401);
    ok($ok, "revoked unheard: refused ($tries requests)") or diag $seen;
    my ($again, $aid) = $env->token_create('alice', name => 'after the toggle');
    ok(served_from_cache($env, $UP, auth_bearer($again), $aid), 'and the cache is believed');
};

# The triggers wanted are the schema version's: a version table emptied
# (by whoever owns it) must not let the newer ones off as if the schema
# were the oldest the module reads, or bbtoken_lookup's edits, say, would
# go unheard.
subtest 'the version table emptied: all twelve wanted' => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'no version');
    settle();
    ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'the token: from the cache');
    my $version = $env->psql('SELECT max(version) FROM bbtoken_schema');
    my $mark = log_mark($env);
    $env->psql('DELETE FROM bbtoken_schema; '
               . 'ALTER TABLE bbtoken_lookup DISABLE TRIGGER bbtoken_lookup_notify_upd');
    ok(wait_log($env, $mark, qr/BBT710: 11 of the 12 triggers that notify the token cache fire/),
       'BBT710: 11 of 12, not "of 6"');
    settle();
    $env->get($UP, auth_bearer($tok)) for 1 .. 3;
    $env->psql("UPDATE bbtoken_lookup SET revoked = true WHERE id = '$id'");
    my ($ok, $tries, $seen) = until_status($env, $UP, auth_bearer($tok), 401);
    ok($ok, "the lookup's row revoked unheard, refused all the same ($tries requests)") or diag $seen;
    $env->psql("INSERT INTO bbtoken_schema (version) VALUES ($version); "
               . 'ALTER TABLE bbtoken_lookup ENABLE ALWAYS TRIGGER bbtoken_lookup_notify_upd; '
               . "UPDATE bbtoken_lookup SET revoked = false WHERE id = '$id'");
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
