# The cache is never believed while its listener cannot vouch for it: the
# listener's backend killed (pg_terminate_backend), PostgreSQL restarted or
# stopped, the listener's backend frozen (a connection that dies without a
# word), the host suspended while a token was revoked (its monotonic clock
# stood still: t/dso/clockback.c holds it back).  Each time a token revoked
# meanwhile is refused, and the cache is used again once the listener is
# back and has forgotten everything.  A lost connection withdraws the
# heartbeat at once: with httpd's clock stopped, so that the last one
# never ages, the cache is not believed after the loss all the same.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Cache qw(served_from_cache until_status listener_count settle wait_log log_mark log_since
                  listener_pid freeze_idle);
use BBT::Clock qw(clock_preload slept stopped);

clock_preload();
my $env = BBT::Env->new->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
# httpd's main process, by its PidFile, and the generations it has
# started (BBT404 each, a graceful restart's too): the module must recover
# by itself, httpd never started again.
my $httpd_main = $env->httpd_main_process;
like($httpd_main, qr/^\d+ \d+\z/, "httpd's main process and its start time: $httpd_main");
my $generations = () = $env->error_log_text =~ /BBT404: /g;
ok(wait_log($env, 0, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up');

subtest "the listener's backend killed, then a token revoked: refused at once" => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'killed');
    my ($other, $oid) = $env->token_create('alice', name => 'other');
    settle();
    ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'answered from the cache');
    my $mark = log_mark($env);
    my $pid = listener_pid($env);
    like($pid, qr/^\d+$/, "the listener's backend: $pid");
    is($env->psql("SELECT pg_terminate_backend($pid)"), 't', 'terminated');
    ok(wait_log($env, $mark, qr/BBT307: the token cache's listener lost its connection/),
       'the listener says it lost its connection');
    $env->cli_ok('revoke', $id);
    is_401($env->get($UP, auth_bearer($tok)), 1, 'the very next request is refused');
    ok(wait_log($env, $mark, qr/BBT309: the token cache's listener hears PostgreSQL again/),
       'the listener is back');
    isnt(listener_pid($env), $pid, 'on a new backend');
    ok(served_from_cache($env, $UP, auth_bearer($other), $oid), 'and the cache is used again');
    is_401($env->get($UP, auth_bearer($tok)), 1, 'the revoked token stays refused');
};

subtest 'PostgreSQL restarted, then a token revoked: refused' => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'restarted');
    my ($other, $oid) = $env->token_create('alice', name => 'after restart');
    settle();
    ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'answered from the cache');
    my $mark = log_mark($env);
    $env->pg_restart;
    $env->cli_ok('revoke', $id);
    my ($ok, $tries, $seen) = until_status($env, $UP, auth_bearer($tok), 401);
    ok($ok, "refused ($tries requests)") or diag $seen;
    unlike($seen, qr/\b200\b/, 'never let in after the revocation') or diag $seen;
    ok(wait_log($env, $mark, qr/BBT309: the token cache's listener hears PostgreSQL again/),
       'the listener is back');
    ok(served_from_cache($env, $UP, auth_bearer($other), $oid), 'and the cache is used again');
    is_401($env->get($UP, auth_bearer($tok)), 1, 'the revoked token stays refused');
};

subtest 'PostgreSQL stopped: 503 once the listener knows, never 401' => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'outage');
    settle();
    ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'answered from the cache');
    my $mark = log_mark($env);
    $env->pg_stop;
    ok(wait_log($env, $mark, qr/BBT307: the token cache's listener lost its connection/),
       'the listener says it lost its connection');
    is_503($env->get($UP, auth_bearer($tok)), 'a cached token: 503, the cache is not believed');
    is_503($env->get($UP, auth_bearer($tok)), 'again');
    $env->pg_start;
    ok(wait_log($env, $mark, qr/BBT309: the token cache's listener hears PostgreSQL again/),
       'the listener is back');
    ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'answered from the cache again');
};

