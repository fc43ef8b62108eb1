# The failed-login throttle when the wall clock steps (an NTP step, an
# administrator's date, a VM resumed).  Its windows are on the monotonic
# clock: stepped forward by more than the window while an address is held
# back, the address stays held back (a window on the wall clock would end
# at once, and the guesser's count start afresh); stepped back by hours, it
# is held back no longer than BBTokenThrottleWindow (nor released early).
# Either way the window ends when the window says, and the count starts
# afresh then.  httpd runs with a preloaded wall clock (t/dso/clockback.c)
# that a file of the test's moves; its monotonic clock, and this test's,
# are the real ones.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC sleep);
use Time::Local qw(timegm);
use BBT::Env ();
use BBT::Clock qw(clock_preload);
use BBT::Cache qw(log_mark wait_log);

my $FAILS = 2;
my $WINDOW = 8;
my $AHEAD = $WINDOW + 3600;
my $BACK = 3 * 3600;

clock_preload();

my $env = BBT::Env->new(throttle => "BBTokenThrottleFailures $FAILS\nBBTokenThrottleWindow $WINDOW",
                        extra_conf => "<Location /metrics>\n    SetHandler bbtoken-metrics\n</Location>\n")->start;
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
$env->make_repo('PROJ', 'repo');

sub set_back { BBT::Clock::set_back($env, $_[0]) }

# A credential that is no token (a failure) from address $from: the response.
sub attempt {
    my ($from) = @_;
    return HTTP::Tiny->new(timeout => 30, local_address => $from)
        ->get($env->url($UP), { headers => { Authorization => $env->basic('nobody', 'wrong') } });
}

sub gauge {
    my $r = HTTP::Tiny->new(timeout => 30)->get($env->url('/metrics'));
    return ($r->{content} // '') =~ /^bbtoken_throttled_clients (\S+)$/m ? $1 : undef;
}

# httpd's wall clock, from its Date header, in seconds since the epoch.
sub httpd_time {
    my $date = HTTP::Tiny->new(timeout => 30)->get($env->url('/metrics'))->{headers}{date} // '';
    my %mon = (Jan => 0, Feb => 1, Mar => 2, Apr => 3, May => 4, Jun => 5, Jul => 6, Aug => 7, Sep => 8,
               Oct => 9, Nov => 10, Dec => 11);
    return $date =~ /(\d+) (\w{3}) (\d{4}) (\d\d):(\d\d):(\d\d) GMT/
        ? timegm($6, $5, $4, $1, $mon{$2}, $3) : 0;
}

sub mono { clock_gettime(CLOCK_MONOTONIC) }

# The preload works both ways: httpd's own clock (its Date header) moves.
set_back($BACK);
cmp_ok(time - httpd_time(), '>=', $BACK - 600, "httpd's clock can be set back");
set_back(-$AHEAD);
cmp_ok(httpd_time() - time, '>=', $AHEAD - 600, "httpd's clock can be set forward");
set_back(0);

# Throttle $from on the real clock; the monotonic time before its first
# failure, at or before which its window opened.
sub throttle {
    my ($from) = @_;
    my $opened = mono();
    is(attempt($from)->{status}, 401, "$from: failure $_") for 1 .. $FAILS;
    is(attempt($from)->{status}, 429, "$from: then 429");
    return $opened;
}

# Still held back after the step, then released when the window ends, not
# before: the last answer (401: a failure again) and when it came.
sub held_until_the_window_ends {
    my ($from, $opened) = @_;
    my $r = attempt($from);
    is($r->{status}, 429, 'still 429 after the step')
        or diag "a window on the wall clock: the step ended it";
    my $ra = $r->{headers}{'retry-after'} // 0;
    ok($ra >= 1 && $ra <= $WINDOW, "Retry-After $ra: within the window ($WINDOW s)");
    is(gauge(), 1, 'one throttled client');
    my $status = $r->{status};
    while ($status == 429 && mono() < $opened + $WINDOW + 120) {
        sleep 0.5;
        $status = attempt($from)->{status};
    }
    my $after = mono() - $opened;
    is($status, 401, 'the window ends: a failure again (401)');
    cmp_ok($after, '>=', $WINDOW, sprintf('not before the window: %.1f s after the first failure', $after));
    my $g = gauge();
    for (my $until = mono() + 60; ($g // -1) != 0 && mono() < $until; sleep 0.25) {
        $g = gauge();
    }
    is($g, 0, 'no throttled client once it has ended');
}

subtest "the wall clock set forward by $AHEAD s: the lock-out goes on" => sub {
    my $opened = throttle('127.0.0.8');
    set_back(-$AHEAD);
    held_until_the_window_ends('127.0.0.8', $opened);
    set_back(0);
};

subtest "the wall clock set back by $BACK s: the lock-out is no longer" => sub {
    my $opened = throttle('127.0.0.9');
    set_back($BACK);
    held_until_the_window_ends('127.0.0.9', $opened);
    # The 401 that ended it was the first failure of a new window.
    my $m = log_mark($env);
    is(attempt('127.0.0.9')->{status}, 401, "failure $_ of the new window") for 2 .. $FAILS;
    ok(wait_log($env, $m, qr/BBT505: client 127\.0\.0\.9 throttled: $FAILS failed logins in $WINDOW s/),
       'throttled again after BBTokenThrottleFailures');
    is(attempt('127.0.0.9')->{status}, 429, 'then 429');
    set_back(0);
};

set_back(0);
is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
