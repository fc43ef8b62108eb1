# A token whose entry the cache believes, but not its owner's level on the
# target, has that level read from the database alone (t/80-cache-levels);
# that read may wait (for a pooled connection, BBTokenDBWait, or for the
# database's answer).  The entry was believed before the wait: once the
# level has come, it is believed only if it still may be, and otherwise
# the whole lookup answers.  Judged by the expiry alone, a token revoked
# while its request waited, or given lower permissions, was let in with the
# entry's old values once a connection freed, though the change had been
# heard long before (with BBTokenCache off that request is refused: the
# row is read after the wait).  Such a request is counted once, as the
# stale entry that sent it to the lookup: not first as a level the cache
# had not, read alone.
#
# One threaded child with one pooled connection.  Another user's first
# request takes it and keeps it: its lookup waits for a lock of this
# test's, and its backend, stopped there (SIGSTOP), keeps it once the lock
# is gone.  Then the token's request, the change, and a request that shows
# the change heard; then the backend goes on.  Nothing is timed: each step
# waits for the log line that says the one before has happened.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use BBT::Env qw(auth_bearer);
use BBT::Cache qw(log_mark log_since wait_lines wait_log served_from_cache cache_counts counts_since
                  hold_pooled_connection until_heard);

plan skip_all => 'one child with threads: the event or worker MPM' if ($ENV{BBT_MPM} // '') eq 'prefork';

# No statement_timeout: the held lookup waits as long as it is held.
my $env = BBT::Env->new(extra_conf => "DBDMin 0\nDBDKeep 1\nDBDMax 1\nBBTokenDBWait 120\n"
                                      . "<Location /metrics>\n    SetHandler bbtoken-metrics\n    Require all granted\n</Location>\n",
                        mpm_conf => BBT::Util::one_child_mpm(8), dbd_options => '')->start;
$env->make_repo('PROJ', 'repo');
$env->make_repo('Q', 'repo');
# Each case's user, whose level on Q is not in the cache until that case
# asks for it; bob's new tokens are the requests that hold the connection.
$env->user_add($_) for qw(alice carol bob);
for my $u (qw(alice carol)) {
    $env->grant($u, 'PROJECT_WRITE', $_) for qw(PROJ Q);
}
$env->grant('bob', 'PROJECT_READ', 'PROJ');
my ($atok, $aid) = $env->token_create('alice', name => 'revoked', perms => ['REPO_WRITE']);
my ($ctok, $cid) = $env->token_create('carol', name => 'lowered', perms => ['REPO_WRITE']);
my @holders = map { ($env->token_create('bob', name => "holder $_", perms => ['REPO_READ']))[0] } 1 .. 2;
ok(wait_log($env, 0, qr/BBT309: /), 'the listener hears PostgreSQL');

my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $QPUSH = '/scm/Q/repo.git/info/refs?service=git-receive-pack';

# Token $tok ($id), answered from the cache, pushes to Q, where its
# owner's level is not cached, while the connection is held; $change is
# made meanwhile, and heard: a read of PROJ finds the entry out of date
# (answered $read afterwards).  The push, once the connection is back, is
# answered $want, as is the next.
sub changed_while_waiting {
    my ($name, $tok, $id, $holder, $change, $want, $read) = @_;
    subtest $name => sub {
        ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'the token is answered from the cache');
        my ($hold, $pid) = hold_pooled_connection($env, $UP, auth_bearer($holder));
        my $mark = log_mark($env);
        my $req = $env->get_bg($QPUSH, auth_bearer($tok));
        ok(wait_log($env, $mark, qr/BBT317: token \Q$id\E answered from the cache, its owner's level on the target not/),
           'its request believes its entry and waits to read the level alone (BBT317)');
        $change->();
        my $heard = until_heard($env, $UP, auth_bearer($tok), $id);
        ok($heard, 'the change is heard: another request finds the entry out of date (BBT312)');
        # Every request but the waiting one has been counted: each
        # counts before its own wait.
        my $m0 = cache_counts($env);
        is(kill('CONT', $pid), 1, 'the held backend goes on');
        is($req->(), $want, "the request that waited: $want") or diag log_since($env, $mark);
        is($heard ? $heard->() : '', $read, "the read after the change: $read");
        is($hold->(), 200, 'the request that held the connection: 200');
        my $d = counts_since($env, $m0);
        is_deeply($d, { hits_total => 0, absent => 0, stale => 1, untrusted => 0, level_lookups_total => 0 },
                  'the request that waited is counted once: a stale miss, no level lookup')
            or diag explain $d;
        is($env->get($QPUSH, auth_bearer($tok))->{status}, $want, "and the next: $want");
    };
}

changed_while_waiting('revoked while its request waits for a connection: 401',
                      $atok, $aid, $holders[0], sub { $env->cli_ok('revoke', $aid) }, 401, 401);
changed_while_waiting("the token's permissions lowered while its request waits: 403 for a push",
                      $ctok, $cid, $holders[1], sub { $env->cli_ok('update', $cid, '--perm', 'REPO_READ') }, 403, 200);

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
