# The bounded wait for a pooled connection (BBTokenDBWait) when the clock
# is set back while a request waits (an NTP step, a VM resumed): the bound
# is a span of time, measured on a clock no step moves.  On the wall clock
# the request would wait for the step's length on top (here an hour,
# every worker thread that came meanwhile with it), not BBTokenDBWait.
# So is a statement's time in the metrics: a clock set forward while a
# statement runs does not add the step to bbtoken_db_query_duration_seconds.
# And a request that waits is served once a connection frees, a step of
# the clock meanwhile: the deadline is on the condition's own clock.
# httpd runs with a preloaded clock (t/dso/clockback.c) that a file of the
# test's sets back.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use POSIX ();
use Time::HiRes qw(sleep time);
use BBT::Env ();
use BBT::Cache ();
use BBT::Clock qw(clock_preload);
use BBT::Assert;

plan skip_all => 'one child with threads: the event or worker MPM' if ($ENV{BBT_MPM} // '') eq 'prefork';

clock_preload();

# The token cache off: a token answered from memory takes no pooled
# connection.  No statement_timeout: a query behind a lock waits for it.
# Each request's time of arrival on httpd's wall clock (the preloaded
# one): a request read before a step of the clock logs the time before it.
my $CLOCK_LOG = qq(LogFormat "%{sec}t %>s \\"%{User-Agent}i\\"" bbtclock\nCustomLog logs/clock_log bbtclock\n);
my $env = BBT::Env->new(extra_conf => "BBTokenCache off\nDBDMax 2\nBBTokenDBWait 2\n$CLOCK_LOG"
                                      . "<Location /metrics>\n    SetHandler bbtoken-metrics\n</Location>\n",
                        mpm_conf => BBT::Util::one_child_mpm(8), dbd_options => '')->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $tok = $env->token_create('alice', name => 'ci');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

sub set_back { BBT::Clock::set_back($env, $_[0]) }

# Whether request $n of request_in_child, answered $status, arrived before
# the clock was stepped by $step seconds at (real) time $at: its logged
# arrival is on the near side of the step, not $step seconds away.  A
# request that came after the step would wait on whatever clock and prove
# nothing.  httpd logs a request once its answer is sent: its line is
# waited for.
sub arrived_before_step {
    my ($n, $status, $at, $step) = @_;
    my $re = qr/^(\d+) $status "waiter-$n"$/m;
    my ($t) = join("\n", BBT::Cache::wait_lines("$env->{dir}/logs/clock_log", 0, $re)) =~ $re;
    return defined $t && abs($t - $at) < abs($step) / 2;
}

# A request from a child process, which gives up after $timeout s: its
# pid; the process exits with $exit{status} (1 for another status).  Its
# User-Agent is "waiter-N", N counting the calls ($requests after it:
# clock_log tells them apart).
my $requests = 0;
sub request_in_child {
    my ($timeout, %exit) = @_;
    my $agent = 'waiter-' . ++$requests;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $r = HTTP::Tiny->new(timeout => $timeout, keep_alive => 0, agent => $agent)
            ->get($env->url($UP), { headers => { Authorization => "Bearer $tok" } });
        POSIX::_exit($exit{ $r->{status} } // 1);
    }
    return $pid;
}

# bbtoken_lookup locked from a session of our own until released, and two
# requests holding the child's two connections, waiting for the lock:
# their pids (each exits 0 once served).
sub hold_both {
    $env->lock_tables('bbtoken_lookup');
    my @pids = map { request_in_child(120, 200 => 0) } 1 .. 2;
    my $n = 0;
    for (1 .. 100) { last if ($n = $env->waiting_on_lock('bbtoken_httpd')) >= 2; sleep 0.1 }
    is($n, 2, 'two requests hold both connections, waiting for the lock');
    return @pids;
}

# Both connections made and their statements prepared (a statement is
# prepared on a connection's first use: a PREPARE behind the lock below
# would not be a statement timed).  Two requests at once that each hold a
# connection until the lock goes: concurrent requests alone may each find
# the first connection free again on a busy machine, and mod_dbd opens a
# second only when both are wanted at once.
my @st = BBT::Util::in_children(6, sub {
    HTTP::Tiny->new(timeout => 30)->get($env->url($UP), { headers => { Authorization => "Bearer $tok" } })
        ->{status} == 200 ? 0 : 1 });
is(scalar(grep { $_ } @st), 0, 'warming up: six requests at once, 200');
{
    my @warm = hold_both();
    $env->unlock_tables;
    is(scalar(grep { waitpid($_, 0); $? == 0 } @warm), 2,
       'warming up: the two that held both connections are served (200)');
}
is($env->psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'bbtoken_httpd'"), 2,
   'the child holds its two connections');

my @holders = hold_both();

# Another waits for the connection; the clock goes back an hour meanwhile.
# The client gives up after 30 s: a wait on the wall clock would last the
# step's hour on top of BBTokenDBWait's 2 s.
my $waiter = request_in_child(30, 503 => 0, 599 => 2);
sleep 0.8;
my $stepped = time;
set_back(3600);
waitpid($waiter, 0);
is($? >> 8, 0, 'the waiting request is answered 503 (2: the client gave up after 30 s)');
ok(arrived_before_step($requests, 503, $stepped, 3600), '  it arrived before the clock went back');

# The two statements waiting for the lock end after the clock went
# forward an hour.
sub query_seconds {
    my $r = HTTP::Tiny->new(timeout => 30)->get($env->url('/metrics'));
    return ($r->{content} // '') =~ /^bbtoken_db_query_duration_seconds_sum (\S+)$/m ? $1 : undef;
}
set_back(0);
my $before = query_seconds();
ok(defined $before, "the statements' time so far: $before s") or diag 'no metrics';
set_back(-3600);
$env->unlock_tables;
my $ok = 0;
for my $pid (@holders) { waitpid($pid, 0); $ok++ if $? == 0 }
is($ok, 2, 'the lock gone, the two holding connections are served (200)');
set_back(0);
my $after = query_seconds();
cmp_ok($after - $before, '<', 600, "their time in the metrics is theirs, not the step's ("
       . ($after - $before) . ' s)');
# Nor does a step cut a wait short, and the wait is a wait: a request that
# finds both connections taken is served once one is free, well within
# BBTokenDBWait (here a minute), the clock set forward meanwhile.  The
# preload moves only httpd's user-space clocks: the kernel's side of the
# wait is on CLOCK_MONOTONIC because the condition says so
# (pthread_condattr_setclock); what this proves is that the deadline is
# on the condition's clock (on another, the wait would end at once or
# never).
subtest 'a waiting request is served when a connection frees' => sub {
    set_back(0);
    $env->httpd_restart(graceful => 1, extra_conf => "BBTokenCache off\nDBDMax 2\nBBTokenDBWait 60\n$CLOCK_LOG");
    my @st = BBT::Util::in_children(2, sub {
        HTTP::Tiny->new(timeout => 30)->get($env->url($UP), { headers => { Authorization => "Bearer $tok" } })
            ->{status} == 200 ? 0 : 1 });
    is(scalar(grep { $_ } @st), 0, 'warming up: two requests, 200');
    my @hold = hold_both();
    my $pid = request_in_child(120, 200 => 0, 503 => 3);
    my $n = $requests;
    # Long enough for the request to be waiting for a connection; were it
    # not yet, it would find one free and prove nothing, never fail.
    sleep 1;
    my $stepped = time;
    set_back(-3600);
    $env->unlock_tables;
    waitpid($pid, 0);
    is($? >> 8, 0, 'the waiting request is served (200; 3: answered 503)');
    ok(arrived_before_step($n, 200, $stepped, -3600), '  it arrived before the clock went forward');
    my $ok = 0;
    for (@hold) { waitpid($_, 0); $ok++ if $? == 0 }
    is($ok, 2, 'and the two that held the connections');
    set_back(0);
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
