# A method override must not let a token do more than its route allowed.
# Backends behind the module (Jersey, Rack, Symfony, Laravel, ASP.NET,
# Express) run a POST as the method an X-HTTP-Method-Override,
# X-HTTP-Method or X-Method-Override header, or a _method query
# parameter, names; routes decide the request line's method.  So a
# request that carries credentials and an override naming another method
# is refused with 400 (BBT043) before its credentials are read, and is not
# a failed login; one naming its own method passes to the backend as it
# came.  Without credentials the 401 and its challenge stay.  The CGI here
# prints what it was handed; over HTTP/2 too; a git clone through the
# same server works.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(cgi_vars mistype_token run_cmd);
use BBT::Assert;

my $route = '"/ov/(?<project>[A-Z][A-Z0-9_]*)/(?<repo>[a-z0-9][a-z0-9._-]*)(/.*)?"';
my $extra = <<"EOC";
Protocols h2c http/1.1
ScriptAlias /ov/ "\@DIR\@/cgi-bin/ov.cgi/"
<Location /ov>
    AuthType BBToken
    AuthName "Backend"
    BBTokenRoute GET,HEAD $route REPO_READ
    BBTokenRoute POST $route REPO_WRITE
    BBTokenRoute DELETE $route REPO_ADMIN
    Require bbtoken
</Location>
<Location /metrics>
    SetHandler bbtoken-metrics
    Require ip 127.0.0.1
</Location>
<Location /ov/PROJ/errdoc>
    ErrorDocument 400 /open-env/error400
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(http2 authz_host)],
                        throttle => "BBTokenThrottleFailures 3\nBBTokenThrottleWindow 3600")->start;
BBT::Env::spew($env->dir . '/cgi-bin/ov.cgi', <<'EOS', 0755);
#!/bin/sh
[ -n "${CONTENT_LENGTH:-}" ] && head -c "$CONTENT_LENGTH" > /dev/null
# A local Location: httpd follows it as an internal redirect, a GET.
case "$PATH_INFO" in
    */redirect) printf 'Location: /ov/PROJ/repo/items/1\r\n\r\n'; exit 0 ;;
esac
printf 'Content-Type: text/plain\r\n\r\n'
printf 'REQUEST_METHOD=%s\n' "$REQUEST_METHOD"
printf 'QUERY_STRING=%s\n' "$QUERY_STRING"
printf 'HTTP_X_HTTP_METHOD_OVERRIDE=%s\n' "${HTTP_X_HTTP_METHOD_OVERRIDE:-}"
printf 'HTTP_X_HTTP_METHOD=%s\n' "${HTTP_X_HTTP_METHOD:-}"
printf 'HTTP_X_METHOD_OVERRIDE=%s\n' "${HTTP_X_METHOD_OVERRIDE:-}"
EOS
$env->user_add('alice');
$env->grant('alice', 'PROJECT_ADMIN', 'PROJ');
my $write = $env->token_create('alice', name => 'write', perms => ['REPO_WRITE']);
my $admin = $env->token_create('alice', name => 'admin', perms => ['REPO_ADMIN']);
my $auth = { Authorization => "Bearer $write" };
my $url = '/ov/PROJ/repo/items/1';

sub call {
    my ($method, $path, $hdrs) = @_;
    my $r = $env->request($method, $path, $hdrs, $method eq 'POST' ? '' : undef);
    return ($r, cgi_vars($r->{content}));
}

my ($r, $v) = call('POST', $url, $auth);
is_status($r, 200, 'control: POST with the REPO_WRITE token');
is($v->{REQUEST_METHOD}, 'POST', '  the backend ran it as POST');
($r) = call('DELETE', $url, $auth);
is_status($r, 403, 'control: DELETE needs REPO_ADMIN, which the token has not');
($r, $v) = call('DELETE', $url, { Authorization => "Bearer $admin" });
is_status($r, 200, 'control: DELETE with the REPO_ADMIN token');

# The metrics' count of 400s (each child's, summed in shared memory).
sub count400 {
    my $m = $env->get('/metrics');
    return $m->{content} =~ /^bbtoken_requests_total\{outcome="400"\} (\d+)$/m ? $1 : 0;
}
my $c400 = count400();

