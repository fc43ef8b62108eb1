# mod_dir (DirectoryIndex, FallbackResource) and mod_negotiation
# (MultiViews) look a URI up in a GET sub-request and promote it into the
# request they serve (ap_internal_fast_redirect): the URI, the file, the
# handler and the configuration become the sub-request's; the method, the
# headers and the variables of the decision made before stay the
# request's.  Here a directory of repository a hands its index, and a
# missing file its fallback, to a script of repository b (as an absolute
# DirectoryIndex or FallbackResource does): alice may write in a and only
# read b, bob may write in both.
#   - A request promoted into a section of the module is decided again,
#     as it now is (BBT784, debug): a POST or a PUT handed to b's script
#     needs what a POST or a PUT to it needs (alice: 403, bob: served),
#     from a section of the module that decided the request, from one
#     that let it in without a login, from one that is not the module's,
#     and from a lookup that was itself promoted (an index that is not
#     there, then the fallback).  A GET is served, with the variables of
#     the repository it is served from (BBTOKEN_TARGET).
#   - Into a section that lets it in without a login: let in, with none of
#     the variables of the decision made before.  A request let in so and
#     handed nowhere is not decided again.
#   - Into the same section (an index beside the directory): OPTIONS and
#     POST are decided for the index, not refused.
#   - Promoted into a section of the module from one that is not, the
#     request is the module's: its backend is not handed the token, its
#     answer is private, and an internal redirect it makes still has the
#     credentials.
#   - A type map naming a file outside its own directory (a .var a writer
#     put there): httpd looks that file up with no URL, outside every
#     <Location>, so nothing decided it; refused (500, BBT785).
#   - Handed to a script outside the module's sections, a request is what
#     anyone could send it: served, as anyone's (no REMOTE_USER, no
#     BBTOKEN_*: a backend there that trusts REMOTE_USER would take the
#     module's decision for its own).
#   - An h2c upgrade of a promoted request gets its credentials back for
#     stream 1, which replays the URL the client sent.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env qw(run_cmd);
use BBT::Assert;
use BBT::Util qw(spew);

my $extra = <<'EOC';
# The types it needs are its own (AddType below): no mime.types assumed.
TypesConfig /dev/null
Protocols h2c http/1.1
ScriptAlias /app/ "@DIR@/cgi-bin/env.cgi/"
<Location /app>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes dav /app
    Require bbtoken
</Location>
Alias /www "@DIR@/www"
<Directory "@DIR@/www">
    Options None
    AllowOverride None
    Require all granted
</Directory>
<Location /www>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes dav /www
    Require bbtoken
    DirectoryIndex /app/PROJ/b/index
    FallbackResource /app/PROJ/b/fallback
</Location>
# Sections that are not the module's, or let a request in without a
# login, handing over to the same scripts.
Alias /wopen "@DIR@/www"
<Location /wopen>
    DirectoryIndex /app/PROJ/b/index
    FallbackResource /app/PROJ/b/fallback
</Location>
Alias /wip "@DIR@/www"
<Location /wip>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes dav /wip
    <RequireAny>
        Require ip 127.0.0.1
        Require bbtoken
    </RequireAny>
    DirectoryIndex /app/PROJ/b/index
</Location>
# Into a section that lets a request in without a login.
ScriptAlias /anon-app/ "@DIR@/cgi-bin/env.cgi/"
<Location /anon-app>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes dav /anon-app
    <RequireAny>
        Require ip 127.0.0.1
        Require bbtoken
    </RequireAny>
</Location>
Alias /wanon "@DIR@/www"
<Location /wanon>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes dav /wanon
    Require bbtoken
    DirectoryIndex /anon-app/PROJ/b/index
</Location>
# An index that is not there, whose lookup falls back to b's script.
Alias /wnest "@DIR@/www"
<Location /wnest>
    DirectoryIndex index.html
    FallbackResource /app/PROJ/b/fallback
</Location>
# Into the harness's /env (git routes, CGIPassAuth On): directly, through
# an index that is not there, and to a CGI that redirects to git's push
# advertisement of PROJ/repo.
Alias /wleak "@DIR@/www"
<Location /wleak>
    DirectoryIndex /env/PROJ/b.git/HEAD
