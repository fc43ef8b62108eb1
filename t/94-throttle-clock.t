# The failed-login throttle when the clock is set back (an NTP step, an
# administrator's date): a window still open then would end more than
# BBTokenThrottleWindow from the new now.  It is over, as after a restart:
# the address is not held back for the step's length on top of the window,
# its Retry-After never exceeds the window, and its count starts afresh
# (so it is throttled again after BBTokenThrottleFailures more).  The
# gauge counts only the windows open now.  httpd runs with a preloaded
# clock (t/dso/clockback.c) that a file of the test's sets back.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use Time::Local qw(timegm);
use BBT::Env ();
use BBT::Clock qw(clock_preload);
use BBT::Cache qw(log_mark log_since wait_log);

my $FAILS = 2;
my $WINDOW = 60;
my $BACK = 3 * 3600;

clock_preload();

my $env = BBT::Env->new(throttle => "BBTokenThrottleFailures $FAILS\nBBTokenThrottleWindow $WINDOW",
                        extra_conf => "<Location /metrics>\n    SetHandler bbtoken-metrics\n</Location>\n")->start;
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
$env->make_repo('PROJ', 'repo');

sub set_back { BBT::Clock::set_back($env, $_[0]) }

# A credential that is no token (a failure) from 127.0.0.8: the response.
sub attempt {
    return HTTP::Tiny->new(timeout => 30, local_address => '127.0.0.8')
        ->get($env->url($UP), { headers => { Authorization => $env->basic('nobody', 'wrong') } });
}

sub gauge {
    my $r = HTTP::Tiny->new(timeout => 30)->get($env->url('/metrics'));
    return ($r->{content} // '') =~ /^bbtoken_throttled_clients (\S+)$/m ? $1 : undef;
}

# The preload works: httpd's own clock (its Date header) is set back.
set_back($BACK);
my $date = HTTP::Tiny->new(timeout => 30)->get($env->url('/metrics'))->{headers}{date} // '';
my %mon = (Jan => 0, Feb => 1, Mar => 2, Apr => 3, May => 4, Jun => 5, Jul => 6, Aug => 7, Sep => 8,
           Oct => 9, Nov => 10, Dec => 11);
my $t = $date =~ /(\d+) (\w{3}) (\d{4}) (\d\d):(\d\d):(\d\d) GMT/
    ? timegm($6, $5, $4, $1, $mon{$2}, $3) : 0;
cmp_ok(time - $t, '>=', $BACK - 600, "httpd's clock is set back ($date)");
set_back(0);

subtest 'throttled on the real clock' => sub {
    is(attempt()->{status}, 401, "failure $_") for 1 .. $FAILS;
    my $r = attempt();
    is($r->{status}, 429, 'then 429');
    cmp_ok($r->{headers}{'retry-after'} // 0, '<=', $WINDOW, "Retry-After at most the window ($WINDOW s)");
    is(gauge(), 1, 'one throttled client');
};

subtest "the clock set back by $BACK s: the window is over" => sub {
    set_back($BACK);
    my $r = attempt();
    is($r->{status}, 401, 'not held back for the length of the step: a failure again (401)')
        or diag "Retry-After: " . ($r->{headers}{'retry-after'} // '-');
    is(gauge(), 0, 'no throttled client');
    my $m = log_mark($env);
    is(attempt()->{status}, 401, "failure $_ of the new window") for 2 .. $FAILS;
    ok(wait_log($env, $m, qr/BBT505: client 127\.0\.0\.8 throttled: $FAILS failed logins in $WINDOW s/),
       'throttled again after BBTokenThrottleFailures');
    $r = attempt();
    is($r->{status}, 429, 'then 429');
    cmp_ok($r->{headers}{'retry-after'} // 0, '<=', $WINDOW, "Retry-After at most the window ($WINDOW s)");
    is(gauge(), 1, 'one throttled client, not two');
};

set_back(0);
is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
