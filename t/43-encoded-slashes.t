# Under AllowEncodedSlashes NoDecode httpd keeps a %2F in the path it
# maps, and a proxy forwards it as it came: routes see repo/x%2F..%2F..
# as one segment of the repository's, while a backend that decodes %2F and
# then resolves dot segments (Tomcat allowed to, say) reads another
# repository.  A path is routed only when its encoded slashes read as
# slashes give the very route and target: the CGI here shows what it was
# handed.  Without encoded slashes, and with ones that name the same
# place, nothing changes.  So too a backslash, which a backend may take
# for a slash, and a segment's ;parameter, which a servlet container drops
# before it resolves dot segments, and before it decodes: under the dav
# routes, repo/;%5Cx is the repository itself to it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(cgi_vars);
use BBT::Assert;

my $extra = <<'EOC';
AllowEncodedSlashes NoDecode
ScriptAlias /nd/ "@DIR@/cgi-bin/env.cgi/"
<Location /nd>
    AuthType BBToken
    AuthName "Files"
    BBTokenRoute GET,HEAD "/nd/(?<project>[A-Z][A-Z0-9_]*)/(?<repo>[a-z0-9][a-z0-9._-]*)(/.*)?" REPO_READ
    Require bbtoken
</Location>
ScriptAlias /dav/ "@DIR@/cgi-bin/env.cgi/"
<Location /dav>
    AuthType BBToken
    AuthName "Files"
    BBTokenRoutes dav
    Require bbtoken
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra)->start;
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
my $tok = $env->token_create('alice', name => 'read', perms => ['REPO_READ']);
my $auth = { Authorization => "Bearer $tok" };
$env->user_add('bob');
$env->grant('bob', 'PROJECT_WRITE', 'PROJ');
my $wtok = $env->token_create('bob', name => 'write', perms => ['REPO_WRITE']);
my $wauth = { Authorization => "Bearer $wtok",
              Destination => $env->url('/dav/PROJ/repo/moved') };

my $r = $env->get('/nd/PROJ/repo/raw/file', $auth);
is_status($r, 200, 'control: a read in PROJ/repo');
is(cgi_vars($r->{content})->{PATH_INFO}, '/PROJ/repo/raw/file', '  served as asked');

$r = $env->get('/nd/OTHER/secret/raw/file', $auth);
is_status($r, 403, 'control: OTHER is refused');

# A name with a backslash that reads, slashes merged, as a place in the
# same repository: served (Subversion's "\lead.txt", t/59-svn-oddnames).
$r = $env->get('/nd/PROJ/repo/raw/%5Clead.txt', $auth);
is_status($r, 200, 'a backslash name in PROJ/repo: served');

for my $c (['%2F..%2F..%2F into OTHER', '/nd/PROJ/repo/raw%2F..%2F..%2F..%2FOTHER%2Fsecret%2Fraw'],
           ['%2f lower case', '/nd/PROJ/repo/raw%2f..%2f..%2f..%2fOTHER%2fsecret%2fraw'],
           ['%2F. and %2F%2F', '/nd/PROJ/repo%2F.%2F%2F..%2Fother%2Fraw'],
           ['%2F.. into PROJ/other', '/nd/PROJ/repo/x%2F..%2F..%2Fother%2Fraw']) {
    my ($name, $path) = @$c;
    $r = $env->get($path, $auth);
    is_status($r, 403, "$name: refused");
    unlike($r->{content}, qr/^PATH_INFO=/m, '  the CGI was not run') or diag $r->{content};
}

