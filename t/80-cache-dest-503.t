# A request with a second target (the project a fork's body names, a
# COPY's or MOVE's Destination) answered from the request thread's own
# copy of the cache has its token's owner's level there read from the
# database (BBT318), and that read may fail: no pooled connection within
# BBTokenDBWait (BBT350), or its statement failing (BBT320).  The 503 is
# the answer: the request waits once, says so once, and is counted once,
# as the hit it was (README: bbtoken_cache_misses_total).  Taken for a
# miss of the thread's copy, it was asked again of the shared cache, or
# of the whole lookup once the listener's heartbeat had gone stale during
# the wait: a second wait, a second BBT350 or BBT320, a second count.
#
# One threaded child with one pooled connection, held as in
# t/80-cache-dest-wait.  A try whose thread had no copy of the token's
# entry (the shared cache answered it: no thread hit counted) proves
# nothing here and is made again.  Nothing is timed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Cache qw(log_mark log_since wait_log served_from_cache cache_counts counts_since
                  hold_pooled_connection);
use BBT::Util qw(in_background);
use BBT::HeldFork qw(held_fork_env $REPO);

plan skip_all => 'one child with threads: the event or worker MPM' if ($ENV{BBT_MPM} // '') eq 'prefork';

my $THREADS = 4;
my $env = held_fork_env(cache => 'on', wait => 3, threads => $THREADS);
ok(wait_log($env, 0, qr/BBT309: /), 'the listener hears PostgreSQL');
sub fork_status { return BBT::HeldFork::fork_status($env, @_) }

# Made before bob's token: a token made later forgets its entry.
my @holders = map { ($env->token_create('carol', name => "holder $_", perms => ['REPO_READ']))[0] } 1 .. 6;
my ($tok, $id) = $env->token_insert('bob', name => 'fork');

sub thread_hits {
    return ($env->get('/metrics')->{content} =~ /^bbtoken_cache_thread_hits_total (\d+)$/m)[0] // 0;
}

# The token's entry in the shared cache, then in the threads' copies:
# forks sent together, a thread each.
sub warm {
    ok(served_from_cache($env, $REPO, auth_bearer($tok), $id), 'the token is answered from the cache');
    for (1 .. 5) {
        my @bg = map { in_background($env->dir . '/run', sub { fork_status($tok) }) } 1 .. $THREADS;
        $_->() for @bg;
    }
}

# The fork, answered 503 from the thread's own copy ($arrange makes its
# read of the level on OTHER fail; it gives back what undoes that): the
# count of the log lines matching $failed, and what the cache counted.
# Another try if the shared cache answered it.
sub fork_503_from_thread {
    my ($arrange, $failed) = @_;
    for my $try (1 .. 5) {
        is(fork_status($tok), 200, 'bob forks PROJ/repo into OTHER');
        warm();
        my $undo = $arrange->();
        my ($m0, $t0, $mark) = (cache_counts($env), thread_hits(), log_mark($env));
        my $st = fork_status($tok);
        my $log = log_since($env, $mark);
        my ($d, $thread) = (counts_since($env, $m0), thread_hits() - $t0);
        $undo->();
        if ($st == 503 && $thread > 0) {
            my $n318 = () = $log =~ /BBT318: token \Q$id\E /g;
            my $nfailed = () = $log =~ /$failed/g;
            return ($n318, $nfailed, $d, $log);
        }
        diag "try $try: status $st, the thread's copy not used: again";
    }
    fail('a fork answered 503 from the thread\'s own copy');
    return;
}

subtest 'no pooled connection for the level on the second target: one wait, one count' => sub {
    my ($n318, $n350, $d, $log) = fork_503_from_thread(sub {
        my ($hold, $pid) = hold_pooled_connection($env, $REPO, auth_bearer(shift @holders));
        return sub {
            is(kill('CONT', $pid), 1, 'the held backend goes on');
            is($hold->(), 200, 'the request that held the connection: 200');
        };
    }, qr/BBT350: /) or return;
    is($n318, 1, 'the level on OTHER is asked for once (BBT318)') or diag $log;
    is($n350, 1, 'no connection within BBTokenDBWait, said once (BBT350)') or diag $log;
    is_deeply($d, { hits_total => 1, absent => 0, stale => 0, untrusted => 0, level_lookups_total => 0 },
              'counted once: the hit of the thread\'s copy')
        or diag explain $d;
};

subtest 'the statement for the level on the second target fails: said once, one count' => sub {
    my $fn = 'FUNCTION bbtoken_owner_levels(bbtoken_users, text, text)';
    my ($n318, $n320, $d, $log) = fork_503_from_thread(sub {
        # Only the second target's statement calls it: the level on PROJ
        # is the cache's.
        $env->psql("REVOKE EXECUTE ON $fn FROM PUBLIC, bbtoken_httpd");
        return sub { $env->psql("GRANT EXECUTE ON $fn TO bbtoken_httpd") };
    }, qr/BBT320: /) or return;
    is($n318, 1, 'the level on OTHER is asked for once (BBT318)') or diag $log;
    is($n320, 1, 'its statement\'s failure said once (BBT320)') or diag $log;
    is_deeply($d, { hits_total => 1, absent => 0, stale => 0, untrusted => 0, level_lookups_total => 0 },
              'counted once: the hit of the thread\'s copy')
        or diag explain $d;
    is(fork_status($tok), 200, 'the function granted again: the fork is let in');
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
