# A request with a second target (the project a fork's body names, a
# COPY's or MOVE's Destination) has its token's owner's level there read
# once the token is let in, and that read may wait: for a pooled
# connection (BBTokenDBWait), or behind a lock on the grants.  The token is
# judged again once the level has come, as after its owner's level on the
# target (t/80-cache-levels-wait): answered from the cache, its entry is
# believed only if it still may be (else the whole lookup answers) and its
# expiry is judged by the clock then; answered by the database, the level
# is asked on the lookup's connection, with no other wait between, and the
# expiry judged again after.  Judged only before the read, a token revoked
# or expired while its fork waited was let in once the connection, or a
# lock on the grants, was free.
# The metrics count such a request once: as what finally answered it (a
# miss sent on to the lookup, or a hit), never a hit or a level lookup on
# the way.
#
# One threaded child with one pooled connection, held as in
# t/80-cache-levels-wait: another user's first request takes it, its
# lookup waits for a lock of this test's, and its backend, stopped there
# (SIGSTOP), keeps it once the lock is gone.  Nothing is timed: each step
# waits for the log line, or PostgreSQL's state, that says the one before
# has happened; a token's expiry is waited for on PostgreSQL's clock.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use BBT::Env qw(auth_bearer);
use BBT::Cache qw(log_mark log_since wait_lines wait_log served_from_cache cache_counts counts_since
                  hold_pooled_connection until_heard);
use BBT::Util qw(in_background);
use BBT::HeldFork qw(held_fork_conf held_fork_env $REPO);

