# A refused login counts once, whatever page it is answered with.  httpd
# answers a refusal with its ErrorDocument by an internal redirect that
# shares the request's headers; when that page is in a section of the
# module, it would read the same credentials again and refuse them again:
# two failures for the throttle, two BBT034/BBT035 lines for fail2ban, and
# an address throttled after half of BBTokenThrottleFailures.  The error
# page does not decide them again (BBT730).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Assert;

my $FAILS = 4;
my $extra = <<'EOC';
<Location /env/PROJ>
    ErrorDocument 401 /env/errors/401
    ErrorDocument 403 /env/errors/403
    ErrorDocument 429 /env/errors/429
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra,
                        throttle => "BBTokenThrottleFailures $FAILS\nBBTokenThrottleWindow 3600")->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
my $tok = $env->token_create('alice', name => 'ro', perms => ['REPO_READ']);
my $bad = BBT::Env::mistype_token($tok);
my $url = '/env/PROJ/repo.git/info/refs?service=git-upload-pack';

sub count_log { my ($re) = @_; return scalar(() = $env->error_log_text =~ /$re/g) }

# A right token short of permission: its error page inherits the identity,
# as before, and nothing is counted.
my $r = $env->get('/env/PROJ/repo.git/info/refs?service=git-receive-pack', { Authorization => "Bearer $tok" });
is_status($r, 403, 'a right token short of permission: 403');

for my $i (1 .. $FAILS - 1) {
    $r = $env->get($url, { Authorization => "Bearer $bad" });
    is_status($r, 401, "mistyped token $i of " . ($FAILS - 1) . ': 401, not yet throttled');
}
my @challenges = map { ref $_ ? @$_ : $_ } $r->{headers}{'www-authenticate'} // ();
ok((grep { /^Bearer .*error="invalid_token"/ } @challenges), 'the 401 still says invalid_token');
is(count_log(qr/BBT034: /), $FAILS - 1, 'one BBT034 line per refused request (what fail2ban counts)');
is(count_log(qr/BBT730: credentials not accepted earlier in this request: not read again for \/env\/errors\/401/),
   $FAILS - 1, 'each error page says it did not read them again (BBT730)');
is(count_log(qr/BBT505: /), 0, 'the address is not throttled');

is_status($env->get($url, { Authorization => "Bearer $bad" }), 401, "failure $FAILS: 401");
is(count_log(qr/BBT505: client 127\.0\.0\.1 throttled: $FAILS failed logins/), 1,
   "after $FAILS refused requests the address is throttled (BBT505)");
is_status($env->get($url, { Authorization => $env->basic('alice', 'not-a-token') }), 429,
          'then a credential not shaped like a token is answered 429');
is_status($env->get($url, { Authorization => "Bearer $tok" }), 200, 'and the right token still works');

done_testing;
