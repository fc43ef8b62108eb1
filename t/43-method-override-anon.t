# A method override is refused where a section of AuthType BBToken lets a
# request in without a login, too.  There httpd decides on the request
# line's method and check_authn never runs: <RequireAny> with Require
# method GET HEAD (anonymous reads, a token to write), Require ip beside
# Require bbtoken, Require all granted in a section below one that asks
# for a token.  A GET let in so that carries X-HTTP-Method-Override:
# DELETE (or ?_method=DELETE) would have a backend that honours it run a
# DELETE nobody decided: it is refused with 400 (BBT043), counted among
# the metrics' 400s, and the CGI never runs.  One naming its own method,
# or none, passes.  Each internal redirect and sub-request is held to its
# own method.  A section that is not the module's is left alone: the
# override reaches its CGI.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(cgi_vars);
use BBT::Assert;

sub routes {
    my ($prefix) = @_;
    my $route = "\"/$prefix/(?<project>[A-Z][A-Z0-9_]*)/(?<repo>[a-z0-9][a-z0-9._-]*)(/.*)?\"";
    return "    BBTokenRoute GET,HEAD $route REPO_READ\n"
        . "    BBTokenRoute POST $route REPO_WRITE\n"
        . "    BBTokenRoute DELETE $route REPO_ADMIN\n";
}
my $extra = "ScriptAlias /am/ \"\@DIR\@/cgi-bin/ov.cgi/\"\n"
    . "<Location /am>\n    AuthType BBToken\n    AuthName \"Backend\"\n" . routes('am')
    . "    <RequireAny>\n        Require method GET HEAD\n        Require bbtoken\n    </RequireAny>\n</Location>\n"
    . "ScriptAlias /aip/ \"\@DIR\@/cgi-bin/ov.cgi/\"\n"
    . "<Location /aip>\n    AuthType BBToken\n    AuthName \"Backend\"\n" . routes('aip')
    . "    <RequireAny>\n        Require ip 127.0.0.1\n        Require bbtoken\n    </RequireAny>\n</Location>\n"
    . "ScriptAlias /aall/ \"\@DIR\@/cgi-bin/ov.cgi/\"\n"
    . "<Location /aall>\n    AuthType BBToken\n    AuthName \"Backend\"\n" . routes('aall')
    . "    Require bbtoken\n</Location>\n"
    . "<Location /aall/PROJ/open>\n    Require all granted\n</Location>\n" . <<'EOC';
# Not the module's: no AuthType, and Basic letting reads in.
ScriptAlias /plain/ "@DIR@/cgi-bin/ov.cgi/"
<Location /plain>
    Require all granted
</Location>
ScriptAlias /basic/ "@DIR@/cgi-bin/ov.cgi/"
<Location /basic>
    AuthType Basic
    AuthName "Other"
    AuthUserFile "@DIR@/htpasswd"
    <RequireAny>
        Require method GET HEAD
        Require valid-user
    </RequireAny>
</Location>
# A page whose SSI includes /aip in a sub-request: a GET, with the
# headers of the request that includes it.
ScriptAlias /assi/ "@DIR@/cgi-bin/ssi.cgi/"
<Location /assi>
    AuthType BBToken
    AuthName "Backend"
    BBTokenRoutes none
    <RequireAny>
        Require ip 127.0.0.1
        Require bbtoken
    </RequireAny>
    Options +Includes
    SetOutputFilter INCLUDES
</Location>
<Location /metrics>
    SetHandler bbtoken-metrics
    Require ip 127.0.0.1
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(authz_host authz_user auth_basic authn_file include)])->start;
BBT::Env::spew($env->dir . '/cgi-bin/ov.cgi', <<'EOS', 0755);
#!/bin/sh
[ -n "${CONTENT_LENGTH:-}" ] && head -c "$CONTENT_LENGTH" > /dev/null
# A local Location: httpd follows it as an internal redirect, a GET.
case "$PATH_INFO" in
    */redirect) printf 'Location: %s/items/1\r\n\r\n' "${SCRIPT_NAME}/PROJ/open"; exit 0 ;;
