# What is refused before the access-tokens API's handler runs is answered,
# on the handler's location, in Bitbucket's JSON error envelope with
# Content-Type application/json, and otherwise as httpd answers it: no
# login or a wrong one (401 with the challenge), a token where
# BBTokenRoutes none keeps tokens out (403), an address the failed-login
# throttle holds back (429 with Retry-After), a malformed Authorization
# header or a method override naming another method (400; also where a
# Require lets the request in without a login), the database
# unavailable (503 with Retry-After), a TRACE (405, with the Allow the
# handler gives the path); a HEAD
# gets no body.  A git location keeps httpd's HTML page.  The body is a
# fixed message: nothing of the request is in it, and, as the handler's
# answers, it goes with X-Content-Type-Options: nosniff and Cache-Control:
# no-store.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Assert;
use BBT::Rest qw(rest_env rest_header is_rest_envelope);
use BBT::Cache qw(log_mark wait_log);

my $FAILS = 4;
my $pw = 'alice-Pa55-word';
my $env = rest_env(login => 'bbtoken', passwords => [alice => $pw], users => ['alice'],
                   env => { throttle => "BBTokenThrottleFailures $FAILS\nBBTokenThrottleWindow 3600" },
                   extra_conf => "<Location /rest/access-tokens/1.0/open>\n    Require all granted\n</Location>\n");
my $tok = $env->token_create('alice', name => 'ci', perms => ['REPO_READ']);
my $API = '/rest/access-tokens/1.0/users/alice';
my $host = '127.0.0.1:' . $env->port;

# The envelope (BBT::Rest), naming nothing of the request, and as every
# answer of the handler, with Accept-Ranges: none.
sub is_refusal {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ok = is_rest_envelope(@_[0 .. 4], qr/alice|\Q$pw\E|\Q$tok\E|wrong-pw/);
    is(rest_header($_[0], 'accept-ranges'), 'none', "$_[4]: Accept-Ranges: none");
    return $ok;
}


subtest 'no login: 401 in JSON, with the challenge' => sub {
    my $res = $env->get($API);
    is_refusal($res, 401, qr/AuthorisationException$/, qr/^Authentication failed\. Please check your credentials/,
               'no Authorization');
    ok(grep({ /^Basic realm="Bitbucket"/ } challenges($res)), '  the Basic challenge is kept');
};

subtest 'a wrong password: 401 in JSON, with the challenge' => sub {
    my $res = $env->get($API, { Authorization => $env->basic('alice', 'wrong-pw') });
    is_refusal($res, 401, qr/AuthorisationException$/, qr/^Authentication failed\./, 'a wrong password');
    ok(grep({ /^Basic realm="Bitbucket"/ } challenges($res)), '  the Basic challenge is kept');
    $res = $env->get($API, { Authorization => $env->basic('nobody', 'wrong-pw') });
    is_refusal($res, 401, qr/AuthorisationException$/, qr/^Authentication failed\./, 'an unknown user');
};

