# The dav route set in front of mod_dav_fs, driven by curl: reads and
# writes inside a repository, a repository-level collection needing
# REPO_CREATE (a token's PROJECT_ADMIN; its owner's Create repository grant
# or admin, never more for that grant's holder: the repository's deletion,
# move, properties and a COPY onto the repository level stay refused), COPY
# and MOVE checked at both ends (by the module, and
# again in mod_dav's sub-request for the Destination), project keys mapped
# to their canonical directory, and nested sections replacing routes.  A
# PUT with a Content-Range is written in place, as without the module: the
# dav set has no route that checks what is moved.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env;
use BBT::Assert;

my $extra = <<'EOC';
DavLockDB "@DIR@/davlock/lockdb"
Alias /dav "@DIR@/dav"
<Location /dav>
    Dav On
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes dav
    Require bbtoken
</Location>
# A section that sets routes replaces its parent's: no Destination here.
# Password users beside tokens, held to the same routes and their grants.
<Location /dav/PW>
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    AuthzSendForbiddenOnFailure On
</Location>
<Location /dav/LOCKED>
    BBTokenRoute COPY,MOVE ".*" deny destination
    BBTokenRoutes dav
</Location>
# Routes in a <Directory> are read only after the URL is mapped to a file:
# a key there cannot be mapped, so one not spelled canonically is refused.
# (For /dav, <Location /dav> replaces these routes.)
Alias /dirdav "@DIR@/dav"
<Directory "@DIR@/dav">
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes dav /dirdav
    Require bbtoken
</Directory>
# ... and here only reads.
<Location /dav/RO>
    BBTokenRoute GET,HEAD,PROPFIND "/dav/(?<project>RO)/(?<repo>[a-z]+)(/.*)?" REPO_READ
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(dav dav_fs authn_file)])->start;
$env->htpasswd(carol => 'carol-pw');
my $d = $env->dir;
my $root = "$d/dav";
for my $p ('PROJ/repo', 'OTHER/secret', 'LOCKED/r', 'RO/r', 'proj/repo', 'PW/r') {
    make_path("$root/$p");
}
BBT::Env::spew("$root/PROJ/repo/a.txt", "PROJ a\n");
BBT::Env::spew("$root/OTHER/secret/s.txt", "OTHER secret\n");
BBT::Env::spew("$root/RO/r/x.txt", "RO x\n");
# A lower-case twin of PROJ on disk: a URL spelled /dav/proj/ must never
# reach it, because the decision is made for PROJ.
BBT::Env::spew("$root/proj/repo/a.txt", "the lower-case twin\n");
make_path("$d/davlock");
$env->give_to_httpd($root, "$d/davlock");

$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', $_) for qw(PROJ LOCKED RO);
my $rtok = $env->token_create('alice', name => 'ro', perms => ['REPO_READ']);
my $wtok = $env->token_create('alice', name => 'rw', perms => ['REPO_WRITE']);
my $atok = $env->token_create('alice', name => 'full');
$env->user_add('root', '--admin');
my $root_tok = $env->token_create('root', name => 'root');

sub dav {
    my ($tok, $method, $path, %o) = @_;
    my ($st, $body) = $env->curl($path, method => $method, auth => $env->bearer($tok), %o);
    return wantarray ? ($st, $body) : $st;
}
sub dest { return ('headers' => ["Destination: " . $env->url($_[0]), @{ $_[1] || [] }]) }

subtest 'reads' => sub {
    my ($st, $body) = dav($rtok, 'GET', '/dav/PROJ/repo/a.txt');
    is($st, 200, 'GET a file with REPO_READ');
    is($body, "PROJ a\n", '  its content');
    is(dav($rtok, 'HEAD', '/dav/PROJ/repo/a.txt'), 200, 'HEAD');
    is(dav($rtok, 'OPTIONS', '/dav/PROJ/repo/'), 200, 'OPTIONS');
    is(dav($rtok, 'PROPFIND', '/dav/PROJ/repo/', depth => 1), 207, 'PROPFIND a repository');
    is(dav($rtok, 'PROPFIND', '/dav/PROJ/', depth => 1), 207, 'PROPFIND a project (PROJECT_READ)');
    is(dav($rtok, 'PROPFIND', '/dav/', depth => 1), 403, 'PROPFIND the root: no route');
    is(dav($rtok, 'GET', '/dav/OTHER/secret/s.txt'), 403, 'GET in a project without a grant');
    is(dav($root_tok, 'GET', '/dav/OTHER/secret/s.txt'), 200, 'control: a global admin reads it');
    is(dav($rtok, 'BREW', '/dav/PROJ/repo/a.txt'), 403, 'an unknown method: no route');
};

