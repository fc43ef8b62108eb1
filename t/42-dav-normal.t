# Routes see the path httpd serves, and decide only a normalized one.  With
# MergeSlashes Off, httpd leaves a doubled slash in it: the filesystem
# reads "repo//" as the repository itself, so a route's ".+" inside a
# repository must not take it (a REPO_WRITE token would delete, REPO_ADMIN,
# or create, PROJECT_ADMIN, a whole repository).  A [PT] rewrite whose
# substitution holds raw request text (the query string here) can put dot
# segments in the path, which the filesystem resolves into another
# project.  An empty or dot segment matches no route.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env;
use BBT::Assert;

my $extra = <<'EOC';
MergeSlashes Off
RewriteEngine On
RewriteRule "^/q$" "/dav/%{QUERY_STRING}" [PT,QSD]
DavLockDB "@DIR@/davlock/lockdb"
Alias /dav "@DIR@/dav"
<Location /dav>
    Dav On
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes dav
    Require bbtoken
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(dav dav_fs rewrite)])->start;
my $d = $env->dir;
my $root = "$d/dav";
make_path("$root/PROJ/repo", "$root/PROJ/victim", "$root/OTHER/secret");
BBT::Env::spew("$root/OTHER/secret/s.txt", "OTHER secret\n");
BBT::Env::spew("$root/PROJ/repo/a.txt", "PROJ a\n");
BBT::Env::spew("$root/PROJ/victim/v.txt", "victim\n");
make_path("$d/davlock");
$env->give_to_httpd($root, "$d/davlock");
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $wtok = $env->token_create('alice', name => 'rw', perms => ['REPO_WRITE']);

sub dav {
    my ($method, $path, %o) = @_;
    my ($st, $body) = $env->curl($path, method => $method, auth => $env->bearer($wtok), %o);
    return wantarray ? ($st, $body) : $st;
}

is(dav('PUT', '/dav/PROJ/repo/b.txt', data => "b\n"), 201, 'control: a REPO_WRITE token writes inside a repository');
is(dav('DELETE', '/dav/PROJ/victim'), 403, 'control: deleting a repository needs REPO_ADMIN');
is(dav('DELETE', '/dav/PROJ/victim//'), 403, 'nor with a doubled slash after it');
ok(-f "$root/PROJ/victim/v.txt", '  the repository is still there');
is(dav('PROPPATCH', '/dav/PROJ/victim//',
       data => qq{<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x xmlns="urn:x">1</x></D:prop></D:set></D:propertyupdate>}),
   403, "a repository's properties: not with a doubled slash either");
is(dav('MKCOL', '/dav/PROJ/newrepo'), 403, 'control: creating a repository needs PROJECT_ADMIN');
is(dav('MKCOL', '/dav/PROJ/newrepo//'), 403, 'nor with a doubled slash after it');
ok(!-e "$root/PROJ/newrepo", '  no repository was made');
is(dav('GET', '/dav/PROJ/repo//a.txt'), 403, 'an empty segment inside a repository: no route either');


is((dav('GET', '/q?PROJ/repo/a.txt'))[0], 200, 'control: a [PT] rewrite onto PROJ/repo is served');
for my $q ('PROJ/repo/../../OTHER/secret/s.txt', 'PROJ/repo/./../../OTHER/secret/s.txt',
           'PROJ/repo/..', 'PROJ/repo/x/.') {
    my ($st, $body) = dav('GET', "/q?$q");
    is($st, 403, "a [PT] rewrite onto /dav/$q: dot segments match no route");
    unlike($body // '', qr/OTHER secret/, '  and nothing of OTHER is served');
}

done_testing;
