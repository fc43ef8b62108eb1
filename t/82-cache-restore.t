# A database restored under a running httpd (pg_restore --clean) changes
# what decides access without a notification: pg_restore drops the tables,
# makes them again and loads their rows before it makes their triggers.
# The cache's listener sees the tables made anew and forgets every entry,
# so a token that the restored database does not hold is refused, though
# the cache answered it just before.  While a notifying trigger is
# disabled, nothing is believed: a token revoked meanwhile is refused.  And
# a data-only restore's way (pg_restore --disable-triggers: DISABLE TRIGGER
# ALL, the rows, ENABLE TRIGGER ALL, in one transaction) is seen too: the
# triggers come back firing for ordinary sessions only, which a replica
# session's change (a logical subscription's apply) would not notify, so
# nothing is believed until they fire always again.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Util qw(run_cmd);
use BBT::Cache qw(served_from_cache until_status wait_log settle log_mark);

my $env = BBT::Env->new->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my ($old, $old_id) = $env->token_create('alice', name => 'before the dump');
ok(wait_log($env, 0, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up');

my $dump = $env->dir . '/scratch/bbtoken.dump';
my @conn = ('-h', '127.0.0.1', '-p', $env->pg_port, '-U', 'postgres');
my ($rc, $out, $err) = run_cmd(cmd => ["$BBT::Env::PGBIN/pg_dump", @conn, '-Fc', '-f', $dump, 'bbtoken'],
                               tmp => $env->dir . '/run', timeout => 60);
is($rc, 0, 'the database dumped') or diag $err;

my ($new, $new_id) = $env->token_create('alice', name => 'after the dump');
settle();
ok(served_from_cache($env, $UP, auth_bearer($new), $new_id), 'a token made after the dump: from the cache');
ok(served_from_cache($env, $UP, auth_bearer($old), $old_id), 'one made before: from the cache');

($rc, $out, $err) = run_cmd(cmd => ["$BBT::Env::PGBIN/pg_restore", @conn, '--clean', '--if-exists',
                                    '-d', 'bbtoken', $dump],
                            tmp => $env->dir . '/run', timeout => 120);
is($rc, 0, 'the dump restored over the database (pg_restore --clean)') or diag $err;
is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE id = '$new_id'"), 0,
   'the restored database does not hold the later token');

my ($ok, $tries, $seen) = until_status($env, $UP, auth_bearer($new), 401);
ok($ok, "the later token is refused now ($tries requests)") or diag $seen;
is($env->get($UP, auth_bearer($new))->{status}, 401, 'and stays refused');
is_ok_res($env->get($UP, auth_bearer($old)), 'the earlier token still works');

subtest 'a notifying trigger disabled: the cache is not believed while it is' => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'trigger off');
    settle();
    ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'the token: from the cache');
    my $mark = log_mark($env);
    $env->psql('ALTER TABLE bbtoken_tokens DISABLE TRIGGER bbtoken_tokens_notify_upd');
    ok(wait_log($env, $mark, qr/BBT710: 11 of the 12 triggers that notify the token cache fire/),
       'BBT710 says a trigger does not fire');
    $env->cli_ok('revoke', $id);
    my ($ok, $tries, $seen) = until_status($env, $UP, auth_bearer($tok), 401);
    ok($ok, "revoked unheard, still refused ($tries requests)") or diag $seen;
    $env->psql('ALTER TABLE bbtoken_tokens ENABLE ALWAYS TRIGGER bbtoken_tokens_notify_upd');
    my ($again, $aid) = $env->token_create('alice', name => 'trigger on');
    ok(served_from_cache($env, $UP, auth_bearer($again), $aid), 'the trigger back: the cache is believed again');
    is($env->get($UP, auth_bearer($tok))->{status}, 401, 'and the revoked token stays refused');
};

subtest "a data-only restore's triggers off and on in one transaction" => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'data only');
    settle();
    ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'the token: from the cache');
    # The restored rows: the token's, and its row of bbtoken_lookup as the
    # same dump holds it (derived from the token's, which the lookup's
    # triggers, off too, do not write).
    my $mark = log_mark($env);
    $env->psql('ALTER TABLE bbtoken_tokens DISABLE TRIGGER ALL; '
               . "UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$id'; "
               . "UPDATE bbtoken_lookup l SET revoked = r.revoked FROM bbtoken_lookup_rows(ARRAY['$id']) r"
               . " WHERE l.id = r.id; "
               . 'ALTER TABLE bbtoken_tokens ENABLE TRIGGER ALL');
    is($env->psql("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'bbtoken_tokens_notify%' "
                  . "AND tgenabled = 'O'"), 3, 'the notifying triggers fire, no longer always');
    ok(wait_log($env, $mark, qr/BBT710: 9 of the 12 triggers that notify the token cache fire always/),
       'BBT710 says three no longer fire always');
    my ($ok, $tries, $seen) = until_status($env, $UP, auth_bearer($tok), 401);
    ok($ok, "revoked while they were off: refused ($tries requests)") or diag $seen;
    # What they would not notify now: a replica session's change.
    # Asked twice after its creation's notification: were the cache
    # believed, the second answer and the next would come from it.
    my ($other, $oid) = $env->token_create('alice', name => 'replica session');
    settle();
    is_ok_res($env->get($UP, auth_bearer($other)), 'another token works') for 1 .. 2;
    $env->psql("SET session_replication_role = replica; "
               . "UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$oid'; "
               . "UPDATE bbtoken_lookup l SET revoked = r.revoked FROM bbtoken_lookup_rows(ARRAY['$oid']) r"
               . " WHERE l.id = r.id");
    is($env->get($UP, auth_bearer($other))->{status}, 401,
       'revoked by a replica session, which notifies nothing: refused at once');
    $env->psql('ALTER TABLE bbtoken_tokens ENABLE ALWAYS TRIGGER bbtoken_tokens_notify; '
               . 'ALTER TABLE bbtoken_tokens ENABLE ALWAYS TRIGGER bbtoken_tokens_notify_upd; '
               . 'ALTER TABLE bbtoken_tokens ENABLE ALWAYS TRIGGER bbtoken_tokens_notify_truncate');
    my ($again, $aid) = $env->token_create('alice', name => 'after data only');
    ok(served_from_cache($env, $UP, auth_bearer($again), $aid), 'ENABLE ALWAYS again: the cache is believed again');
    is($env->get($UP, auth_bearer($tok))->{status}, 401, 'the revoked token stays refused');
    is($env->get($UP, auth_bearer($other))->{status}, 401, 'and the other');
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