plan skip_all => 'one child with threads: the event or worker MPM' if ($ENV{BBT_MPM} // '') eq 'prefork';

my $env = held_fork_env(cache => 'on', wait => 120, threads => 8);
ok(wait_log($env, 0, qr/BBT309: /), 'the listener hears PostgreSQL');
sub fork_status { return BBT::HeldFork::fork_status($env, @_) }
sub fork_bg { my ($tok) = @_; return in_background($env->dir . '/run', sub { fork_status($tok) }) }

# The child's one pooled connection taken by a new token's request (a
# lookup) and kept (BBT::Cache).  The tokens are made before any case's:
# a token made later would forget the entry the case has made (the
# change is heard).
my @holders = map { ($env->token_create('carol', name => "holder $_", perms => ['REPO_READ']))[0] } 1 .. 12;
sub hold_the_connection { return hold_pooled_connection($env, $REPO, auth_bearer(shift @holders)) }

# Until PostgreSQL's clock is past token $id's expiry, and then some.
sub expired {
    my ($id) = @_;
    for (1 .. 1200) {
        return 1 if $env->psql("SELECT now() > expires_at + interval '0.5 seconds'"
                               . " FROM bbtoken_tokens WHERE id = '$id'") eq 't';
        sleep 0.1;
    }
    return 0;
}

# Changes the cache's listener has been told of.
sub notified {
    return ($env->get('/metrics')->{content} =~ /^bbtoken_cache_notifications_total (\d+)$/m)[0] // 0;
}

# A token of bob's that forks (200), and is then answered from the cache:
# (token, id).  Its lookup row, made, notifies the cache twice ('t:' and
# its id, 'u:' and its owner's: The schema), which forgets the token's
# entries made before each is heard: the entry the case uses is made once
# both have been.  %o: token_insert's (an expiry).
sub cached_token {
    my (%o) = @_;
    my $n0 = notified();
    my ($tok, $id) = $env->token_insert('bob', %o);
    my $heard = 0;
    for (1 .. 600) {
        last if ($heard = notified() >= $n0 + 2);
        sleep 0.05;
    }
    ok($heard, "the token's creation is heard by the cache's listener");
    is(fork_status($tok), 200, 'bob forks PROJ/repo into OTHER');
    ok(served_from_cache($env, $REPO, auth_bearer($tok), $id), 'the token is answered from the cache');
    return ($tok, $id);
}

my $BBT318 = "its owner's level on OTHER is read from the database (BBT318) while the connection is held";

# A cached token's fork, sent while the connection is held: (token, id,
# the holder's status sub, its backend's pid, the fork's status sub, the
# log mark), once the fork was answered from the cache and waits to read
# the level on OTHER (BBT318).  The cache is believed only while the
# listener's heartbeat is fresh: on a busy machine a fork can find it
# stale (BBT312) and wait for the connection to read the token instead,
# which proves nothing here; that try is let go and made again with
# another token.
sub fork_waiting_from_cache {
    my (%token) = @_;
    for my $try (1 .. 5) {
        my ($tok, $id) = cached_token(%token, name => "$token{name} $try");
        my ($hold, $pid) = hold_the_connection();
        my $mark = log_mark($env);
        my $req = fork_bg($tok);
        my $said = join "\n", wait_lines($env->error_log_path, $mark,
            qr/BBT31[28]: token \Q$id\E /);
        return ($tok, $id, $hold, $pid, $req, $mark)
            if $said =~ /BBT318: token \Q$id\E answered from the cache: its owner's level on the second target/;
        diag "try $try: the fork was not answered from the cache ("
             . ($said =~ /BBT312: token \Q$id\E (.*)/ ? $1 : 'nothing said') . "): again";
        kill 'CONT', $pid;
        $req->();
        $hold->();
    }
    fail("the fork is answered from the cache; $BBT318");
    return;
}

subtest 'BBTokenCache on: revoked while the fork waits for its second target\'s level: 401' => sub {
    my ($tok, $id, $hold, $pid, $req, $mark) = fork_waiting_from_cache(name => 'revoked') or return;
    pass("the fork is answered from the cache; $BBT318");
    $env->cli_ok('revoke', $id);
    my $heard = until_heard($env, $REPO, auth_bearer($tok), $id);
    ok($heard, 'the revoke is heard: another request finds the entry out of date (BBT312)');
    my $m0 = cache_counts($env);
    is(kill('CONT', $pid), 1, 'the held backend goes on');
    is($req->(), 401, 'the fork that waited: 401') or diag log_since($env, $mark);
    is($heard ? $heard->() : '', 401, 'the read after the revoke: 401');
    is($hold->(), 200, 'the request that held the connection: 200');
    my $d = counts_since($env, $m0);
    is_deeply($d, { hits_total => 0, absent => 0, stale => 1, untrusted => 0, level_lookups_total => 0 },
              'the fork is counted once, as the stale entry that sent it to the lookup: no hit')
        or diag explain $d;
    is(fork_status($tok), 401, 'and the next: 401');
};

subtest 'BBTokenCache on: expired while the fork waits for its second target\'s level: 401' => sub {
    my ($tok, $id, $hold, $pid, $req, $mark) =
        fork_waiting_from_cache(name => 'short', expires => "now() + interval '10 seconds'") or return;
    pass("the fork is answered from the cache; $BBT318");
    ok(expired($id), 'the token has expired meanwhile');
    my $m0 = cache_counts($env);
    is(kill('CONT', $pid), 1, 'the held backend goes on');
    is($req->(), 401, 'the fork that waited: 401') or diag log_since($env, $mark);
    like(log_since($env, $mark), qr/BBT035: token \Q$id\E refused: token expired \(from the cache\)/,
         'refused as expired, by the clock once the level came, its entry still believed');
    is($hold->(), 200, 'the request that held the connection: 200');
    my $d = counts_since($env, $m0);
    is_deeply($d, { hits_total => 1, absent => 0, stale => 0, untrusted => 0, level_lookups_total => 0 },
              'the fork is counted once the cache has answered it: a hit')
        or diag explain $d;
};

$env->httpd_restart(graceful => 1, extra_conf => held_fork_conf(cache => 'off', wait => 120));

# The token's row is read once the connection is free, with its owner's
# levels: nothing it says can change between.
subtest 'BBTokenCache off: revoked while the fork waits for the connection: 401' => sub {
    my ($tok, $id) = $env->token_insert('bob', name => 'revoked off');
    is(fork_status($tok), 200, 'bob forks PROJ/repo into OTHER');
    my ($hold, $pid) = hold_the_connection();
    my $mark = log_mark($env);
    my $req = fork_bg($tok);
    ok(wait_log($env, $mark, qr/BBT454: read the request body of POST \Q$REPO\E /),
       'the fork has read its body for its route, and waits for the connection');
    $env->cli_ok('revoke', $id);
    is(kill('CONT', $pid), 1, 'the held backend goes on');
    is($req->(), 401, 'the fork that waited: 401') or diag log_since($env, $mark);
    is($hold->(), 200, 'the request that held the connection: 200');
};

subtest 'BBTokenCache off: expired while the fork waits for the connection: 401' => sub {
    my ($tok, $id) = $env->token_insert('bob', name => 'short off', expires => "now() + interval '10 seconds'");
    is(fork_status($tok), 200, 'bob forks PROJ/repo into OTHER');
    my ($hold, $pid) = hold_the_connection();
    my $mark = log_mark($env);
    my $req = fork_bg($tok);
    ok(wait_log($env, $mark, qr/BBT454: read the request body of POST \Q$REPO\E /),
       'the fork has read its body for its route, and waits for the connection');
    ok(expired($id), 'the token has expired meanwhile');
    is(kill('CONT', $pid), 1, 'the held backend goes on');
    is($req->(), 401, 'the fork that waited: 401') or diag log_since($env, $mark);
    like(log_since($env, $mark), qr/BBT035: token \Q$id\E refused: token expired/, 'refused as expired');
    is($hold->(), 200, 'the request that held the connection: 200');
};

# The owner's level on OTHER is asked after the token's row, on the
# lookup's connection: a lock on the grants (a migration's) holds the fork
# there, and its token is judged again by when that level came.
subtest 'BBTokenCache off: expired while its second target\'s level waits behind a lock: 401' => sub {
    my ($tok, $id) = $env->token_insert('bob', name => 'locked off', expires => "now() + interval '10 seconds'");
    # Its last use and address group written: nothing but the level on
    # OTHER is left for the fork to ask of the grants.
    is(fork_status($tok), 200, 'bob forks PROJ/repo into OTHER');
    $env->lock_tables('bbtoken_project_grants', 'bbtoken_repo_grants');
    my $mark = log_mark($env);
    my $req = fork_bg($tok);
    my $waits = 0;
    for (1 .. 600) {
        last if ($waits = $env->waiting_on_lock('bbtoken_httpd')) >= 1;
        sleep 0.1;
    }
    ok($waits >= 1, 'the fork waits for the lock on the grants');
    ok(expired($id), 'the token has expired meanwhile');
    $env->unlock_tables;
    is($req->(), 401, 'answered once the lock is gone: 401') or diag log_since($env, $mark);
    like(log_since($env, $mark), qr/BBT035: token \Q$id\E refused: token expired/, 'refused as expired');
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