</Location>
Alias /wleak2 "@DIR@/www"
<Location /wleak2>
    DirectoryIndex index.html
    FallbackResource /env/PROJ/b.git/HEAD
</Location>
Alias /wredir "@DIR@/www"
<Location /wredir>
    DirectoryIndex /env/PROJ/redirect-to-push.git/info/refs?service=git-upload-pack
</Location>
# An index in the same section.
Alias /wt "@DIR@/www"
<Location /wt>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes dav /wt
    Require bbtoken
    DirectoryIndex index.html
</Location>
# MultiViews and type maps in a section of the module.
Alias /wmv "@DIR@/www"
<Location /wmv>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes dav /wmv
    Require bbtoken
    Options +MultiViews
    AddHandler type-map .var
    AddType text/plain .var .txt
    DirectoryIndex disabled
</Location>
# The same, handing over to a script nobody's token decides.
ScriptAlias /open-app/ "@DIR@/cgi-bin/env.cgi/"
Alias /www-open "@DIR@/www"
<Location /www-open>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes dav /www-open
    Require bbtoken
    DirectoryIndex /open-app/PROJ/b/index
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(dir negotiation mime authz_host http2)])->start;
my $d = $env->dir;
make_path("$d/www/PROJ/a/sub", "$d/www/PROJ/a/dir", "$d/www/PROJ/b/sub", "$d/www/PROJ/c");
spew("$d/www/PROJ/c/secret.txt", "SECRET OF C\n");
spew("$d/www/PROJ/a/doc.txt", "a document of a\n");
spew("$d/www/PROJ/a/dir/index.html", "<p>the index of a</p>\n");
spew("$d/www/PROJ/a/foo.var", "URI: $d/www/PROJ/c/secret.txt\nContent-type: text/plain\n\n");
$env->give_to_httpd("$d/www");
$env->make_repo('PROJ', $_) for qw(a b c repo redirect-to-push);
$env->user_add($_) for qw(alice bob);
$env->grant('alice', 'REPO_WRITE', 'PROJ/a');
$env->grant('alice', 'REPO_READ', 'PROJ/b');
$env->grant('alice', 'REPO_WRITE', 'PROJ/repo');
$env->grant('alice', 'REPO_READ', 'PROJ/redirect-to-push');
$env->grant('bob', 'PROJECT_WRITE', 'PROJ');
my $tok = $env->token_create('alice', name => 'rw', perms => ['REPO_WRITE']);
my $auth = { Authorization => "Bearer $tok" };
my $btok = $env->token_create('bob', name => 'rw', perms => ['REPO_WRITE']);
my $bauth = { Authorization => "Bearer $btok" };
my $ran = qr/REQUEST_METHOD=/;

my $r = $env->request('POST', '/app/PROJ/b/index', $auth, "x=1");
is_status($r, 403, 'control: alice\'s token may not POST to the script of b');
$r = $env->request('POST', '/www/PROJ/b/sub/', $auth, "x=1");
is_status($r, 403, 'control: nor POST to the directory of b');
$r = $env->get('/app/PROJ/b/index', $auth);
is_status($r, 200, 'control: it may read the script of b');

$r = $env->get('/www/PROJ/a/sub/', $auth);
is_status($r, 200, 'a GET of the directory of a is served its index, the script of b');
like($r->{content}, qr{^PATH_INFO=/PROJ/b/index\nQUERY_STRING=\nREQUEST_METHOD=GET$}m,
     '  as a GET') or diag $r->{content};
like($r->{content}, qr{^BBTOKEN_PERMISSION=REPO_READ\nBBTOKEN_TARGET=PROJ/b$}m, '  decided as a read of b')
    or diag $r->{content};
unlike($r->{content}, qr{PROJ/a\b}, '  no word of a in its variables');

my $mark = length $env->error_log_text;
$r = $env->request('POST', '/www/PROJ/a/sub/', $auth, "x=1");
is_status($r, 403, 'a POST to the directory of a, which alice may write, handed to the script of b: '
          . 'decided again, refused');
unlike($r->{content}, $ran, '  the script of b never ran') or diag $r->{content};
like(substr($env->error_log_text, $mark),
     qr{BBT784: POST /www/PROJ/a/sub/ was handed to /app/PROJ/b/index in another section .*: decided again},
     '  the error log says so (BBT784)');