esac
printf 'Content-Type: text/plain\r\n\r\n'
printf 'REQUEST_METHOD=%s\n' "$REQUEST_METHOD"
printf 'QUERY_STRING=%s\n' "$QUERY_STRING"
printf 'HTTP_X_HTTP_METHOD_OVERRIDE=%s\n' "${HTTP_X_HTTP_METHOD_OVERRIDE:-}"
printf 'HTTP_X_METHOD_OVERRIDE=%s\n' "${HTTP_X_METHOD_OVERRIDE:-}"
EOS
BBT::Env::spew($env->dir . '/cgi-bin/ssi.cgi', <<'EOS', 0755);
#!/bin/sh
[ -n "${CONTENT_LENGTH:-}" ] && head -c "$CONTENT_LENGTH" > /dev/null
printf 'Content-Type: text/html\r\n\r\n'
printf 'SSI_METHOD=%s\n' "$REQUEST_METHOD"
printf '<!--#include virtual="/aip/PROJ/repo/items/1" -->\n'
EOS
$env->user_add('alice');
$env->grant('alice', 'PROJECT_ADMIN', 'PROJ');
my $read = $env->token_create('alice', name => 'read', perms => ['REPO_READ']);

sub call {
    my ($method, $path, $hdrs) = @_;
    my $r = $env->request($method, $path, $hdrs, $method eq 'POST' ? '' : undef);
    return ($r, cgi_vars($r->{content}));
}

sub count400 {
    my $m = $env->get('/metrics');
    return $m->{content} =~ /^bbtoken_requests_total\{outcome="400"\} (\d+)$/m ? $1 : 0;
}