subtest "a connection that dies without a word (the listener's backend frozen)" => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'frozen');
    settle();
    ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'answered from the cache');
    my $mark = log_mark($env);
    my $pid = listener_pid($env);
    like($pid, qr/^\d+$/, "the listener's backend: $pid");
    # Thawed whatever happens, or PostgreSQL could not stop.
    my $thaw = BBT::Cache::Guard->new(sub { kill 'CONT', $pid });
    my $tries = freeze_idle($env, $pid);
    ok($tries, "frozen: it reads nothing, answers nothing, and its socket stays open ($tries tries)");
    # Delivered to nobody: the backend that would pass it on is frozen.
    $env->cli_ok('revoke', $id);
    my ($ok, $n, $seen) = until_status($env, $UP, auth_bearer($tok), 401);
    ok($ok, "refused all the same ($n requests)") or diag $seen;
    like(log_since($env, $mark), qr/BBT312: token \Q$id\E not answered from the cache: the listener's heartbeat is not fresh/,
         'because the heartbeat went stale, not because anything was heard');
    ok(wait_log($env, $mark, qr/BBT307: the token cache's listener lost its connection to PostgreSQL \(no answer/),
       'the listener gives the silent connection up');
    ok(wait_log($env, $mark, qr/BBT309: the token cache's listener hears PostgreSQL again/),
       'and connects again, the frozen backend still frozen');
    kill 'CONT', $pid;
    is_401($env->get($UP, auth_bearer($tok)), 1, 'the revoked token stays refused');
};

# On a host that sleeps (suspend to RAM, a laptop's lid) the monotonic
# clock stands still: a heartbeat published before the sleep would look
# fresh after it, and a change committed meanwhile, which the listener has
# not yet read, would go unseen.  The listener's backend is frozen first so
# that it cannot read it at all; then, as on waking, the monotonic clock is
# as far behind as the time since.
subtest 'the host suspended while a token was revoked: refused on waking' => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'asleep');
    my ($other, $oid) = $env->token_create('alice', name => 'awake');
    settle();
    ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'answered from the cache');
    my $pid = listener_pid($env);
    like($pid, qr/^\d+$/, "the listener's backend: $pid");
    my $thaw = BBT::Cache::Guard->new(sub { kill 'CONT', $pid; slept($env, 0) });
    my $tries = freeze_idle($env, $pid);
    ok($tries, "its backend frozen ($tries tries)");
    my $asleep = time;
    $env->cli_ok('revoke', $id);
    # Longer than the heartbeat is believed, by the clock that counts sleep.
    sleep 1.5;
    my $mark = log_mark($env);
    slept($env, time - $asleep);
    is_401($env->get($UP, auth_bearer($tok)), 1, 'the first request on waking is refused');
    like(log_since($env, $mark), qr/BBT312: token \Q$id\E not answered from the cache: the listener's heartbeat is not fresh/,
         'the heartbeat from before the sleep is not believed');
    kill 'CONT', $pid;
    slept($env, 0);
    ok(served_from_cache($env, $UP, auth_bearer($other), $oid), 'the cache is believed again, the listener awake');
    is_401($env->get($UP, auth_bearer($tok)), 1, 'the revoked token stays refused');
};

# The listener that loses its connection withdraws its heartbeat then and
# there: the cache is distrusted from the loss on, not only once the last
# heartbeat is too old to be believed.  httpd's boot clock, by which the
# heartbeat's age is judged, is stopped first, so that the last heartbeat
# stays as young as it was for as long as the test takes, and the
# listener, whose retries wait on that clock, stays away: the token is
# revoked with no one listening.
subtest "the listener's connection lost: the cache distrusted at once, not once its heartbeat has aged" => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'withdrawn');
    my ($other, $oid) = $env->token_create('alice', name => 'clock running');
    settle();
    my $run = BBT::Cache::Guard->new(sub { stopped($env, 0) });
    stopped($env, 1);
    ok(served_from_cache($env, $UP, auth_bearer($tok), $id), "httpd's clock stopped: answered from the cache");
    my $mark = log_mark($env);
    my $pid = listener_pid($env);
    like($pid, qr/^\d+$/, "the listener's backend: $pid");
    is($env->psql("SELECT pg_terminate_backend($pid)"), 't', 'terminated');
    ok(wait_log($env, $mark, qr/BBT307: the token cache's listener lost its connection/),
       'the listener says it lost its connection');
    $env->cli_ok('revoke', $id);
    my $lost = log_mark($env);
    is_401($env->get($UP, auth_bearer($tok)), 1, 'the next request is refused');
    like(log_since($env, $lost), qr/BBT312: token \Q$id\E not answered from the cache: the listener's heartbeat is not fresh/,
         '  the heartbeat withdrawn, though no time has passed by the clock that ages it');
    stopped($env, 0);
    ok(wait_log($env, $mark, qr/BBT309: the token cache's listener hears PostgreSQL again/),
       'the clock running again, the listener is back');
    ok(served_from_cache($env, $UP, auth_bearer($other), $oid), 'and the cache is used again');
    is_401($env->get($UP, auth_bearer($tok)), 1, 'the revoked token stays refused');
};

is($env->httpd_main_process, $httpd_main,
   'httpd was never restarted: its PidFile names the same process, started at the same time');
ok(!BBT::Util::exited((split ' ', $httpd_main)[0]), 'and that process is still running');
is(scalar(() = $env->error_log_text =~ /BBT404: /g), $generations, 'nor restarted gracefully: no new generation');

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