my $log_before = length($env->error_log_text);
my @refused = (
    ['POST, X-HTTP-Method-Override: DELETE', 'POST', $url, { 'X-HTTP-Method-Override' => 'DELETE' }],
    ['POST, X-HTTP-Method: DELETE', 'POST', $url, { 'X-HTTP-Method' => 'DELETE' }],
    ['POST, X-Method-Override: DELETE', 'POST', $url, { 'X-Method-Override' => 'DELETE' }],
    ['POST, the header in lower case', 'POST', $url, { 'x-http-method-override' => 'DELETE' }],
    ['POST, X_HTTP_Method_Override: DELETE', 'POST', $url, { 'X_HTTP_Method_Override' => 'DELETE' }],
    ['POST, the header twice, POST then DELETE', 'POST', $url,
     { 'X-HTTP-Method-Override' => ['POST', 'DELETE'] }],
    ['POST, one header POST, another DELETE', 'POST', $url,
     { 'X-HTTP-Method-Override' => 'POST', 'X-HTTP-Method' => 'DELETE' }],
    ['POST, comma-joined POST, DELETE', 'POST', $url, { 'X-HTTP-Method-Override' => 'POST, DELETE' }],
    ['POST, the override in lower case', 'POST', $url, { 'X-HTTP-Method-Override' => 'delete' }],
    ['POST, an empty override', 'POST', $url, { 'X-HTTP-Method-Override' => '' }],
    ['GET, X-HTTP-Method-Override: DELETE', 'GET', $url, { 'X-HTTP-Method-Override' => 'DELETE' }],
    ['POST ?_method=DELETE', 'POST', "$url?_method=DELETE", {}],
    ['POST ?a=1&_METHOD=DELETE', 'POST', "$url?a=1&_METHOD=DELETE", {}],
    ['POST ?%5Fmethod=DELETE', 'POST', "$url?%5Fmethod=DELETE", {}],
    ['POST ?x=1;_method=PUT', 'POST', "$url?x=1;_method=PUT", {}],
    ['GET ?_method=DELETE', 'GET', "$url?_method=DELETE", {}],
);
for my $c (@refused) {
    my ($name, $method, $path, $hdrs) = @$c;
    ($r, $v) = call($method, $path, { %$auth, %$hdrs });
    is_status($r, 400, "$name: refused");
    ok(!defined $v->{REQUEST_METHOD}, '  the backend was not run') or diag $r->{content};
}
# Counted when logged, after the client has its answer: polled.
my $counted = 0;
for (1 .. 300) {
    last if ($counted = count400() - $c400) >= @refused;
    select(undef, undef, undef, 0.1);
}
is($counted, scalar @refused, 'each refusal is counted among the metrics\' 400s');
my $log = substr($env->error_log_text, $log_before);
like($log, qr/BBT043: POST \/ov\/PROJ\/repo\/items\/1 refused: its X-HTTP-Method-Override names another method/,
     'the refusal is logged with its id and the header\'s name (BBT043)');