subtest 'writes inside a repository need REPO_WRITE' => sub {
    is(dav($rtok, 'PUT', '/dav/PROJ/repo/b.txt', data => "b\n"), 403, 'PUT with REPO_READ');
    ok(!-e "$root/PROJ/repo/b.txt", '  nothing written');
    is(dav($wtok, 'PUT', '/dav/PROJ/repo/b.txt', data => "b\n"), 201, 'PUT with REPO_WRITE');
    # Refused only where routes check what is moved (t/41-git-dav-push).
    is(dav($wtok, 'PUT', '/dav/PROJ/repo/b.txt', data => 'B', headers => ['Content-Range: bytes 0-0/2']), 204,
       'a PUT into it with a Content-Range');
    is(BBT::Env::slurp("$root/PROJ/repo/b.txt"), "B\n", '  written in place, as mod_dav_fs does');
    is(dav($wtok, 'MKCOL', '/dav/PROJ/repo/sub/'), 201, 'MKCOL inside');
    is(dav($wtok, 'PROPPATCH', '/dav/PROJ/repo/b.txt', data => <<'X'), 207, 'PROPPATCH a file');
<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:t"><D:set><D:prop><Z:x>1</Z:x></D:prop></D:set></D:propertyupdate>
X
    my ($st, $body) = dav($wtok, 'LOCK', '/dav/PROJ/repo/b.txt', data => <<'X');
<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>
X
    is($st, 200, 'LOCK a file');
    my ($tokn) = $body =~ m{<D:href>(opaquelocktoken:[^<]+)</D:href>};
    ok($tokn, '  got a lock token');
    is(dav($rtok, 'UNLOCK', '/dav/PROJ/repo/b.txt', headers => ["Lock-Token: <$tokn>"]), 403,
       'UNLOCK with REPO_READ');
    is(dav($wtok, 'UNLOCK', '/dav/PROJ/repo/b.txt', headers => ["Lock-Token: <$tokn>"]), 204,
       'UNLOCK with REPO_WRITE');
    is(dav($wtok, 'DELETE', '/dav/PROJ/repo/sub/'), 204, 'DELETE inside');
    for my $m (qw(MERGE CHECKOUT MKACTIVITY)) {
        isnt(dav($rtok, $m, '/dav/PROJ/repo/x'), 200, "$m with REPO_READ is refused");
        is(dav($rtok, $m, '/dav/PROJ/repo/x'), 403, "  with 403");
    }
};

subtest 'the repository level: create needs REPO_CREATE, delete REPO_ADMIN' => sub {
    is(dav($wtok, 'MKCOL', '/dav/PROJ/newrepo/'), 403, 'MKCOL a repository with REPO_WRITE');
    is(dav($atok, 'MKCOL', '/dav/PROJ/newrepo/'), 403, '  with a full token whose owner has PROJECT_WRITE');
    is(dav($root_tok, 'MKCOL', '/dav/PROJ/newrepo/'), 201, '  with a global admin');
    is(dav($wtok, 'PUT', '/dav/PROJ/file-as-repo', data => "x"), 403, 'PUT at the repository level');
    is(dav($wtok, 'LOCK', '/dav/PROJ/lock-null', data => ''), 403, 'LOCK at the repository level (creates)');
    ok(!-e "$root/PROJ/lock-null", '  nothing created');
    is(dav($wtok, 'DELETE', '/dav/PROJ/newrepo/'), 403, 'DELETE a repository with REPO_WRITE');
    is(dav($wtok, 'MKCOL', '/dav/NEWPROJ/'), 403, 'MKCOL a project');
    is(dav($root_tok, 'MKCOL', '/dav/NEWPROJ/'), 403, '  even as a global admin (no route)');
    is(dav($root_tok, 'DELETE', '/dav/PROJ/'), 403, 'DELETE a project (no route)');
    is(dav($root_tok, 'DELETE', '/dav/PROJ/newrepo/'), 204, 'a global admin deletes the repository');
};