$r = $env->request('POST', '/www/PROJ/a/sub/', $bauth, "x=1");
is_status($r, 200, 'bob, who may write in b, is served the same POST');
like($r->{content}, qr{^REQUEST_METHOD=POST$}m, '  as a POST') or diag $r->{content};
like($r->{content}, qr{^REMOTE_USER=bob$}m, '  as bob') or diag $r->{content};
like($r->{content}, qr{^BBTOKEN_PERMISSION=REPO_WRITE\nBBTOKEN_TARGET=PROJ/b$}m, '  decided as a write in b')
    or diag $r->{content};

$r = $env->get('/www/PROJ/a/missing', $auth);
is_status($r, 200, 'a GET of a missing file of a is served the fallback, the script of b');
like($r->{content}, qr{^PATH_INFO=/PROJ/b/fallback\nQUERY_STRING=\nREQUEST_METHOD=GET$}m, '  as a GET')
    or diag $r->{content};
$r = $env->request('PUT', '/www/PROJ/a/missing', $auth, "data\n");
is_status($r, 403, 'a PUT of a missing file of a, handed to the fallback: refused');
unlike($r->{content}, $ran, '  the script of b never ran') or diag $r->{content};

# From sections where the module did not decide the request itself.
for my $from ('/wopen', '/wip', '/wnest') {
    $r = $env->get("$from/PROJ/a/sub/", $auth);
    is_status($r, 200, "$from: a GET of a directory is served the script of b");
    like($r->{content}, qr{^REQUEST_METHOD=GET$}m, '  as a GET') or diag $r->{content};
    like($r->{content}, qr{^REMOTE_USER=alice$}m, '  as alice') or diag $r->{content};
    $r = $env->request('POST', "$from/PROJ/a/sub/", $auth, "x=1");
    is_status($r, 403, "$from: a POST handed to the script of b: refused");
    unlike($r->{content}, $ran, '  the script of b never ran') or diag $r->{content};
    $r = $env->request('POST', "$from/PROJ/a/sub/", $bauth, "x=1");
    is_status($r, 200, "$from: bob's POST is served");
    like($r->{content}, qr{^REQUEST_METHOD=POST$}m, '  as a POST') or diag $r->{content};
}
$r = $env->request('PUT', '/wopen/PROJ/a/missing', $auth, "data\n");
is_status($r, 403, '/wopen: a PUT handed to the fallback: refused');
unlike($r->{content}, $ran, '  the script of b never ran') or diag $r->{content};

# Into a section that lets it in without a login: as a request sent there
# is, with no word of the decision made before.
$r = $env->request('POST', '/anon-app/PROJ/b/index', $auth, "x=1");
is_status($r, 200, 'control: /anon-app lets a POST from here in without a login');
like($r->{content}, qr{^BBTOKEN_PERMISSION unset\nBBTOKEN_TARGET unset$}m, '  and tells it of no decision')
    or diag $r->{content};
$r = $env->request('POST', '/wanon/PROJ/a/sub/', $auth, "x=1");
is_status($r, 200, 'a POST to a directory of a handed to /anon-app: let in there');
like($r->{content}, qr{^REQUEST_METHOD=POST$}m, '  as a POST') or diag $r->{content};
like($r->{content}, qr{^BBTOKEN_ID unset$}m, '  without the token of the decision made for a')
    or diag $r->{content};
like($r->{content}, qr{^BBTOKEN_PERMISSION unset\nBBTOKEN_TARGET unset$}m, '  nor its permission and target')
    or diag $r->{content};
# An h2c upgrade replays the URL the client sent, a section that asks for
# the token: it is handed back for stream 1.
my ($rc, $out, $err) = run_cmd(cmd => ['curl', '-sS', '--http2', '-H', "Authorization: Bearer $tok", '-w',
                                       '\nSTATUS=%{http_code} PROTO=%{http_version}\n',
                                       'http://127.0.0.1:' . $env->port . '/wanon/PROJ/a/sub/'],
                               timeout => 60, tmp => "$d/run");
