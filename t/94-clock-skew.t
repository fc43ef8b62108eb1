# httpd's clock against the database's.  A token's expiry is judged by
# httpd's clock (README, The cache): a host whose clock is behind would
# serve a token the database calls expired for as long as it is behind.
# The cache's listener reads the database's clock with every heartbeat:
# a host behind judges expiries by the database's clock (never later than
# it by more than a heartbeat's round trip), and says so (BBT826, BBT827
# once in time again), as it does for a clock ahead, which refuses tokens
# early; a restart keeps the last reading until the new listener's first.  httpd runs with a preloaded clock (t/dso/clockback.c) that a
# file of the test's sets back (or, negative, forward).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use HTTP::Tiny;
use BBT::Env qw(auth_bearer);
use BBT::Clock qw(clock_preload);
use BBT::Cache qw(log_mark log_since wait_log);

my $BACK = 3 * 3600;

clock_preload();

my $env = BBT::Env->new(extra_conf => $BBT::Env::DUMB_CONF)->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $UP = '/dumb/PROJ/repo.git/HEAD';

sub set_back { BBT::Clock::set_back($env, $_[0]) }

# A token that expires $secs from now by the database's clock.
sub token_expiring {
    my ($name, $secs) = @_;
    my ($tok, $id) = $env->token_create('alice', name => $name, expiry_days => 1);
    $env->psql("SET session_replication_role = replica; UPDATE bbtoken_tokens SET "
               . "created_at = now() - interval '1 day', "
               . "expires_at = now() + make_interval(secs => $secs) WHERE id = '$id'");
    return $tok;
}

sub status { $env->get($UP, auth_bearer($_[0]))->{status} }

ok(wait_log($env, 0, qr/BBT309: /), 'the listener hears PostgreSQL');
my $gone = token_expiring('gone', -60);
my $alive = token_expiring('alive', 3600);
is(status($gone), 401, 'in time: a token expired a minute ago is refused');
is(status($alive), 200, 'one that expires in an hour is served');

my $m = log_mark($env);
set_back($BACK);
ok(wait_log($env, $m, qr/BBT826: this host's clock is 10(?:79\d|800) s behind the database's/),
   "the clock set back by $BACK s: said (BBT826)");
is(status($gone), 401, 'the token expired a minute ago (by the database) is still refused');
is(status($alive), 200, 'the one that expires in an hour is still served');
is(status($gone), 401, 'and again, from the cache') for 1 .. 2;
is(status($alive), 200, 'and again, from the cache') for 1 .. 2;
my @said = log_since($env, $m) =~ /(BBT826: [^\n]*)/g;
is(scalar(@said), 1, 'said once') or diag explain \@said;

$m = log_mark($env);
set_back(0);
ok(wait_log($env, $m, qr/BBT827: this host's clock agrees with the database's again/),
   'in time again: said (BBT827)');
is(status($gone), 401, 'refused');
is(status($alive), 200, 'served');

$m = log_mark($env);
set_back(-$BACK);
ok(wait_log($env, $m, qr/BBT826: this host's clock is 10(?:79\d|800) s ahead of the database's/),
   "the clock set forward by $BACK s: said (BBT826)");
is(status($alive), 401, 'ahead, a token is refused early (fail closed), as the README says');
set_back(0);
ok(wait_log($env, $m, qr/BBT827: /), 'in time again');

# A restart keeps the last reading: until the new generation's listener
# has heard the database (BBT309), a host behind still judges by the
# database's clock, and serves no token it calls expired.  Without that,
# requests in that half second judged by this host's clock alone.
subtest 'a graceful restart keeps the last reading of the clock' => sub {
    my $m = log_mark($env);
    set_back($BACK);
    ok(wait_log($env, $m, qr/BBT826: /), 'the clock set back: said (BBT826)');
    is(status($gone), 401, 'the token expired a minute ago is refused');
    my $ua = HTTP::Tiny->new(timeout => 20);
    for my $round (1 .. 3) {
        $m = log_mark($env);
        my ($rc, $out, $err) = BBT::Util::run_cmd(cmd => [$BBT::Httpd::APACHE, '-f', $env->{conf}, '-k', 'graceful'],
                                                  tmp => "$env->{dir}/run", timeout => 60, env => $env->httpd_env);
        is($rc, 0, "graceful restart $round") or diag $err;
        my (%st, $n, $heard);
        # Asked again and again, without a pause, until the new listener
        # has heard the database, and a little after: until a deadline,
        # not for a number of requests, which a quicker machine sends
        # before the listener is up.
        my $deadline = time + $BBT::Cache::LIMIT;
        for ($n = 0; time < $deadline; $n++) {
            $st{ $ua->get($env->url($UP), { headers => auth_bearer($gone) })->{status} }++;
            last if $n >= 20 && ($heard = log_since($env, $m) =~ /BBT309: /);
        }
        ok($heard, "  asked until the new listener heard the database ($n requests)");
        ok(!$st{200}, "  the expired token is never served across it ($n requests: "
                      . join(', ', map {"$st{$_} x $_"} sort keys %st) . ')');
    }
    set_back(0);
};

# The restarts below stop httpd gracefully, as the crashed children are
# counted at the end: an ungraceful stop of the event MPM can crash a child
# in httpd's own code (close_worker_sockets; see BBT::Httpd's httpd_stop),
# and the virtual host's client closes its connection just before the
# next stop, while a worker may still be ending it.
#
# A virtual host that reads the listener's database judges by its clock
# too, from a child's first request for it on: the child learns that the
# host's database is the listener's from the connection that request uses.
subtest 'a virtual host of the same database, its first request in a child' => sub {
    my $port2 = BBT::Util::free_port();
    set_back(0);
    my $m = log_mark($env);
    $env->httpd_restart(graceful => 1,
                        extra_conf => "$BBT::Env::DUMB_CONF\nListen 127.0.0.1:$port2\n"
                                      . "<VirtualHost 127.0.0.1:$port2>\n</VirtualHost>\n");
    ok(wait_log($env, $m, qr/BBT309: /), 'the listener hears PostgreSQL');
    $m = log_mark($env);
    set_back($BACK);
    ok(wait_log($env, $m, qr/BBT826: /), 'the clock set back: said (BBT826)');
    my $ua = HTTP::Tiny->new(timeout => 20);
    for my $n (1 .. 2) {
        is($ua->get("http://127.0.0.1:$port2$UP", { headers => auth_bearer($gone) })->{status}, 401,
           "the virtual host refuses the token expired a minute ago (request $n)");
    }
    set_back(0);
};

subtest 'BBTokenCache off: no listener, the host\'s own clock' => sub {
    $env->httpd_restart(graceful => 1, extra_conf => "$BBT::Env::DUMB_CONF\nBBTokenCache off\n");
    set_back($BACK);
    is(status($gone), 200, 'a token expired a minute ago is served by a host 3 h behind (README: keep it in time)');
    set_back(0);
    is(status($gone), 401, 'refused in time');
};

set_back(0);
is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
