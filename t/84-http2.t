# Tokens over every HTTP version httpd speaks: HTTP/1.1, HTTP/2 by h2c
# upgrade (Upgrade: h2c, which mod_http2 answers by replaying the request
# as stream 1 of a new session), h2c with prior knowledge, and h2 over TLS
# (mod_ssl, a self-signed certificate made here).  Real clients: curl and
# git with http.version=HTTP/2.  In every case the CGI is given no
# Authorization, not even through a fixup that copies it (mod_rewrite,
# mod_headers), and no log holds the token.  A request with a body is not
# upgraded (mod_http2 declines it) and stays HTTP/1.1, still without the
# header at the CGI.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(run_cmd cgi_vars);
use BBT::Util qw(spew slurp);
use BBT::Assert;

my $tls_port = BBT::Util::free_port();
my $extra = <<"EOC";
Protocols h2c http/1.1
H2Direct on
# Every variable the CGI gets, to look for the token in any of them, and
# what fixups copying the header would hand it: nothing.
ScriptAlias /dump/ "\@DIR\@/cgi-bin/dump.cgi/"
<Location /dump>
    CGIPassAuth On
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file
    AuthUserFile "\@DIR\@/htpasswd"
    BBTokenRoutes git /dump
    Require bbtoken
    RewriteEngine On
    RewriteRule ^ - [E=COPIED_AUTHORIZATION:%{HTTP:Authorization}]
    RequestHeader set X-Copied-Authorization "expr=%{req:Authorization}"
</Location>
# The protocol each request was served with, and the header as a log
# would show it.
LogFormat "%H %>s %u \\"%r\\" [%{Authorization}i]" bbtproto
CustomLog "\@DIR\@/logs/proto_log" bbtproto

Listen 127.0.0.1:$tls_port
<VirtualHost 127.0.0.1:$tls_port>
    ServerName 127.0.0.1:$tls_port
    Protocols h2 http/1.1
    SSLEngine on
    SSLCertificateFile "\@DIR\@/tls/cert.pem"
    SSLCertificateKeyFile "\@DIR\@/tls/key.pem"
</VirtualHost>
EOC

# The certificate must exist before httpd starts: the environment first,
# without httpd, then the files, then httpd.
my $env = BBT::Env->new(extra_conf => $extra, httpd => 0,
                        modules => [qw(http2 ssl rewrite headers authn_file)])->start;
my $d = $env->dir;
mkdir "$d/tls";
my ($rc, $out, $err) = run_cmd(cmd => ['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
                                       '-keyout', "$d/tls/key.pem", '-out', "$d/tls/cert.pem",
                                       '-days', '2', '-subj', '/CN=127.0.0.1',
                                       '-addext', 'subjectAltName=IP:127.0.0.1'],
                               tmp => "$d/run");
is($rc, 0, 'a self-signed certificate for 127.0.0.1') or BAIL_OUT("openssl: $err");
chmod 0644, "$d/tls/key.pem";
spew("$d/cgi-bin/dump.cgi", <<'EOS', 0755);
#!/bin/sh
[ -n "${CONTENT_LENGTH:-}" ] && head -c "$CONTENT_LENGTH" > /dev/null
printf 'Content-Type: text/plain\r\n\r\n'
env
EOS
$env->write_cgi;
$env->httpd_start;

$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $tok = $env->token_create('alice', name => 'h2');
(my $secret = $tok) =~ s/^BBDC-//;
my $pw = 'alice-Pa55-word';
$env->htpasswd(alice => $pw);

my $http = $env->base_url;
my $https = "https://127.0.0.1:$tls_port";
my $cert = "$d/tls/cert.pem";
my $UP = 'PROJ/repo.git/info/refs?service=git-upload-pack';

# curl: (status, HTTP version, body, whether it switched protocols).
sub curl {
    my ($url, @opt) = @_;
    my $body = "$d/run/curl.body";
    my $hdrs = "$d/run/curl.headers";
    unlink $body, $hdrs;
    my ($rc, $out, $err) = run_cmd(cmd => ['curl', '-s', '-o', $body, '-D', $hdrs,
                                           '-w', '%{http_code} %{http_version}', '--cacert', $cert,
                                           @opt, $url],
                                   tmp => "$d/run", timeout => 30,
                                   env => { http_proxy => undef, https_proxy => undef,
                                            HTTP_PROXY => undef, HTTPS_PROXY => undef });
    my ($code, $ver) = $rc == 0 ? split(/ /, $out) : (0, '');
    return ($code, $ver, slurp($body), (slurp($hdrs) =~ m{^HTTP/1\.1 101}m ? 1 : 0), $err);
}

