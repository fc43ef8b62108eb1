# The throttled writes (a token's last use, a new address group) never
# hold a pooled connection for long, so they never starve the lookups:
#   - a lock on bbtoken_tokens (migration 0045's SHARE ROW EXCLUSIVE,
#     0034's ACCESS EXCLUSIVE, an administrator's LOCK TABLE) made each
#     write wait its whole statement_timeout, a token's first use two of
#     them (its last use, then its new address group); with DBDMax such
#     requests in flight, a token whose lookup (bbtoken_lookup, not locked)
#     would have been answered got 503 after BBTokenDBWait.  Now a write
#     gives up the lock after a moment, said at debug (BBT085), the
#     request's other writes are not tried, and a later request makes
#     them once the lock is gone;
#   - a request the cache answers whose write is due takes a pooled
#     connection only if one is free at once: it neither waits
#     BBTokenDBWait for one (BBT350) nor holds one a waiting request is
#     owed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use HTTP::Tiny;
use BBT::Env;
use BBT::Assert;

plan skip_all => 'one child with threads: the event or worker MPM' if ($ENV{BBT_MPM} // '') eq 'prefork';

my $U = '/dumb/PROJ/repo.git/HEAD';

sub site {
    my ($conf) = @_;
    my $env = BBT::Env->new(extra_conf => "$BBT::Env::DUMB_CONF\n$conf", mpm_conf => BBT::Util::one_child_mpm(8))
        ->start;
    $env->make_repo('PROJ', 'repo');
    $env->user_add('alice');
    $env->grant('alice', 'PROJECT_WRITE', 'PROJ');
    return $env;
}

# Its requests (token => [token, client timeout]) at once, each in a
# process of its own: their statuses, in order.
sub at_once {
    my ($env, @reqs) = @_;
    my @w = map {
        my ($tok, $delay) = @$_;
        BBT::Util::in_background($env->dir . '/run', sub {
            sleep $delay;
            my $r = HTTP::Tiny->new(timeout => 60, keep_alive => 0)
                ->get($env->url($U), { headers => { Authorization => "Bearer $tok" } });
            return $r->{status};
        });
    } @reqs;
    return map { $_->() } @w;
}

subtest 'a locked bbtoken_tokens: the writes give up, the lookups are served' => sub {
    # Without the cache every request reads the database; two connections.
    my $env = site("BBTokenCache off\nDBDMax 2\n");
    my $used = $env->token_create('alice', name => 'used');
    my @fresh = map { [$env->token_create('alice', name => "fresh$_")] } 1 .. 2;
    is($env->get($U, { Authorization => "Bearer $used" })->{status}, 200,
       'a token used once: its last use is not due again for 60 s');

    my $hold = $env->pg_session('migration');
    $hold->send('BEGIN; LOCK TABLE bbtoken_tokens IN SHARE ROW EXCLUSIVE MODE;');
    ok($hold->done, 'bbtoken_tokens held as migration 0045 holds it (bbtoken_lookup is not)');
    my $mark = log_mark($env->error_log_path);
    # Two first uses (a last use and a new address group to write each),
    # then, once they hold both connections, a token with nothing to write.
    my @st = at_once($env, [$fresh[0][0], 0], [$fresh[1][0], 0], [$used, 1]);
    is($st[2], 200, 'a token with nothing to write is answered while bbtoken_tokens is held');
    is("$st[0] $st[1]", '200 200', 'and so are the first uses, their writes not made');
    my @log = log_lines_since($env->error_log_path, $mark);
    my @gave_up = grep { /\[bbtoken:debug\].* BBT085: recording last use: not made, a lock/ } @log;
    is(scalar @gave_up, 2, 'each first use gave up its last use, said at debug (BBT085)') or diag join "\n", @log;
    my @skipped = grep { /\[bbtoken:debug\].* BBT085: recording a new address group: not made, an earlier write/ } @log;
    is(scalar @skipped, 2, 'and did not try its new address group');
    is_deeply([grep { /BBT076|BBT602|BBT350/ } @log], [], 'no error for a write given up, no request without a connection');
    $hold->send('ROLLBACK;');
    ok($hold->done, 'the lock released');
    $hold->finish;

    # A write given up is made by a later request that finds it due.
    is($env->get($U, { Authorization => "Bearer $fresh[0][0]" })->{status}, 200, 'the first token used again');
    isnt($env->token_row($fresh[0][1])->{last_authenticated}, '', 'its last use is recorded now');
    is($env->psql("SELECT count(*) FROM bbtoken_token_nets WHERE token_id = '$fresh[0][1]'"), 1,
       'and its address group');
};

subtest 'a request the cache answers does not wait for a connection to write' => sub {
    # One connection; every use's last use due.
    my $env = site("DBDMax 1\nDBDKeep 1\nBBTokenDBWait 3\nBBTokenLastUseInterval 0\n");
    # Every token made before the first is used: a token made is a change
    # of alice's (the listener hears of it a moment later), after which
    # her entries are read from the database again.
    my $cached = $env->token_create('alice', name => 'cached');
    my $other = $env->token_create('alice', name => 'other');
    is($env->get($U, { Authorization => "Bearer $cached" })->{status}, 200, 'a token used: the cache holds it');
    # Answered from the cache twice, a second apart: no change of alice's
    # the listener had still to hear of (a token made, the first use's
    # writes) makes the entry older than the last change afterwards.
    my ($got, $hit) = (0, 0);
    for (1 .. 100) {
        my $mark = log_mark($env->error_log_path);
        $env->get($U, { Authorization => "Bearer $cached" });
        my $now = grep { /BBT037: .*\(from the cache\)/ } log_lines_since($env->error_log_path, $mark);
        last if ($got = $now && $hit);
        $hit = $now;
        sleep($hit ? 1 : 0.1);
    }
    ok($got, 'and answers it, and still a second later');

    # The one connection held by a lookup behind a lock.
    $env->lock_tables('bbtoken_lookup');
    my ($w) = map {
        my $tok = $_;
        BBT::Util::in_background($env->dir . '/run', sub {
            HTTP::Tiny->new(timeout => 60, keep_alive => 0)
                ->get($env->url($U), { headers => { Authorization => "Bearer $tok" } })->{status};
        });
    } $other;
    my $n = 0;
    for (1 .. 200) { last if ($n = $env->waiting_on_lock('bbtoken_httpd')) >= 1; sleep 0.05 }
    is($n, 1, "a token the cache does not hold waits for the lock on the child's one connection");
    my $mark = log_mark($env->error_log_path);
    my $res = $env->get($U, { Authorization => "Bearer $cached" });
    is($res->{status}, 200, 'the cached token is answered') or diag res_summary($res);
    my @log = log_lines_since($env->error_log_path, $mark);
    is_deeply([grep { /BBT350/ } @log], [], 'without waiting BBTokenDBWait for a connection to write its last use')
        or diag join "\n", @log;
    ok((grep { /\[bbtoken:debug\].* BBT085: the throttled writes of a request the cache answered: not made/ } @log),
       'the write not made is said at debug (BBT085)');
    $env->unlock_tables;
    is($w->(), 200, 'the waiting lookup is answered once the lock is gone');
};

done_testing;
