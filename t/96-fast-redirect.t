# mod_dir (DirectoryIndex, FallbackResource) looks a URI up in a GET
# sub-request and promotes it into the request it serves
# (ap_internal_fast_redirect): the URI, the file, the handler and the
# configuration become the sub-request's, the method stays the request's.
# The module decides the request for the URI it named and the sub-request
# for a GET of the URI it goes to; a POST or a PUT promoted that way was
# decided for neither.  Here a directory of repository a hands its index,
# and a missing file its fallback, to a script of repository b (as an
# absolute DirectoryIndex or FallbackResource does): alice may write in a
# and only read b.  A GET is served as its sub-request was decided; a POST
# or a PUT is refused (500, BBT784) rather than run the script of b with
# a write's method on a read's decision.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env;
use BBT::Assert;

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
my $env = BBT::Env->new(extra_conf => $extra, modules => ['dir'])->start;
my $d = $env->dir;
make_path("$d/www/PROJ/a/sub", "$d/www/PROJ/b/sub");
$env->give_to_httpd("$d/www");
$env->make_repo('PROJ', 'a');
$env->make_repo('PROJ', 'b');
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
     qr{BBT784: POST /www/PROJ/a/sub/ was decided, then handed to /app/PROJ/b/index, which was looked up for a GET alone},
     '  the error log says why (BBT784)');

$r = $env->get('/www/PROJ/a/missing', $auth);
is_status($r, 200, 'a GET of a missing file of a is served the fallback, the script of b');
like($r->{content}, qr{^PATH_INFO=/PROJ/b/fallback\nQUERY_STRING=\nREQUEST_METHOD=GET$}m, '  as a GET')
    or diag $r->{content};
$mark = length $env->error_log_text;
$r = $env->request('PUT', '/www/PROJ/a/missing', $auth, "data\n");
is($r->{status}, 500, 'a PUT of a missing file of a, handed to the fallback: refused');
unlike($r->{content}, qr/REQUEST_METHOD=/, '  the script of b never ran') or diag $r->{content};
like(substr($env->error_log_text, $mark), qr{BBT784: PUT /www/PROJ/a/missing was decided, then handed to /app/PROJ/b/fallback},
     '  the error log says why');

# Handed to a script outside the module's sections, the request is
# what anyone could send it: not the module's to refuse.
$r = $env->request('POST', '/www-open/PROJ/a/sub/', $auth, "x=1");
is_status($r, 200, 'a POST handed to a script the module does not decide runs it');
like($r->{content}, qr{^PATH_INFO=/PROJ/b/index\nQUERY_STRING=\nREQUEST_METHOD=POST$}m, '  as the POST it is')
    or diag $r->{content};

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