# Each way in: its URL, curl's options, the version it must be served
# with, and whether it goes through a 101.
my %mode = (
    'HTTP/1.1'            => [$http, ['--http1.1'], '1.1', 0],
    'h2c upgrade'         => [$http, ['--http2'], '2', 1],
    'h2c prior knowledge' => [$http, ['--http2-prior-knowledge'], '2', 0],
    'h2 over TLS (ALPN)'  => [$https, ['--http2'], '2', 0],
);
my %cred = (
    'Bearer token'   => ['-H', "Authorization: Bearer $tok"],
    'Basic token'    => ['-u', "alice:$tok"],
    'Basic password' => ['-u', "alice:$pw"],
);

for my $m (sort keys %mode) {
    my ($base, $opt, $want_ver, $upgrade) = @{ $mode{$m} };
    for my $c (sort keys %cred) {
        # The harness's CGI (/env) takes tokens only; /dump passwords too.
        for my $where ($c eq 'Basic password' ? ('dump') : ('env', 'dump')) {
            my $what = "$m, $c, /$where";
            my ($code, $ver, $body, $switched, $err) =
                curl("$base/$where/$UP", @$opt, @{ $cred{$c} });
            is($code, 200, "$what: 200") or diag "curl: $err\n$body";
            is($ver, $want_ver, "$what: served as HTTP/$want_ver");
            is($switched, $upgrade, "$what: " . ($upgrade ? 'upgraded (101)' : 'no upgrade'));
            if ($where eq 'env') {
                my $v = cgi_vars($body);
                is($v->{REMOTE_USER}, 'alice', "$what: the CGI runs as alice");
                ok(exists $v->{HTTP_AUTHORIZATION} && !defined $v->{HTTP_AUTHORIZATION},
                   "$what: HTTP_AUTHORIZATION unset at the CGI");
                next;
            }
            like($body, qr/^REMOTE_USER=alice$/m, "$what: the CGI runs as alice");
            unlike($body, qr/\Q$secret\E|\Q$pw\E/, "$what: no variable of the CGI holds the secret");
            unlike($body, qr/^HTTP_AUTHORIZATION=/m, "$what: no HTTP_AUTHORIZATION");
            like($body, qr/^COPIED_AUTHORIZATION=$/m, "$what: mod_rewrite's copy in the fixups is empty");
            unlike($body, qr/^HTTP_X_COPIED_AUTHORIZATION=\S/m, "$what: so is mod_headers'");
        }
    }
}

subtest 'refusals are the same over every version' => sub {
    for my $m (sort keys %mode) {
        my ($base, $opt) = @{ $mode{$m} };
        my ($code) = curl("$base/env/$UP", @$opt);
        is($code, 401, "$m: no credentials: 401");
        ($code) = curl("$base/env/$UP", @$opt, '-H', 'Authorization: Bearer ' . BBT::Env::mistype_token($tok));
        is($code, 401, "$m: a mistyped token: 401");
        ($code) = curl("$base/env/PROJ/repo.git/config", @$opt, '-H', "Authorization: Bearer $tok");
        is($code, 403, "$m: a path no route covers: 403");
    }
};

# A request with a body is not upgraded (mod_http2 declines it): it stays
# HTTP/1.1 and the CGI still gets no Authorization.
{
    my $in = "$d/run/post.body";
    spew($in, "0000");
    my ($code, $ver, $body, $switched) =
        curl("$http/env/PROJ/repo.git/git-upload-pack", '--http2', '-H', "Authorization: Bearer $tok",
             '-H', 'Content-Type: application/x-git-upload-pack-request', '--data-binary', "\@$in");
    is($code, 200, 'POST git-upload-pack with a body, curl --http2: 200');
    is($ver, '1.1', '... served as HTTP/1.1 (not upgraded)');
    is($switched, 0, '... no 101');
    my $v = cgi_vars($body);
    is($v->{REQUEST_METHOD}, 'POST', '... it reached the CGI');
    ok(exists $v->{HTTP_AUTHORIZATION} && !defined $v->{HTTP_AUTHORIZATION}, '... without HTTP_AUTHORIZATION');
}

