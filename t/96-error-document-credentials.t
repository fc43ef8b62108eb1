# A refused request's credentials never reach the backend of its error
# page.  httpd answers a refusal (400, 401, 403, 429) with the
# ErrorDocument by an internal redirect that shares the request's headers;
# the fixups that take the Authorization header away never ran for the
# refused request.  So an error page served by a CGI with CGIPassAuth On
# (or by a proxy, which forwards every header) would be handed the token
# that was right but not allowed (403), a mistyped token or a password
# that was nearly right (401), a password in a malformed header (400).
# /open-env shows that the header does reach that CGI when nobody takes it.
# Nor when httpd itself refuses the request in a section of the module's
# before any authentication hook runs, so that the module never reads the
# header: mod_authz_core's check of a <RequireAll> whose Require ip does
# not match (or a Require not ip that does), mod_access_compat's Deny
# from, a server-wide RewriteRule's [F].
# Asked for with Upgrade: h2c, the refusal is not upgraded: core's upgrade
# handler would switch at the error page and mod_http2 answer its URL
# again as stream 1, 200, without the refusal's status, challenge and
# sandbox (git would never ask for a login).  The error page is served
# over HTTP/1.1 with the refusal's status, and without the credentials.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(b64 run_cmd);
use BBT::Assert;

my $extra = <<'EOC';
Protocols h2c http/1.1
<Location /env/PROJ/errdoc.git>
    ErrorDocument 400 /open-env/error400
    ErrorDocument 401 /open-env/error401
    ErrorDocument 403 /open-env/error403
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
</Location>
<Location /env/PROJ/netonly.git>
    <RequireAll>
        Require bbtoken
        Require ip 192.0.2.0/24
    </RequireAll>
    ErrorDocument 403 /open-env/error403
</Location>
<Location /env/PROJ/notlocal.git>
    <RequireAll>
        Require bbtoken
        Require not ip 127.0.0.1
    </RequireAll>
    ErrorDocument 403 /open-env/error403
</Location>
<Location /env/PROJ/denied.git>
    Order allow,deny
    Deny from all
    ErrorDocument 403 /open-env/error403
</Location>
RewriteEngine On
RewriteRule "^/env/PROJ/forbidden\.git/" - [F]
<Location /env/PROJ/forbidden.git>
    ErrorDocument 403 /open-env/error403
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra,
                        modules => [qw(authn_file http2 authz_host access_compat rewrite)])->start;
$env->htpasswd(carol => 'carol-Pa55-word');
$env->make_repo('PROJ', 'errdoc');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $tok = $env->token_create('alice', name => 'ro', perms => ['REPO_READ']);
my $base = '/env/PROJ/errdoc.git/info/refs?service=';

my $r = $env->get('/open-env/x', { Authorization => "Bearer $tok" });
like($r->{content}, qr/^HTTP_AUTHORIZATION=Bearer /m,
    'control: the error page\'s CGI is handed the header when nobody takes it');

$r = $env->get("${base}git-upload-pack", { Authorization => "Bearer $tok" });
is_status($r, 200, 'the token reads the repository');
like($r->{content}, qr/^HTTP_AUTHORIZATION unset$/m, '... and its backend does not see it');

my @cases = (
    ['a right token refused a push (403)', 403, 'error403',
     "${base}git-receive-pack", "Bearer $tok"],
    ['a mistyped token (401)', 401, 'error401', "${base}git-upload-pack", "Bearer ${tok}x"],
    ['a wrong secret in Basic (401)', 401, 'error401', "${base}git-upload-pack",
     $env->basic('alice', substr($tok, 0, -1) . (substr($tok, -1) eq 'A' ? 'B' : 'A'))],
    ['a wrong password (401)', 401, 'error401', "${base}git-upload-pack",
     $env->basic('carol', 'carol-Pa55-wore')],
    ['a password in a malformed header (400)', 400, 'error400', "${base}git-upload-pack",
     'Basic carol:carol-Pa55-word'],
    (map { ["a token refused by $_->[0] before a login (403)", 403, 'error403',
            "/env/PROJ/$_->[1].git/info/refs?service=git-upload-pack", "Bearer $tok"] }
     ['a Require ip in a <RequireAll>', 'netonly'], ['Require not ip', 'notlocal'],
     ['Deny from', 'denied'], ['a RewriteRule\'s [F]', 'forbidden']),
);
for my $c (@cases) {
    my ($name, $status, $page, $url, $hdr) = @$c;
    $r = $env->get($url, { Authorization => $hdr });
    is($r->{status}, $status, "$name: refused");
    like($r->{content}, qr{^PATH_INFO=/\Q$page\E$}m, "$name: the error page's CGI answered")
        or diag $r->{content};
    like($r->{content}, qr/^HTTP_AUTHORIZATION unset$/m,
        "$name: the error page's CGI is not handed the credentials");
    unlike($r->{content}, qr/\Q$tok\E|carol-Pa55/, "$name: nothing of them in the page");
}

# curl --http2 over http:// asks for the upgrade (Upgrade: h2c).
sub upgrade_asked {
    my ($path, $auth) = @_;
    my ($rc, $out, $err) = run_cmd(cmd => ['curl', '-sS', '--http2', '-D', '-', '-w', '\nPROTO=%{http_version}\n',
                                           '-H', "Authorization: $auth", 'http://127.0.0.1:' . $env->port . $path],
                                   timeout => 60, tmp => $env->dir);
    is($rc, 0, "curl --http2 $path ran") or diag $err;
    return $out;
}
for my $c (["${base}git-receive-pack", "Bearer $tok", 403, 'error403', 'the refused push'],
           ["${base}git-upload-pack", 'Bearer ' . BBT::Env::mistype_token($tok), 401,
            'error401', 'a mistyped token'],
           ['/env/PROJ/netonly.git/info/refs?service=git-upload-pack', "Bearer $tok", 403, 'error403',
            'a Require ip that does not match']) {
    my ($path, $auth, $st, $page, $name) = @$c;
    my $out = upgrade_asked($path, $auth);
    like($out, qr/^PROTO=1\.1$/m, "$name: not upgraded to h2c");
    unlike($out, qr{^HTTP/1\.1 101}m, '  no 101');
    like($out, qr{^HTTP/1\.1 $st }m, "  the refusal's status, $st") or diag $out;
    like($out, qr/^content-security-policy: sandbox/mi, '  sandboxed');
    like($out, qr/^www-authenticate: /mi, '  with its challenge') or diag $out if $st == 401;
    like($out, qr{^PATH_INFO=/$page$}m, "  the error page's CGI answered") or diag $out;
    like($out, qr/^HTTP_AUTHORIZATION unset$/m, '  and was not handed the credentials');
}

done_testing;