is($rc, 0, 'the same GET with an h2c upgrade: curl ran') or diag $err;
like($out, qr/^STATUS=200 PROTO=2$/m, '  answered 200 over HTTP/2') or diag $out;
# A request let in without a login and handed nowhere is not decided
# again.
$mark = length $env->error_log_text;
$r = $env->get('/wip/PROJ/a/doc.txt', $auth);
is_status($r, 200, '/wip lets a GET of a file in');
unlike(substr($env->error_log_text, $mark), qr/BBT784/, '  and does not decide it again');

# Into the module's /env from sections that are not the module's.
$r = $env->get('/open-env/PROJ/b.git/HEAD', $auth);
like($r->{content}, qr{^HTTP_AUTHORIZATION=Bearer }m,
     'control: a CGI with CGIPassAuth On outside the module is handed the header');
for my $from ('/wleak', '/wleak2') {
    $r = $env->get("$from/PROJ/a/sub/", $auth);
    is_status($r, 200, "$from: a GET promoted into the module's /env");
    like($r->{content}, qr{^PATH_INFO=/PROJ/b\.git/HEAD$}m, '  served /env\'s CGI') or diag $r->{content};
    like($r->{content}, qr{^HTTP_AUTHORIZATION unset$}m, '  which is not handed the token (CGIPassAuth On)')
        or diag $r->{content};
    like($r->{headers}{'cache-control'} // '', qr/\bprivate\b/, '  its answer private');
}
$r = $env->get('/env/PROJ/redirect-to-push.git/info/refs?service=git-upload-pack', $auth);
is_status($r, 200, 'control: /env\'s CGI redirects to git\'s push advertisement of PROJ/repo');
$r = $env->get('/wredir/PROJ/a/sub/', $auth);
is_status($r, 200, 'promoted into it, the redirect still has the credentials');
like($r->{content}, qr{^PATH_INFO=/PROJ/repo\.git/info/refs\nQUERY_STRING=service=git-receive-pack$}m,
     '  the push advertisement') or diag $r->{content};

# An index in the same section: decided for the index.
$r = $env->request('OPTIONS', '/wt/PROJ/a/dir/', $auth);
is_status($r, 200, 'OPTIONS of a directory whose index is beside it');
$r = $env->request('POST', '/wt/PROJ/a/dir/', $auth, "x=1");
isnt($r->{status}, 500, 'a POST there: decided for the index (' . $r->{status} . ')');
isnt($r->{status}, 403, '  which alice may write');

$r = $env->get('/wmv/PROJ/a/doc', $auth);
is_status($r, 200, 'MultiViews in the module\'s section: a variant in the same directory is served');
is($r->{content}, "a document of a\n", '  the variant');
$r = $env->get('/wmv/PROJ/c/secret.txt', $auth);
is_status($r, 403, 'control: alice may not read c');
$mark = length $env->error_log_text;
$r = $env->get('/wmv/PROJ/a/foo', $auth);
is($r->{status}, 500, 'a type map in a naming a file of c: refused');
unlike($r->{content}, qr/SECRET/, '  the file of c is not served') or diag $r->{content};
like(substr($env->error_log_text, $mark), qr{BBT785: GET /wmv/PROJ/a/foo was handed to the file \S+/PROJ/c/secret\.txt},
     '  the error log says why (BBT785)');
$r = $env->request('POST', '/wmv/PROJ/a/foo', $auth, "x=1");
is($r->{status}, 500, '  and a POST to it too');
unlike($r->{content}, qr/SECRET/, '  the file of c is not served') or diag $r->{content};

# Handed to a script outside the module's sections, the request is
# what anyone could send it: not the module's to refuse.
$r = $env->request('POST', '/www-open/PROJ/a/sub/', $auth, "x=1");
is_status($r, 200, 'a POST handed to a script the module does not decide runs it');
like($r->{content}, qr{^PATH_INFO=/PROJ/b/index\nQUERY_STRING=\nREQUEST_METHOD=POST$}m, '  as the POST it is')
    or diag $r->{content};
like($r->{content}, qr{^REMOTE_USER unset\nAUTH_TYPE unset$}m, '  as anyone\'s: no user of the module\'s')
    or diag $r->{content};
like($r->{content}, qr{^BBTOKEN_ID unset$}m, '  nor its token');
like($r->{content}, qr{^BBTOKEN_PERMISSION unset\nBBTOKEN_TARGET unset$}m, '  nor the decision made for a')
    or diag $r->{content};

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