my %shape = (
    'Require method GET HEAD' => '/am/PROJ/repo/items/1',
    'Require ip 127.0.0.1'    => '/aip/PROJ/repo/items/1',
    'Require all granted'     => '/aall/PROJ/open/items/1',
);
my $c400 = count400();
my $refused = 0;
my $log_before = length($env->error_log_text);
for my $what (sort keys %shape) {
    my $url = $shape{$what};
    my ($r, $v) = call('GET', $url, {});
    is_status($r, 200, "$what: control: an anonymous GET is let in");
    is($v->{REQUEST_METHOD}, 'GET', '  and run');
    ($r, $v) = call('GET', $url, { 'X-HTTP-Method-Override' => 'GET' });
    is_status($r, 200, "$what: an anonymous GET, X-HTTP-Method-Override: GET: passes");
    is($v->{HTTP_X_HTTP_METHOD_OVERRIDE}, 'GET', '  the backend got the header');
    ($r, $v) = call('GET', "$url?_method=GET", {});
    is_status($r, 200, "$what: an anonymous GET ?_method=GET: passes");
    is($v->{QUERY_STRING}, '_method=GET', '  the backend got the query string');
    for my $c (['X-HTTP-Method-Override: DELETE', $url, { 'X-HTTP-Method-Override' => 'DELETE' }],
               ['X-Method-Override: DELETE', $url, { 'X-Method-Override' => 'DELETE' }],
               ['?_method=DELETE', "$url?_method=DELETE", {}]) {
        my ($name, $path, $hdrs) = @$c;
        ($r, $v) = call('GET', $path, $hdrs);
        $refused++;
        is_status($r, 400, "$what: an anonymous GET, $name: refused");
        ok(!defined $v->{REQUEST_METHOD}, '  the backend was not run') or diag $r->{content};
    }
    like($r->{content}, qr/must name the request's own method, GET/, "$what: the 400 says why");
    ($r, $v) = call('HEAD', $url, { 'X-HTTP-Method-Override' => 'DELETE' });
    $refused++;
    is_status($r, 400, "$what: an anonymous HEAD, X-HTTP-Method-Override: DELETE: refused");
    # With a token, let in all the same without a login: its credentials
    # are never read, and the override is refused as without them.
    ($r, $v) = call('GET', $url, { Authorization => "Bearer $read", 'X-HTTP-Method-Override' => 'DELETE' });
    $refused++;
    is_status($r, 400, "$what: a GET with a token, X-HTTP-Method-Override: DELETE: refused");
    ok(!defined $v->{REQUEST_METHOD}, '  the backend was not run');
}

# Where POST is let in without a login as well.
for my $what ('Require ip 127.0.0.1', 'Require all granted') {
    my $url = $shape{$what};
    my ($r, $v) = call('POST', $url, {});
    is_status($r, 200, "$what: control: an anonymous POST is let in");
    ($r, $v) = call('POST', $url, { 'X-HTTP-Method-Override' => 'DELETE' });
    $refused++;
    is_status($r, 400, "$what: an anonymous POST, X-HTTP-Method-Override: DELETE: refused");
    ok(!defined $v->{REQUEST_METHOD}, '  the backend was not run');
}
# Where it is not, the login is asked for as before.
my ($r, $v) = call('POST', $shape{'Require method GET HEAD'}, { 'X-HTTP-Method-Override' => 'DELETE' });
is_status($r, 401, 'Require method GET HEAD: an anonymous POST with an override: 401 as before');

# Each internal redirect is held to its own method: a CGI's local redirect
# after a POST is a GET, which a header naming POST no longer matches.
($r, $v) = call('POST', '/aip/PROJ/redirect', {});
is_status($r, 200, 'control: an anonymous POST the CGI redirects locally');
is($v->{REQUEST_METHOD}, 'GET', '  served as a GET');
($r, $v) = call('POST', '/aip/PROJ/redirect', { 'X-HTTP-Method-Override' => 'POST' });
$refused++;
is_status($r, 400, 'the same with X-HTTP-Method-Override: POST: the GET it becomes is refused');
ok(!defined $v->{REQUEST_METHOD}, '  the backend was not run as the GET');

# And each sub-request: the GET an SSI includes in a POST's page.
($r, $v) = call('POST', '/assi/page', {});
is($v->{SSI_METHOD}, 'POST', 'control: an anonymous POST to a page with an SSI include');
is($v->{REQUEST_METHOD}, 'GET', '  which includes a GET') or diag $r->{content};
($r, $v) = call('POST', '/assi/page', { 'X-HTTP-Method-Override' => 'POST' });
is($v->{SSI_METHOD}, 'POST', 'the same with X-HTTP-Method-Override: POST: the page is served');
ok(!defined $v->{REQUEST_METHOD}, '  but not the GET it includes') or diag $r->{content};
like($r->{content}, qr/an error occurred while processing this directive/, '  the include failed');

# Counted when logged, after the client has its answer: polled.
my $counted = 0;
for (1 .. 300) {
    last if ($counted = count400() - $c400) >= $refused;
    select(undef, undef, undef, 0.1);
}
is($counted, $refused, 'each refusal is counted among the metrics\' 400s');
my $log = substr($env->error_log_text, $log_before);
like($log, qr{BBT043: GET /am/PROJ/repo/items/1 refused: its X-HTTP-Method-Override names another method},
     'the refusal is logged with its id and the header\'s name (BBT043)');
like($log, qr{BBT043: GET /aall/PROJ/open/items/1 refused: its _method names another method}, '  and the parameter\'s');
unlike($log, qr/BBT03[4-7]:/, '  no credentials were read');

# Not the module's sections: the override reaches the CGI as it came.
$log_before = length($env->error_log_text);
for my $url ('/plain/PROJ/repo/items/1', '/basic/PROJ/repo/items/1') {
    ($r, $v) = call('GET', $url, { 'X-HTTP-Method-Override' => 'DELETE' });
    is_status($r, 200, "$url: an anonymous GET, X-HTTP-Method-Override: DELETE: untouched");
    is($v->{HTTP_X_HTTP_METHOD_OVERRIDE}, 'DELETE', '  the backend got the header');
    ($r, $v) = call('GET', "$url?_method=DELETE", {});
    is_status($r, 200, "$url: an anonymous GET ?_method=DELETE: untouched");
    is($v->{QUERY_STRING}, '_method=DELETE', '  the backend got the query string');
}
unlike(substr($env->error_log_text, $log_before), qr/BBT043/, '  nothing refused there');

is_deeply([$env->crash_lines], [], 'no child crashed');
done_testing;
