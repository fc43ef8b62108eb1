# A password provider that fails (its file missing, as an LDAP server down
# would) answers 500 (BBT039), and the failed-login throttle counts none of
# it: a failure is a credential refused with 401, one a guess could have
# got.  Counted, an outage of the provider would leave every address that
# tried a password held back once it is over.  Real httpd and PostgreSQL.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_basic get_from);
use BBT::Cache qw(log_mark log_since wait_log);

my $FAILS = 3;
my $extra = <<'EOC';
<Location /scm>
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(authn_file)],
                        throttle => "BBTokenThrottleFailures $FAILS\nBBTokenThrottleWindow 3600")->start;
$env->user_add('carol');
$env->grant('carol', 'PROJECT_READ', 'PROJ');
$env->make_repo('PROJ', 'repo');
my $url = $env->url('/scm/PROJ/repo.git/info/refs?service=git-upload-pack');
my $from = '127.0.0.5';
ok(!-e $env->dir . '/htpasswd', 'no password file yet');

my $m = log_mark($env);
is(get_from($from, $url, auth_basic('carol', "guess-$_")), 500, "the provider fails: 500 ($_)") for 1 .. 2 * $FAILS;
like(log_since($env, $m), qr/BBT039: password check for user carol failed in its provider/, '  BBT039');

# The provider back: the address was never held back.
$env->htpasswd(carol => 'carol-Pa55-word');
is(get_from($from, $url, auth_basic('carol', 'carol-Pa55-word')), 200, 'the provider back: the right password is 200');
unlike(log_since($env, $m), qr/BBT50[56]: /, '  the address was never throttled');

# Its refusals count as ever.
is(get_from($from, $url, auth_basic('carol', 'wrong')), 401, "a wrong password: failure $_") for 1 .. $FAILS;
ok(wait_log($env, $m, qr/BBT505: client 127\.0\.0\.5 throttled: $FAILS failed logins/), '  throttled after them');
is(get_from($from, $url, auth_basic('carol', 'carol-Pa55-word')), 429, '  the right password: 429');

is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
