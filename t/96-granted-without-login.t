# A request in a section of AuthType BBToken that httpd lets in without a
# login never hands its credentials to the backend.  mod_authz_core grants
# a <RequireAny> whose Require ip matches (or Require all granted) before
# any authentication hook runs, so the module never reads the header; its
# fixups must still take it away, or a CGI with CGIPassAuth On (or a
# proxy, which forwards every header) is handed the token or password the
# client sent.  The same client from outside the network is asked to log
# in, and its token works as everywhere else.  A request let in takes its
# credentials along all the same: an internal redirect of it into a
# section that does ask for a login (its CGI's local Location) is
# authenticated with them, as if the header were still there.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Assert;

my $extra = <<'EOC';
ScriptAlias /anyip/ "@DIR@/cgi-bin/env.cgi/"
<Location /anyip>
    CGIPassAuth On
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    BBTokenRoutes git /anyip
    <RequireAny>
        Require ip 127.0.0.1
        Require bbtoken
    </RequireAny>
</Location>
ScriptAlias /outside/ "@DIR@/cgi-bin/env.cgi/"
<Location /outside>
    CGIPassAuth On
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /outside
    <RequireAny>
        Require ip 192.0.2.1
        Require bbtoken
    </RequireAny>
</Location>
<Location /env/PROJ/public.git>
    Require all granted
</Location>
ScriptAlias /anyip-redirect/ "@DIR@/cgi-bin/redirect.cgi/"
<Location /anyip-redirect>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /anyip-redirect
    <RequireAny>
        Require ip 127.0.0.1
        Require bbtoken
    </RequireAny>
</Location>
# The same files behind mod_cache, which leaves alone a request with
# credentials: in the handler phase (CacheQuickHandler off), after the
# fixups took them away, as in the quick handler before.
Alias /anyip-files/ "@DIR@/repos/"
<Directory "@DIR@/repos">
    Require all granted
</Directory>
<Location /anyip-files>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /anyip-files
    <RequireAny>
        Require ip 127.0.0.1
        Require bbtoken
    </RequireAny>
</Location>
CacheRoot "@DIR@/cache"
CacheEnable disk /anyip-files
CacheQuickHandler off
CacheHeader on
CacheIgnoreNoLastMod On
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(authz_host authn_file cache cache_disk)],
                        httpd => 0)->start;
mkdir $env->dir . '/cache';
system('chown', '-R', 'www-data:www-data', $env->dir . '/cache') if $> == 0;
BBT::Util::spew($env->dir . '/cgi-bin/redirect.cgi', <<'EOS', 0755);
#!/bin/sh
printf 'Location: /env/PROJ/repo.git/info/refs?service=git-upload-pack\r\n\r\n'
EOS
$env->write_cgi;
$env->httpd_start;
$env->htpasswd(carol => 'carol-Pa55-word');
$env->make_repo('PROJ', $_) for qw(repo public);
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
my $tok = $env->token_create('alice', name => 'ci', perms => ['REPO_READ']);
(my $secret = $tok) =~ s/^BBDC-//;
my $UP = 'info/refs?service=git-upload-pack';

my $r = $env->get("/open-env/PROJ/repo.git/$UP", { Authorization => "Bearer $tok" });
like($r->{content}, qr/^HTTP_AUTHORIZATION=Bearer /m,
    'control: a CGI with CGIPassAuth On is handed the header when nobody takes it');

my @creds = (
    ['a token (Bearer)', "Bearer $tok"],
    ['a token (Basic)', $env->basic('alice', $tok)],
    ['a password', $env->basic('carol', 'carol-Pa55-word')],
    ['a wrong token', 'Bearer ' . BBT::Env::mistype_token($tok)],
);
for my $c (@creds) {
    my ($what, $hdr) = @$c;
    for my $url ("/anyip/PROJ/repo.git/$UP", "/env/PROJ/public.git/$UP") {
        $r = $env->get($url, { Authorization => $hdr });
        is_status($r, 200, "$what, $url: let in without a login");
        like($r->{content}, qr/^REMOTE_USER unset$/m, "$what, $url: nobody logged in");
        like($r->{content}, qr/^HTTP_AUTHORIZATION unset$/m,
            "$what, $url: the CGI is not handed the credentials") or diag $r->{content};
        unlike($r->{content}, qr/\Q$secret\E|carol-Pa55/, "$what, $url: nothing of them reaches it");
    }
}

# Redirected into /env, which asks for a login: the credentials the
# request was let in with are read there.
my $rd = "/anyip-redirect/PROJ/repo.git/$UP";
is_status($env->get($rd), 401, 'redirected into a guarded section without credentials: 401');
$r = $env->get($rd, { Authorization => "Bearer $tok" });
is_status($r, 200, 'redirected into a guarded section with a token: 200');
like($r->{content}, qr/^REMOTE_USER=alice$/m, '... authenticated there, as alice');
like($r->{content}, qr{^PATH_INFO=/PROJ/repo\.git/info/refs$}m, '... served by its CGI');
like($r->{content}, qr/^HTTP_AUTHORIZATION unset$/m, '... which is not handed the token');
is_status($env->get($rd, { Authorization => 'Bearer ' . BBT::Env::mistype_token($tok) }), 401,
          'redirected with a wrong token: 401');

# Old enough for mod_cache's heuristic freshness.
system('touch', '-d', '10 days ago', map { $env->dir . "/repos/PROJ/$_.git/HEAD" } qw(repo public));
my $open = '/anyip-files/PROJ/public.git/HEAD';
is_status($env->get($open), 200, 'control: a file let in without credentials');
sleep 1;
like($env->get($open)->{headers}{'x-cache'} // '', qr/HIT/, 'control: ... is stored by mod_cache');
my $file = '/anyip-files/PROJ/repo.git/HEAD';
is_status($env->get($file, { Authorization => "Bearer $tok" }), 200, 'a file let in with a token');
sleep 1;
$r = $env->get($file);
unlike($r->{headers}{'x-cache'} // '', qr/HIT/, '... is not stored: the next request is not a hit')
    or diag explain $r->{headers};

# From an address the list does not name, the same section asks for the
# token and checks it as ever.
is_status($env->get("/outside/PROJ/repo.git/$UP"), 401, 'outside the network: no credentials, 401');
$r = $env->get("/outside/PROJ/repo.git/$UP", { Authorization => "Bearer $tok" });
is_status($r, 200, 'outside the network: the token is let in');
like($r->{content}, qr/^REMOTE_USER=alice$/m, '... as its owner');
like($r->{content}, qr/^HTTP_AUTHORIZATION unset$/m, '... and the CGI is not handed it');

done_testing;