subtest 'a Create repository grant: creates a repository, and no more' => sub {
    $env->user_add('maker');
    $env->grant('maker', 'REPO_CREATE', 'PROJ');
    my $mtok = $env->token_create('maker', name => 'full');
    my $mwtok = $env->token_create('maker', name => 'pw', perms => ['PROJECT_WRITE']);
    is(dav($mwtok, 'MKCOL', '/dav/PROJ/made/'), 403, 'MKCOL a repository with her PROJECT_WRITE token');
    ok(!-e "$root/PROJ/made", '  nothing created');
    is(dav($mtok, 'MKCOL', '/dav/PROJ/made/'), 201, 'MKCOL a repository with her PROJECT_ADMIN token');
    is(dav($mtok, 'PUT', '/dav/PROJ/made/f.txt', data => "f\n"), 201, '  and writes in it');
    is(dav($mtok, 'PUT', '/dav/PROJ/repo/m.txt', data => "m\n"), 201, 'writes in PROJ/repo too');
    is(dav($mtok, 'MKCOL', '/dav/OTHER/made/'), 403, 'no repository in OTHER, where she has no grant');
    is(dav($mtok, 'PROPPATCH', '/dav/PROJ/repo/', data => <<'X'), 403, 'PROPPATCH a repository (its settings)');
<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:t"><D:set><D:prop><Z:x>1</Z:x></D:prop></D:set></D:propertyupdate>
X
    is(dav($mtok, 'MOVE', '/dav/PROJ/repo/', dest('/dav/PROJ/moved/')), 403, 'MOVE a repository');
    is(dav($mtok, 'COPY', '/dav/PROJ/repo/', dest('/dav/PROJ/made/'), depth => 'infinity',
           headers => ['Overwrite: T']), 403, 'COPY onto a repository (it would replace it)');
    is(dav($mtok, 'DELETE', '/dav/PROJ/made/'), 403, 'DELETE a repository, even one she made');
    is(dav($mtok, 'DELETE', '/dav/PROJ/repo/'), 403, '  or another');
    ok(-e "$root/PROJ/repo/a.txt" && -e "$root/PROJ/made/f.txt", '  both are there');
    is(dav($root_tok, 'DELETE', '/dav/PROJ/made/'), 204, 'a global admin deletes hers');
    is(dav($root_tok, 'DELETE', '/dav/PROJ/repo/m.txt'), 204, '  and her file');
};

subtest 'COPY and MOVE: both ends' => sub {
    is(dav($wtok, 'COPY', '/dav/PROJ/repo/a.txt', dest('/dav/PROJ/repo/c.txt')), 201, 'COPY inside');
    is(dav($rtok, 'COPY', '/dav/PROJ/repo/a.txt', dest('/dav/PROJ/repo/d.txt')), 403,
       'COPY with REPO_READ: the Destination needs REPO_WRITE');
    ok(!-e "$root/PROJ/repo/d.txt", '  nothing written');
    is(dav($wtok, 'COPY', '/dav/PROJ/repo/a.txt', dest('/dav/OTHER/secret/a.txt')), 403,
       'COPY into a project the owner cannot write');
    ok(!-e "$root/OTHER/secret/a.txt", '  nothing written');
    is(dav($wtok, 'COPY', '/dav/OTHER/secret/s.txt', dest('/dav/PROJ/repo/s.txt')), 403,
       'COPY out of a project the owner cannot read');
    ok(!-e "$root/PROJ/repo/s.txt", '  nothing written');
    is(dav($wtok, 'MOVE', '/dav/PROJ/repo/c.txt', dest('/dav/OTHER/secret/c.txt')), 403,
       'MOVE into a project the owner cannot write');
    ok(-e "$root/PROJ/repo/c.txt" && !-e "$root/OTHER/secret/c.txt", '  nothing moved');
    is(dav($wtok, 'COPY', '/dav/PROJ/repo/', dest('/dav/PROJ/copyrepo/'), depth => 'infinity'), 403,
       'COPY a repository to a new one with REPO_WRITE (PROJECT_ADMIN)');
    ok(!-e "$root/PROJ/copyrepo", '  nothing created');
    is(dav($wtok, 'MOVE', '/dav/PROJ/repo/c.txt', dest('/dav/PROJ/')), 403, 'MOVE onto the project');
    is(dav($wtok, 'MOVE', '/dav/PROJ/repo/c.txt', dest('/dav/')), 403, 'MOVE onto the root');
    is(dav($wtok, 'MOVE', '/dav/PROJ/repo/c.txt', dest('/elsewhere/c.txt')), 403, 'MOVE out of the tree');
    is(dav($wtok, 'MOVE', '/dav/PROJ/repo/c.txt', dest('/dav/PROJ/repo/x/../../../OTHER/secret/c.txt')), 403,
       'a Destination with dot segments into OTHER');
    is(dav($wtok, 'MOVE', '/dav/PROJ/repo/c.txt', dest('/dav/PROJ/repo%2F..%2F..%2FOTHER/secret/c.txt')), 403,
       'a Destination with %2F');
    is(dav($wtok, 'MOVE', '/dav/PROJ/repo/c.txt', dest('/dav/other/secret/c.txt')), 403,
       'a Destination with a lower-case key');
    is(dav($wtok, 'MOVE', '/dav/PROJ/repo/c.txt', headers => []), 403, 'MOVE without a Destination');
    ok(!-e "$root/OTHER/secret/c.txt", '  none of them moved anything');
    is(dav($wtok, 'MOVE', '/dav/PROJ/repo/c.txt', dest('/dav/PROJ/repo/e.txt')), 201, 'control: MOVE inside');
    # mod_dav's sub-request for the Destination is decided by the routes of
    # the Destination's own section: /dav/LOCKED takes no Destination, while
    # /dav's routes would allow this one.
    is(dav($wtok, 'COPY', '/dav/PROJ/repo/a.txt', dest('/dav/LOCKED/r/a.txt')), 403,
       'COPY into a section whose routes refuse Destinations (the sub-request)');
    ok(!-e "$root/LOCKED/r/a.txt", '  nothing written');
    like($env->error_log_text, qr{no route for COPY /dav/LOCKED/r/a\.txt: a deny route matched},
         '  refused in the sub-request for the Destination');
};

