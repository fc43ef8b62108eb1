# mod_dir (DirectoryIndex, FallbackResource) and mod_negotiation
# (MultiViews) look a URI up in a GET sub-request and promote it into the
# request they serve (ap_internal_fast_redirect): the URI, the file, the
# handler and the configuration become the sub-request's; the method and
# the headers stay the request's.  The module decides the sub-request for a
# GET of the URI it goes to; a POST or a PUT promoted that way was decided
# for no such thing.  Here a directory of repository a hands its index, and
# a missing file its fallback, to a script of repository b (as an absolute
# DirectoryIndex or FallbackResource does): alice may write in a and only
# read b.
#   - A GET is served as its sub-request was decided; a POST or a PUT is
#     refused (500, BBT784) rather than run the script of b with a write's
#     method on a read's decision: from a section of the module that
#     decided the request, from one that let it in without a login, and
#     from one that is not the module's at all.
#   - Promoted into a section of the module from one that is not, a GET
#     is the module's: the backend is not handed the token.
#   - A type map naming a file outside its own directory (a .var a writer
#     put there): httpd looks that file up with no URL, outside every
#     <Location>, so nothing decided it; refused (500, BBT785).
#   - Handed to a script outside the module's sections, a request is what
#     anyone could send it: served.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env;
use BBT::Assert;
use BBT::Util qw(spew);

my $extra = <<'EOC';
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
# Into the harness's /env (git routes, CGIPassAuth On).
Alias /wleak "@DIR@/www"
<Location /wleak>
    DirectoryIndex /env/PROJ/b.git/HEAD
</Location>
TypesConfig /etc/mime.types
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
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(dir negotiation mime authz_host)])->start;
my $d = $env->dir;
make_path("$d/www/PROJ/a/sub", "$d/www/PROJ/b/sub", "$d/www/PROJ/c");
spew("$d/www/PROJ/c/secret.txt", "SECRET OF C\n");
spew("$d/www/PROJ/a/doc.txt", "a document of a\n");
spew("$d/www/PROJ/a/foo.var", "URI: $d/www/PROJ/c/secret.txt\nContent-type: text/plain\n\n");
$env->give_to_httpd("$d/www");
$env->make_repo('PROJ', 'a');
$env->make_repo('PROJ', 'b');
$env->make_repo('PROJ', 'c');
$env->user_add('alice');
$env->grant('alice', 'REPO_WRITE', 'PROJ/a');
$env->grant('alice', 'REPO_READ', 'PROJ/b');
my $tok = $env->token_create('alice', name => 'rw', perms => ['REPO_WRITE']);
my $auth = { Authorization => "Bearer $tok" };

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
like($r->{content}, qr{^BBTOKEN_PERMISSION=REPO_READ$}m, '  decided as a read of b');

my $mark = length $env->error_log_text;
$r = $env->request('POST', '/www/PROJ/a/sub/', $auth, "x=1");
is($r->{status}, 500, 'a POST to the directory of a, which alice may write, handed to the script of b: refused');
unlike($r->{content}, qr/REQUEST_METHOD=/, '  the script of b never ran') or diag $r->{content};
like(substr($env->error_log_text, $mark),
     qr{BBT784: POST /www/PROJ/a/sub/ was handed to /app/PROJ/b/index, which was looked up for a GET alone},
     '  the error log says why (BBT784)');

$r = $env->get('/www/PROJ/a/missing', $auth);
is_status($r, 200, 'a GET of a missing file of a is served the fallback, the script of b');
like($r->{content}, qr{^PATH_INFO=/PROJ/b/fallback\nQUERY_STRING=\nREQUEST_METHOD=GET$}m, '  as a GET')
    or diag $r->{content};
$mark = length $env->error_log_text;
$r = $env->request('PUT', '/www/PROJ/a/missing', $auth, "data\n");
is($r->{status}, 500, 'a PUT of a missing file of a, handed to the fallback: refused');
unlike($r->{content}, qr/REQUEST_METHOD=/, '  the script of b never ran') or diag $r->{content};
like(substr($env->error_log_text, $mark), qr{BBT784: PUT /www/PROJ/a/missing was handed to /app/PROJ/b/fallback},
     '  the error log says why');

# From sections where the module did not decide the request itself.
for my $from ('/wopen', '/wip') {
    $r = $env->get("$from/PROJ/a/sub/", $auth);
    is_status($r, 200, "$from: a GET of a directory is served the script of b");
    like($r->{content}, qr{^REQUEST_METHOD=GET$}m, '  as a GET') or diag $r->{content};
    $mark = length $env->error_log_text;
    $r = $env->request('POST', "$from/PROJ/a/sub/", $auth, "x=1");
    is($r->{status}, 500, "$from: a POST handed to the script of b: refused");
    unlike($r->{content}, qr/REQUEST_METHOD=/, '  the script of b never ran') or diag $r->{content};
    like(substr($env->error_log_text, $mark), qr{BBT784: a POST was handed to /app/PROJ/b/index},
         '  the error log says why');
}
$r = $env->request('PUT', '/wopen/PROJ/a/missing', $auth, "data\n");
is($r->{status}, 500, '/wopen: a PUT handed to the fallback: refused');
unlike($r->{content}, qr/REQUEST_METHOD=/, '  the script of b never ran') or diag $r->{content};

$r = $env->get('/open-env/PROJ/b.git/HEAD', $auth);
like($r->{content}, qr{^HTTP_AUTHORIZATION=Bearer }m,
     'control: a CGI with CGIPassAuth On outside the module is handed the header');
$r = $env->get('/wleak/PROJ/a/sub/', $auth);
is_status($r, 200, 'a GET promoted into the module\'s /env from a section that is not the module\'s');
like($r->{content}, qr{^PATH_INFO=/PROJ/b\.git/HEAD$}m, '  served /env\'s CGI') or diag $r->{content};
like($r->{content}, qr{^HTTP_AUTHORIZATION unset$}m, '  which is not handed the token (CGIPassAuth On)')
    or diag $r->{content};
like($r->{headers}{'cache-control'} // '', qr/\bprivate\b/, '  its answer private');

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

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
