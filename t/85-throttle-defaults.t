# The failed-login throttle with none of its directives set is what
# README's directive table says: BBTokenThrottle on, BBTokenThrottleFailures
# 30, BBTokenThrottleWindow 60, BBTokenThrottleTokens verify,
# BBTokenThrottleSize 1048576 (BBT503 says them).  And they hold: 29
# failures from an address do not throttle it, the 30th does; its passwords
# are answered 429 for 60 s from its first failure, not a second less, and
# its tokens are still verified.  httpd's boot clock, which the throttle's
# windows are on, is stopped and moved on by the test (t/dso/clockback.c):
# no assertion waits on the machine's speed.  Real httpd and PostgreSQL.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Env qw(auth_basic auth_bearer get_from);
use BBT::Cache qw(log_mark wait_log);
use BBT::Clock qw(boot_now clock_preload stopped_at);

clock_preload();
my $extra = <<'EOC';
BBTokenCache off
<Location /scm>
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(authn_file)],
                        throttle => '# none of the throttle directives: their defaults')->start;
$env->htpasswd(carol => 'carol-Pa55-word');
$env->user_add('carol');
$env->grant('carol', 'PROJECT_READ', 'PROJ');
$env->make_repo('PROJ', 'repo');
my $tok = $env->token_create('carol', name => 'ci');
my $url = $env->url('/scm/PROJ/repo.git/info/refs?service=git-upload-pack');
my $bad = auth_basic('carol', 'wrong');
my $good = auth_basic('carol', 'carol-Pa55-word');
my $from = '127.0.0.5';

ok(wait_log($env, 0, qr/BBT503: failed-login throttle on: 30 failures from one address in 60 s, then 429 for the rest of the window; 1048576 bytes of shared memory, room for 43688 addresses/),
   'BBT503: on, 30 failures in 60 s, tokens verified, 1 MiB')
    or diag(($env->error_log_text =~ /(BBT50[03]: [^\n]*)/)[0] // 'no BBT503');

sub from_here { HTTP::Tiny->new(timeout => 30, keep_alive => 0, local_address => $from)->get($url, { headers => $_[0] }) }

# A whole second ahead of the clock: it reads back exactly.
my $t0 = int(boot_now()) + 1;
stopped_at($env, $t0);
my $m = log_mark($env);
is(get_from($from, $url, $bad), 401, "failure $_") for 1 .. 29;
is(get_from($from, $url, $good), 200, '  29 failures: the right password is 200');
is(get_from($from, $url, $bad), 401, 'failure 30');
ok(wait_log($env, $m, qr/BBT505: client 127\.0\.0\.5 throttled: 30 failed logins in 60 s; its passwords are answered 429 for 60 s/),
   '  throttled by the 30th, for 60 s (BBT505)');
my $r = from_here($good);
is($r->{status}, 429, '  the right password: 429');
is($r->{headers}{'retry-after'}, 60, '  Retry-After: 60, the whole window');
is(get_from($from, $url, auth_bearer($tok)), 200, '  a token is still verified: 200');

stopped_at($env, $t0 + 59);
$r = from_here($good);
is($r->{status}, 429, '59 s after the first failure: still 429');
is($r->{headers}{'retry-after'}, 1, '  Retry-After: 1');
stopped_at($env, $t0 + 60);
is(get_from($from, $url, $good), 200, '60 s after it: the window has ended, 200');

is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
