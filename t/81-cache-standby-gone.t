# The pool reads a hot standby (DBDParams host=standby,primary with
# target_session_attrs=any): the listener's probe cannot be sent there
# (BBT714) and the cache is not believed.  The standby then goes away,
# the primary, where the listener is, staying up: the probe's next try
# finds the pooled connection dead, takes a new one (the primary's), is
# heard, and the cache is believed again, with no token request to wake
# the pool (the probe asks the server itself whether it is in recovery,
# never libpq's last word of a connection that is gone).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(sleep time);
use BBT::Env qw(auth_bearer);
use BBT::Cache qw(wait_log log_mark log_since);

my $env = BBT::Env->new(httpd => 0, extra_conf => <<'EOC')->start;
<Location /metrics>
    SetHandler bbtoken-metrics
    Require all granted
</Location>
EOC
my $sport = $env->pg_standby;
$env->{dbd_ports} = [$sport, $env->pg_port];
$env->{dbd_conninfo} = 'target_session_attrs=any';
$env->write_cgi;
$env->httpd_start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my ($tok, $id) = $env->token_create('alice', name => 't');
ok($env->pg_standby_caught_up, 'the standby has replayed the token');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
is($env->get($UP, auth_bearer($tok))->{status}, 200, 'a token request, read from the standby');
ok(wait_log($env, 0, qr/BBT714: .*recovery/, 60), 'BBT714: the pooled session\'s server is in recovery');

sub listeners {
    my $c = HTTP::Tiny->new(timeout => 30)->get($env->url('/metrics'))->{content} // '';
    return $c =~ /^bbtoken_cache_listeners (\S+)$/m ? $1 : -1;
}
is(listeners(), 0, 'the cache is not believed');
$env->pg_standby_stop;
my ($until, $l) = (time + 90, -1);
while (time < $until) {
    last if ($l = listeners()) == 1;
    sleep 0.5;
}
is($l, 1, 'the standby gone: believed again, no token request made');
is($env->get($UP, auth_bearer($tok))->{status}, 200, 'and the token works');
done_testing;