subtest 'project keys map to their canonical directory' => sub {
    my ($st, $body) = dav($rtok, 'GET', '/dav/proj/repo/a.txt');
    is($st, 200, 'GET /dav/proj/... is allowed on the PROJ grant');
    is($body, "PROJ a\n", '  and serves PROJ, not the lower-case twin on disk');
    ($st, $body) = dav($rtok, 'GET', '/dav/Proj/repo/a.txt');
    is($body, "PROJ a\n", '  so does /dav/Proj/...');
    is(dav($wtok, 'PUT', '/dav/proj/repo/lower.txt', data => "l\n"), 201, 'PUT through a lower-case key');
    ok(-e "$root/PROJ/repo/lower.txt" && !-e "$root/proj/repo/lower.txt", '  lands in PROJ');
    is(dav($rtok, 'GET', '/dav/other/secret/s.txt'), 403, 'a lower-case key of a project without a grant');
    is(dav($rtok, 'GET', '/dirdav/PROJ/repo/a.txt'), 200, 'routes in a <Directory>: the canonical key');
    is(dav($rtok, 'GET', '/dirdav/proj/repo/a.txt'), 403, '  another spelling cannot be mapped there: refused');
    # Slugs are compared exactly: another spelling is another repository.
    is(dav($rtok, 'GET', '/dav/PROJ/Repo/a.txt'), 404, 'a slug in another case is another (absent) repository');
};

subtest 'nested sections replace their parent\'s routes' => sub {
    is(dav($wtok, 'GET', '/dav/RO/r/x.txt'), 200, 'GET under /dav/RO');
    is(dav($wtok, 'PUT', '/dav/RO/r/y.txt', data => "y"), 403, 'PUT under /dav/RO: its routes are reads only');
    ok(!-e "$root/RO/r/y.txt", '  nothing written');
};

subtest 'a password user: COPY decided at both ends with the user\'s grants' => sub {
    $env->user_add('carol');
    $env->grant('carol', 'PROJECT_WRITE', 'PW');
    $env->grant('carol', 'PROJECT_READ', 'PROJ');
    my $pw = 'Basic ' . BBT::Env::b64('carol:carol-pw');
    my $cp = sub { ($env->curl($_[1], method => $_[0], auth => $pw, @_[2 .. $#_]))[0] };
    is($cp->('PUT', '/dav/PW/r/p.txt', data => "p\n"), 201, 'carol writes in PW with her password');
    is($cp->('PUT', '/dav/PW/new', data => "p\n"), 403, 'but does not create a repository there');
    is($cp->('COPY', '/dav/PW/r/p.txt', dest('/dav/PROJ/repo/p.txt')), 403,
       'COPY into PROJ, where she only reads: refused');
    ok(!-e "$root/PROJ/repo/p.txt", '  nothing written');
    is($cp->('COPY', '/dav/PW/r/p.txt', dest('/dav/PW/r/q.txt')), 201, 'COPY inside PW');
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