subtest 'HEAD: the same head, no body' => sub {
    my $res = $env->raw_request("HEAD $API HTTP/1.1\r\nHost: $host\r\nConnection: close\r\n\r\n");
    is($res->{status}, 401, 'HEAD without a login: 401');
    is(rest_header($res, 'content-type'), 'application/json;charset=UTF-8', '  application/json');
    ok(grep({ /^Basic realm="Bitbucket"/ } challenges($res)), '  the challenge');
    is($res->{body} // '', '', '  and no body');
};

subtest 'a token: 403 in JSON (BBTokenRoutes none)' => sub {
    for my $auth ($env->bearer($tok), $env->basic('alice', $tok)) {
        my $res = $env->get($API, { Authorization => $auth });
        is_refusal($res, 403, qr/AuthorisationException$/, qr/tokens cannot be used/i,
                   'a token (' . (split / /, $auth)[0] . ')');
    }
};

subtest 'the right password still reaches the handler' => sub {
    my $res = $env->get($API, { Authorization => $env->basic('alice', $pw) });
    is_status($res, 200, 'alice lists her tokens: 200');
};

subtest 'a git location keeps httpd\'s page' => sub {
    my $res = $env->get('/scm/PROJ/repo.git/info/refs?service=git-upload-pack');
    is_status($res, 401, 'no login on /scm: 401');
    like(rest_header($res, 'content-type') // '', qr{^text/html}, '  text/html');
    like($res->{content} // '', qr/<html>/i, '  httpd\'s HTML page');
};

subtest 'a throttled address: 429 in JSON, with Retry-After' => sub {
    my $ua = HTTP::Tiny->new(timeout => 30, max_redirect => 0, local_address => '127.0.0.7');
    my $bad = { Authorization => $env->basic('alice', 'wrong-pw') };
    for my $i (1 .. $FAILS) {
        is($ua->get($env->url($API), { headers => $bad })->{status}, 401, "failure $i: 401");
    }
    my $res = $ua->get($env->url($API), { headers => { Authorization => $env->basic('alice', $pw) } });
    is_refusal($res, 429, qr/RateLimitedException$/, qr/^Too many failed logins/, 'the right password, throttled');
    like(rest_header($res, 'retry-after') // '', qr/^[1-9]\d*$/, '  Retry-After in seconds');
};

subtest 'a malformed Authorization header: 400 in JSON' => sub {
    my $res = $env->get($API, { Authorization => 'Basic !!!not-base64' });
    is_refusal($res, 400, qr/ArgumentValidationException$/, qr/^The Authorization header is malformed\.$/,
               'Basic with no base64');
    unlike($res->{content} // '', qr/not-base64/, '  the body echoes nothing of the header');
};

subtest 'a method override naming another method: 400 in JSON, saying so' => sub {
    my $res = $env->get($API, { Authorization => $env->basic('alice', $pw), 'X-HTTP-Method-Override' => 'DELETE' });
    is_refusal($res, 400, qr/ArgumentValidationException$/,
               qr/^A method override must name the request's own method\.$/, 'GET, X-HTTP-Method-Override: DELETE');
    unlike($res->{content} // '', qr/DELETE/, '  the body echoes nothing of the header');
};

subtest 'let in without a login, a method override naming another method: 400 in JSON' => sub {
    my $res = $env->get('/rest/access-tokens/1.0/open', { 'X-HTTP-Method-Override' => 'DELETE' });
    is_refusal($res, 400, qr/ArgumentValidationException$/,
               qr/^A method override must name the request's own method\.$/,
               'Require all granted, GET, X-HTTP-Method-Override: DELETE');
    unlike($res->{content} // '', qr/DELETE/, '  the body echoes nothing of the header');
};

# TRACE is refused before authentication (README, Status codes: 405), with
# or without a login; here in the envelope, with the Allow the handler
# gives the path (another method's, PATCH's), which the path alone says.
subtest 'TRACE: 405 in JSON, with the handler\'s Allow for the path' => sub {
    my $login = { Authorization => $env->basic('alice', $pw) };
    my $patch = $env->request(PATCH => $API, { %$login, 'Content-Type' => 'application/json' }, '{}');
    is($patch->{status}, 405, 'PATCH, logged in: the handler\'s 405');
    is(rest_header($patch, 'allow'), 'GET, HEAD, PUT', '  Allow: GET, HEAD, PUT');
    for my $c (['no login', {}], ['logged in', $login], ['a token', { Authorization => $env->bearer($tok) }]) {
        my ($what, $hdr) = @$c;
        my $res = $env->request(TRACE => $API, { %$hdr, 'X-Bbt-Probe' => 'echoed-if-answered' });
        is_refusal($res, 405, qr/MethodNotAllowedException$/, qr/^Method not allowed\.$/, "TRACE, $what");
        is(rest_header($res, 'allow'), 'GET, HEAD, PUT', '  Allow: the handler\'s, PATCH\'s');
        unlike($res->{content} // '', qr/echoed-if-answered|Basic|Bearer/, '  nothing of the request echoed');
    }
    for my $c (["$API/123456789012", 'GET, HEAD, POST, DELETE'], ["$API/123456789012/rotate", 'POST'],
               ['/rest/access-tokens/latest/revoke-by-value', 'POST'],
               ['/rest/access-tokens/1.0/projects/PROJ/repos/repo', 'GET, HEAD, PUT'],
               # No such resource: every method is 404 there, none allowed.
               ['/rest/access-tokens/1.0/nothing', '']) {
        my ($path, $allow) = @$c;
        my $res = $env->request(TRACE => $path);
        is_refusal($res, 405, qr/MethodNotAllowedException$/, qr/^Method not allowed\.$/, "TRACE $path");
        is(rest_header($res, 'allow'), $allow, "  Allow: '$allow'");
    }
    my $res = $env->request(TRACE => '/scm/PROJ/repo.git/info/refs');
    is($res->{status}, 405, 'TRACE on a git location: 405');
    like(rest_header($res, 'content-type') // '', qr{^text/html}, '  httpd\'s page, as before');
    like($env->error_log_text, qr{BBT044: TRACE /rest/access-tokens/1\.0/users/alice refused \(405\)},
         'the log says so (BBT044)');
};

# Last: the database stays down.  The token was answered from the cache
# above, which may answer until its listener notices the loss (README, The
# cache: within one 100 ms step): the request waits for it to say so
# (BBT307; BBT308 if it had not connected yet, and the cache was never
# believed).
subtest 'the database unavailable: 503 in JSON, with Retry-After' => sub {
    my $mark = log_mark($env);
    $env->pg_stop;
    ok(wait_log($env, $mark, qr/BBT30[78]: /), 'the listener says it does not hear PostgreSQL');
    my $res = $env->get($API, { Authorization => $env->bearer($tok) });
    is_refusal($res, 503, qr/ServiceUnavailableException$/, qr/^The token database is unavailable/,
               'a token, the database stopped');
    like(rest_header($res, 'retry-after') // '', qr/^[1-9]\d*$/, '  Retry-After in seconds');
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