# git's own libcurl does HTTP/2 by h2c upgrade over http:// and by ALPN
# over https://; a clone reads info/refs (GET) and posts git-upload-pack.
# git over h2c is shown on a second httpd with the worker MPM: under the
# event MPM, httpd closes an upgraded connection once its first stream is
# done (core's upgrade handler marks it to close, and the event MPM acts on
# that when mod_http2 hands the idle session back to it), and git, sending
# its next request on it, fails with "Error in the HTTP2 framing layer",
# whether or not this module is loaded.
my $w = BBT::Env->new(pg_from => $env, mpm => 'worker', modules => [qw(http2)],
                      extra_conf => <<'EOC')->start;
Protocols h2c http/1.1
LogFormat "%H %>s %u \"%r\" [%{Authorization}i]" bbtproto
CustomLog "@DIR@/logs/proto_log" bbtproto
EOC
$w->make_repo('PROJ', 'repo');

for my $case (['h2c', $w, $w->clone_url('alice', $tok, 'PROJ', 'repo')],
              ['TLS', $env, "https://alice:" . BBT::Env::pct($tok) . "\@127.0.0.1:$tls_port/scm/PROJ/repo.git"]) {
    my ($label, $e, $url) = @$case;
    my $log = $e->dir . '/logs/proto_log';
    my $mark = length slurp($log);
    my @h2 = ('-c', 'http.version=HTTP/2');
    # (git 2.39 with libcurl-gnutls takes the CA from here, not from
    # http.sslCAInfo given with -c.)
    local $ENV{GIT_SSL_CAINFO} = $cert;
    my $wt = $e->workdir("clone-$label");
    $e->git_is("git clone -c http.version=HTTP/2 over $label", 1, @h2, 'clone', '-q', $url, $wt)
        or next;
    ok(-f "$wt/README", "$label: the clone has the README");
    my $c = $e->commit_file($wt, "h2-$label.txt", "pushed over $label\n");
    $e->git_is("git push -c http.version=HTTP/2 over $label", 1, { cwd => $wt }, @h2,
               'push', '-q', 'origin', 'main');
    is($e->repo_head('PROJ', 'repo'), $c, "$label: the push reached the repository");
    my @l = split /\n/, substr(slurp($log), $mark);
    ok((grep { m{^HTTP/2\.0 200 alice "GET /scm/PROJ/repo\.git/info/refs} } @l),
       "$label: git's info/refs was served over HTTP/2 to alice")
        or diag join "\n", @l;
    # git's first request carries no credentials (401); the same request
    # with them is the very next one, and is served.  Not counting the
    # request upgraded to h2c (101): httpd logs it when that connection
    # ends, which may come after git's next connection's first request.
    my @asked = grep { !m{^HTTP/1\.1 101 } } @l;
    my @retried = grep {
        my ($req) = $asked[$_] =~ m{^\S+ 401 - ("\S+ \S+) };
        $req && ($asked[$_ + 1] // '') =~ m{^\S+ 200 alice \Q$req\E };
    } grep { $asked[$_] =~ m{ 401 } } 0 .. $#asked;
    is(scalar(@retried), scalar(grep {/ 401 /} @l), "$label: every 401 is git's request without credentials")
        or diag join "\n", @l;
    if ($label eq 'h2c') {
        ok((grep { m{^HTTP/1\.1 101 alice } } @l), 'h2c: git asked for the upgrade, and got it')
            or diag join "\n", @l;
        is_deeply([grep { !/\[-\]$/ } grep {/^HTTP\/\S+ (?:101|200) /} @l], [],
                  'h2c: no request git made logs an Authorization header');
    }
    unlike(slurp($e->error_log_path) . slurp($e->access_log_path), qr/\Q$secret\E/,
           "$label: the token is in no log");
}

# The request upgraded to HTTP/2 is logged once more, as HTTP/1.1 with
# status 101: with the header taken away again.
{
    my @l = split /\n/, slurp("$d/logs/proto_log");
    my @switched = grep {/^HTTP\/1\.1 101 /} @l;
    ok(@switched >= 2, 'the upgraded requests are logged with 101 (' . scalar(@switched) . ')');
    is_deeply([grep { !/\[-\]$/ } @switched], [], 'none of them logs an Authorization header');
    is_deeply([grep { !/\[-\]$/ } grep {/^HTTP\/\S+ 200 /} @l], [],
              'no request served (200) logs one either');
}

# (A refused request keeps its header, for the log format above to show:
# the README's configurations log no header.)
for my $log ($env->error_log_path, $env->access_log_path) {
    unlike(slurp($log), qr/\Q$secret\E/, "the token is in no log (" . ($log =~ s{.*/}{}r) . ')');
}
is_deeply([$env->crash_lines], [], 'no child crashed');
done_testing;
