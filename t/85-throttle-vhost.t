# BBTokenThrottle per virtual host, as README's directive table has it:
# off in a virtual host, that host's logins are neither counted nor held
# back, while the other hosts (the main server, and a virtual host that
# says nothing, which takes the main server's setting) share one count;
# off in the main server and on in a virtual host, the throttle is made
# (BBT503) and that host alone throttles.  Real httpd and PostgreSQL.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_basic get_from);
use BBT::Cache qw(log_mark wait_log);

my $FAILS = 3;
my $THROTTLE = "BBTokenThrottleFailures $FAILS\nBBTokenThrottleWindow 3600";
my ($p_set, $p_unset) = (BBT::Env::free_port(), BBT::Env::free_port());
# The main server's setting, and that of a virtual host that sets it.
sub conf {
    my ($vhost) = @_;
    return <<"EOC";
Listen 127.0.0.1:$p_set
Listen 127.0.0.1:$p_unset
<VirtualHost 127.0.0.1:$p_set>
    BBTokenThrottle $vhost
</VirtualHost>
<VirtualHost 127.0.0.1:$p_unset>
    ServerName unset.example
</VirtualHost>
<Location /scm>
    AuthBBTokenProvider file
    AuthUserFile "\@DIR\@/htpasswd"
</Location>
EOC
}
my $env = BBT::Env->new(extra_conf => conf('off'), modules => [qw(authn_file)], throttle => $THROTTLE)->start;
$env->htpasswd(carol => 'carol-Pa55-word');
$env->user_add('carol');
$env->grant('carol', 'PROJECT_READ', 'PROJ');
$env->make_repo('PROJ', 'repo');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my %url = (main => $env->url($UP), set => "http://127.0.0.1:$p_set$UP", unset => "http://127.0.0.1:$p_unset$UP");
my $bad = auth_basic('carol', 'wrong');
my $good = auth_basic('carol', 'carol-Pa55-word');

subtest 'on in the main server, off in a virtual host' => sub {
    ok(wait_log($env, 0, qr/BBT503: failed-login throttle on/), 'the throttle is on');
    is(get_from('127.0.0.5', $url{set}, $bad), 401, "the host that says off: failure $_") for 1 .. 2 * $FAILS;
    is(get_from('127.0.0.5', $url{set}, $good), 200, '  not counted there: the right password is 200');
    is(get_from('127.0.0.5', $url{main}, $good), 200, '  nor at the main server: 200');
    is(get_from('127.0.0.5', $url{unset}, $good), 200, '  nor at the host that says nothing: 200');

    is(get_from('127.0.0.6', $url{main}, $bad), 401, "main server: failure $_") for 1 .. $FAILS - 1;
    is(get_from('127.0.0.6', $url{unset}, $bad), 401, "the host that says nothing: failure $FAILS");
    is(get_from('127.0.0.6', $url{main}, $good), 429, '  one count for both: throttled at the main server');
    is(get_from('127.0.0.6', $url{unset}, $good), 429, '  and at the host that says nothing');
    is(get_from('127.0.0.6', $url{set}, $good), 200, '  not held back at the host that says off');
};

subtest 'off in the main server, on in a virtual host' => sub {
    my $m = log_mark($env);
    $env->httpd_restart(graceful => 1, throttle => "BBTokenThrottle off\n$THROTTLE", extra_conf => conf('on'));
    ok(wait_log($env, $m, qr/BBT503: failed-login throttle on: $FAILS failures from one address in 3600 s/),
       'the throttle is made for the one host (BBT503)');
    is(get_from('127.0.0.7', $url{set}, $bad), 401, "the host that says on: failure $_") for 1 .. $FAILS;
    is(get_from('127.0.0.7', $url{set}, $good), 429, '  throttled there');
    is(get_from('127.0.0.7', $url{main}, $good), 200, '  not held back at the main server');
    is(get_from('127.0.0.7', $url{unset}, $good), 200, '  nor at the host that says nothing (off, as the main server)');

    is(get_from('127.0.0.8', $url{main}, $bad), 401, "main server: failure $_") for 1 .. $FAILS;
    is(get_from('127.0.0.8', $url{unset}, $bad), 401, "the host that says nothing: failure $_") for 1 .. $FAILS;
    is(get_from('127.0.0.8', $url{set}, $good), 200, '  neither counted: the right password at the host that says on is 200');
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