like($log, qr/BBT043: POST \S+ refused: its _method names another method/, '  and the parameter\'s');
unlike($log, qr/BBT03[4-7]:/, '  no credentials were read for any of them');
unlike($log, qr/DELETE(?! \/ov)/, '  nor is the value logged') or diag $log;
($r) = call('POST', $url, { %$auth, 'X-HTTP-Method-Override' => 'DELETE' });
like($r->{content}, qr/must name the request's own method, POST/, 'the 400 says why');

# HTTP/2 keeps a repeated header as fields of their own: each is read.
for my $h (['POST', 'DELETE'], ['DELETE', 'POST']) {
    my ($rc, $out, $err) = run_cmd(cmd => ['curl', '-sS', '--http2-prior-knowledge', '-X', 'POST', '-d', '',
                                           '-w', '\nSTATUS=%{http_code} PROTO=%{http_version}\n',
                                           '-H', "Authorization: Bearer $write",
                                           map({ ('-H', "x-http-method-override: $_") } @$h),
                                           $env->url($url)],
                                   timeout => 60, tmp => $env->dir);
    is($rc, 0, "HTTP/2, the header twice (@$h): curl ran") or diag $err;
    like($out, qr/^STATUS=400 PROTO=2$/m, '  refused over HTTP/2') or diag $out;
    unlike($out, qr/^REQUEST_METHOD=/m, '  the backend was not run');
}

# The refusal's error page, served elsewhere, is not handed the token.
(my $bare = $write) =~ s/^BBDC-//;
($r, $v) = call('POST', '/ov/PROJ/errdoc/x', { %$auth, 'X-HTTP-Method-Override' => 'DELETE' });
is($r->{status}, 400, 'an override under an ErrorDocument 400: refused');
is($v->{PATH_INFO}, '/error400', '  the error page answered') or diag $r->{content};
ok(exists $v->{HTTP_AUTHORIZATION} && !defined $v->{HTTP_AUTHORIZATION}, '  and was not handed the token');
unlike($r->{content}, qr/\Q$bare\E/, '  nothing of the token in the page');

# Refused before the token is looked up: an unknown token, a mistyped one
# and a password are all 400, and none of them counts as a failed login
# (3 would throttle the address).
my ($bad_user, $bad_pw) = ('alice', 'not-a-token-at-all');
for my $i (1 .. 4) {
    for my $a (["Bearer " . mistype_token($write), 'a mistyped token'],
               [$env->basic($bad_user, $bad_pw), 'a password']) {
        ($r) = call('POST', $url, { Authorization => $a->[0], 'X-HTTP-Method-Override' => 'DELETE' });
        is_status($r, 400, "$a->[1] with an override, $i: 400, not 401");
    }
}
($r) = call('POST', $url, { Authorization => $env->basic($bad_user, $bad_pw) });
is_status($r, 401, 'the password alone afterwards: 401, not 429 (none of those counted)');
# Control: the throttle is on; two more failed logins reach its 3.
for my $i (2 .. 3) {
    ($r) = call('POST', $url, { Authorization => $env->basic($bad_user, $bad_pw) });
    is_status($r, 401, "control: the password alone, $i: 401");
}
($r) = call('POST', $url, { Authorization => $env->basic($bad_user, $bad_pw) });
is_status($r, 429, 'control: then 429, the throttle counted those');

# Without credentials: the usual 401 and its challenge, which git needs to
# send them; then with them, 400.
($r) = call('POST', $url, { 'X-HTTP-Method-Override' => 'DELETE' });
is_status($r, 401, 'no credentials, an override: 401 as before');
ok(scalar(grep {/^Basic /} BBT::Env::header_list($r, 'WWW-Authenticate')), '  with the Basic challenge');
($r) = call('POST', "$url?_method=DELETE", {});
is_status($r, 401, 'no credentials, ?_method=DELETE: 401 as before');

# An override naming the request's own method is harmless and passes as it
# came.
($r, $v) = call('POST', $url, { %$auth, 'X-HTTP-Method-Override' => 'POST' });
is_status($r, 200, 'POST, X-HTTP-Method-Override: POST: passes');
is($v->{HTTP_X_HTTP_METHOD_OVERRIDE}, 'POST', '  the backend got the header');
($r, $v) = call('POST', $url, { %$auth, 'X-HTTP-Method' => 'POST', 'X-Method-Override' => 'POST' });
is_status($r, 200, 'POST, X-HTTP-Method and X-Method-Override: POST: passes');
is($v->{HTTP_X_METHOD_OVERRIDE}, 'POST', '  the backend got them');
($r, $v) = call('POST', "$url?_method=POST&a=1", $auth);
is_status($r, 200, 'POST ?_method=POST: passes');
is($v->{QUERY_STRING}, '_method=POST&a=1', '  the backend got the query string');
($r, $v) = call('GET', "$url?method=DELETE&x_method=DELETE", $auth);
is_status($r, 200, 'GET ?method=DELETE&x_method=DELETE (not _method): passes');
($r, $v) = call('DELETE', $url, { Authorization => "Bearer $admin", 'X-HTTP-Method-Override' => 'DELETE' });
is_status($r, 200, 'DELETE with the REPO_ADMIN token, X-HTTP-Method-Override: DELETE: passes');
is($v->{REQUEST_METHOD}, 'DELETE', '  run as DELETE');

# Every request is held to its own method: a CGI's local redirect after a
# POST is a GET, and the header that named POST would have its backend run
# a POST the GET's route decided.
($r, $v) = call('POST', '/ov/PROJ/repo/redirect', $auth);
is_status($r, 200, 'control: a POST the CGI redirects locally');
is($v->{REQUEST_METHOD}, 'GET', '  served as a GET');
($r, $v) = call('POST', '/ov/PROJ/repo/redirect', { %$auth, 'X-HTTP-Method-Override' => 'POST' });
is_status($r, 400, 'the same with X-HTTP-Method-Override: POST: the GET it becomes is refused');
ok(!defined $v->{REQUEST_METHOD}, '  the backend was not run as the GET');

# git through the same server.
$env->make_repo('PROJ', 'repo');
$env->git_is('git clone with the token', 1, 'clone', '-q', $env->clone_url('alice', $write, 'PROJ', 'repo'),
             $env->workdir('clone'));

is_deeply([$env->crash_lines], [], 'no child crashed');
done_testing;
