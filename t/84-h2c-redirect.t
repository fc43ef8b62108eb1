# An h2c upgrade replays the request that answers it as stream 1, and the
# module gives that request back the Authorization header its fixups took
# away, so that stream 1 can be authenticated again.  Only a request the
# module authenticated itself may get it back: the request that is
# upgraded is not always the one the client sent.  A POST is not upgraded
# (mod_http2 declines a body), but when its CGI answers with a local
# Location, mod_cgid redirects internally as a GET without a body, and that
# request is upgraded: stream 1 replays it, with whatever is in the
# headers the two requests share.  Redirected into a section the module
# does not guard, the token must not go with it; redirected into one it
# guards, stream 1 is authenticated again and served as before.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(run_cmd);
use BBT::Util qw(spew);
use BBT::Assert;

my $extra = <<'EOC';
Protocols h2c http/1.1
ScriptAlias /to-open/ "@DIR@/cgi-bin/redirect.cgi/"
ScriptAlias /to-env/ "@DIR@/cgi-bin/redirect.cgi/"
<Location /to-open>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /to-open
    Require bbtoken
</Location>
<Location /to-env>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /to-env
    Require bbtoken
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(http2)], httpd => 0)->start;
my $d = $env->dir;
spew("$d/cgi-bin/redirect.cgi", <<'EOS', 0755);
#!/bin/sh
[ -n "${CONTENT_LENGTH:-}" ] && head -c "$CONTENT_LENGTH" > /dev/null
case "$SCRIPT_NAME" in
    /to-open*) printf 'Location: /open-env/landed\r\n\r\n' ;;
    *) printf 'Location: /env/PROJ/repo.git/info/refs?service=git-upload-pack\r\n\r\n' ;;
esac
EOS
$env->write_cgi;
$env->httpd_start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
my $tok = $env->token_create('alice', name => 'h2c', perms => ['REPO_READ']);
(my $secret = $tok) =~ s/^BBDC-//;

# POST git-upload-pack with a body, Bearer token: (exit code, the body
# with PROTO=the HTTP version it was answered with).
sub post {
    my ($where, @opt) = @_;
    my $url = 'http://127.0.0.1:' . $env->port . "/$where/PROJ/repo.git/git-upload-pack";
    my ($rc, $out, $err) = run_cmd(cmd => ['curl', '-sS', @opt, '-w', '\nPROTO=%{http_version}\n',
                                           '-H', "Authorization: Bearer $tok",
                                           '-H', 'Content-Type: application/x-git-upload-pack-request',
                                           '--data-binary', '0000', $url],
                                   timeout => 60, tmp => "$d/run");
    diag $err if $rc;
    return ($rc, $out);
}

my $r = $env->get('/open-env/x', { Authorization => "Bearer $tok" });
like($r->{content}, qr/^HTTP_AUTHORIZATION=Bearer /m,
    'control: the open CGI is handed the header when nobody takes it');

for my $m (['HTTP/1.1', '--http1.1', '1.1'], ['h2c upgrade', '--http2', '2']) {
    my ($name, $opt, $proto) = @$m;
    my ($rc, $out) = post('to-open', $opt);
    is($rc, 0, "$name, redirected out of the module's sections: curl ran");
    like($out, qr/^PROTO=\Q$proto\E$/m, "$name: answered as HTTP/$proto");
    like($out, qr{^PATH_INFO=/landed$}m, "$name: the open CGI answered the redirect") or diag $out;
    like($out, qr/^HTTP_AUTHORIZATION unset$/m, "$name: it is not handed the token");
    unlike($out, qr/\Q$secret\E/, "$name: nothing of the token reaches it");

    ($rc, $out) = post('to-env', $opt);
    is($rc, 0, "$name, redirected into a guarded section: curl ran");
    like($out, qr/^PROTO=\Q$proto\E$/m, "$name: answered as HTTP/$proto");
    like($out, qr{^PATH_INFO=/PROJ/repo\.git/info/refs$}m, "$name: the guarded CGI answered")
        or diag $out;
    like($out, qr/^REMOTE_USER=alice$/m, "$name: authenticated again, as alice");
    like($out, qr/^HTTP_AUTHORIZATION unset$/m, "$name: and not handed the token");
}

done_testing;