# A backslash (a %5C httpd decodes, or as it came) that a backend takes
# for a slash, and a segment's ;parameter that a servlet container drops
# before it resolves dot segments ("..;" is ".." to it), under any
# AllowEncodedSlashes.
for my $c (['%5C.. into OTHER', '/nd/PROJ/repo/raw%5C..%5C..%5C..%5COTHER%5Csecret%5Craw'],
           ['backslashes into OTHER', '/nd/PROJ/repo/raw\\..\\..\\..\\OTHER\\secret\\raw'],
           ['..; into OTHER', '/nd/PROJ/repo/raw/..;/..;/..;/OTHER/secret/raw'],
           ['..;x= into PROJ/other', '/nd/PROJ/repo/..;x=1/other/raw'],
           # A backend may apply only some of the readings (decode a %2F
           # and keep a backslash, keep a %2F and drop ;parameters, not
           # merge slashes): its ".." then pops another segment than the
           # full reading's would.  Refused, never resolved.
           ['%5C kept, %2F.. decoded', '/nd/PROJ/repo/raw%5Cz%5Cz2%2F..%2F..%2Fother%2Fraw%2Fsecret.txt'],
           ['%5C.. unmerged', '/nd/PROJ/repo/x%5C..%5C..%5Cother%5C%5C..%5Crepo'],
           ['%2F.. unmerged', '/nd/PROJ/repo/..%2Fother%2F%2F..%2Frepo'],
           ['%2F kept, ..; dropped', '/nd/PROJ/repo/raw%2Fz%2Fz2/..;/..;/other/raw/secret.txt'],
           ['%5C kept, ..; dropped', '/nd/PROJ/repo/raw%5Cz%5Cz2/..;/..;/other/raw/secret.txt']) {
    my ($name, $path) = @$c;
    $r = $env->get($path, $auth);
    is_status($r, 403, "$name: refused");
    unlike($r->{content}, qr/^PATH_INFO=/m, '  the CGI was not run') or diag $r->{content};
}
# An escape httpd leaves (a %2F kept, a %25XX decoded to %XX) is decoded
# by the backend too, and again by one that decodes twice: a ;parameter
# ends at the slash it decodes to (a backend that decodes and then drops
# ;parameters reads x;%2F..%2F as x;/../), and %2e%2e is a "..".
for my $c (['x;%2F.. into OTHER', '/nd/PROJ/repo/x;%2F..%2F..%2F..%2FOTHER%2Fsecret%2Fraw'],
           ['x;%2F.. then a slash', '/nd/PROJ/repo/x;%2F..%2F..%2F..%2FOTHER%2Fsecret/raw'],
           ['%252e%252e segments', '/nd/PROJ/repo/x/%252e%252e/%252e%252e/%252e%252e/OTHER/secret/raw'],
           ['%252e%252e%252f', '/nd/PROJ/repo/x/%252e%252e%252f%252e%252e%252f%252e%252e%252fOTHER/secret/raw'],
           ['%252e%252e%2F', '/nd/PROJ/repo/x%2F%252e%252e%2F%252e%252e%2Fother%2Fraw'],
           ['%25252e, decoded twice', '/nd/PROJ/repo/x/%25252e%25252e/%25252e%25252e/other/raw'],
           ['%253B.. (a ;)', '/nd/PROJ/repo/raw/..%253B/..%253B/..%253B/OTHER/secret/raw'],
           ['an escape left after three decodings', '/nd/PROJ/repo/raw/%252525252e'],
           ['%2500, a NUL', '/nd/PROJ/repo/raw/a%2500b'],
           ['%2500 beside a bad escape', '/nd/PROJ/repo/raw/a%25zz%2500b'],
           ['a NUL ending the reading before %252e%252e',
            '/nd/PROJ/repo/x%25zz%2500/%252e%252e/%252e%252e/%252e%252e/OTHER/secret/raw'],
           ['a NUL on the second decoding', '/nd/PROJ/repo/x%2525zz%252500/%252e%252e/%252e%252e/OTHER/raw']) {
    my ($name, $path) = @$c;
    $r = $env->get($path, $auth);
    is_status($r, 403, "$name: refused");
    unlike($r->{content}, qr/^PATH_INFO=/m, '  the CGI was not run') or diag $r->{content};
}
for my $c (['a %25 with no hex digits', '/nd/PROJ/repo/raw/100%25%20done.txt', '/PROJ/repo/raw/100% done.txt'],
           ['a %2541 inside PROJ/repo', '/nd/PROJ/repo/raw/a%2541;b%252Fc', '/PROJ/repo/raw/a%41;b%2Fc']) {
    my ($name, $path, $got) = @$c;
    $r = $env->get($path, $auth);
    is_status($r, 200, "$name: served");
    is(cgi_vars($r->{content})->{PATH_INFO}, $got, '  as it came');
}

$r = $env->get('/nd/PROJ/repo/raw%5Csub;v=1/file', $auth);
is_status($r, 200, 'a backslash and a ;parameter inside PROJ/repo: served');
is(cgi_vars($r->{content})->{PATH_INFO}, '/PROJ/repo/raw\\sub;v=1/file', '  as they came');

# A servlet container (Tomcat) behind a ProxyPass, which forwards the path
# encoded again, drops a segment's ;parameter before it decodes: up to the
# next slash sent as one, so repo/;%5Cx and repo/;%252Fx are repo/ to it,
# the repository itself (deleted, its settings changed, moved away:
# REPO_ADMIN; made: REPO_CREATE), where the reading that decodes first
# has repo/x, inside it.  Refused to a REPO_WRITE token; the routes are
# the dav set's, the CGI shows what a backend would have been handed.
for my $c (['DELETE', '/dav/PROJ/repo/x', '/PROJ/repo/x'],
           ['MOVE', '/dav/PROJ/repo/x', '/PROJ/repo/x'],
           ['MKCOL', '/dav/PROJ/newrepo/x', '/PROJ/newrepo/x'],
           ['DELETE', '/dav/PROJ/repo/x/;%5Cy', '/PROJ/repo/x/;\\y']) {
    my ($method, $path, $got) = @$c;
    $r = $env->request($method, $path, $wauth);
    is_status($r, 200, "control: $method $path by a writer");
    is(cgi_vars($r->{content})->{PATH_INFO}, $got, '  served as asked');
}
$r = $env->request('DELETE', '/dav/PROJ/repo/;x', $wauth);
is_status($r, 403, 'control: DELETE /dav/PROJ/repo/;x is refused');
for my $p (';%5Cx', ';%252Fx', ';%2Fx', ';%255Cx', ';v=1%5Cx', ';%5C..', ';%5C..%5Cx') {
    for my $c (['DELETE', 'repo'], ['PROPPATCH', 'repo'], ['MOVE', 'repo'],
               ['MKCOL', 'newrepo'], ['PUT', 'newrepo']) {
        my ($method, $repo) = @$c;
        $r = $env->request($method, "/dav/PROJ/$repo/$p", $wauth);
        is_status($r, 403, "$method /dav/PROJ/$repo/$p: refused");
        unlike($r->{content}, qr/^PATH_INFO=/m, '  the CGI was not run') or diag $r->{content};
    }
}

# An encoded slash that names the same place is served as before.
$r = $env->get('/nd/PROJ/repo/raw%2Fsub%2Ffile', $auth);
is_status($r, 200, 'encoded slashes inside PROJ/repo: served');
is(cgi_vars($r->{content})->{PATH_INFO}, '/PROJ/repo/raw%2Fsub%2Ffile', '  as they came');
like($env->error_log_text, qr/BBT050: .*an escape left in the path \(%2F, %25XX\)/, 'the refusal says why (BBT050)');

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
