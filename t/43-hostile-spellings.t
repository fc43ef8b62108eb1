# No way around the routes.  Hostile spellings of URLs, queries, methods and
# headers, sent byte for byte, each granting nothing beyond what the token
# and its owner have on the repository actually served.  The oracle is the
# backend itself: /env is a CGI that prints the PATH_INFO, QUERY_STRING and
# method it was given, so a 200 shows exactly what was served.  alice's
# token is REPO_READ; alice has PROJECT_WRITE on PROJ and nothing on OTHER
# or ~bob.  Anything served must be a read of a PROJ repository.  Each
# spelling is sent again with a repository token for PROJ/repo alone:
# anything served to it must be a read of PROJ/repo.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env qw(run_cmd cgi_vars);
use BBT::Assert;

my $extra = <<'EOC';
# Internal redirects and sub-requests to other URIs.
RewriteEngine On
RewriteRule "^/env/PROJ/alias\.git/(.*)$" "/env/OTHER/secret.git/$1" [PT]
RewriteRule "^/env/PROJ/alias-push\.git/(.*)$" "/env/PROJ/repo.git/$1?service=git-receive-pack" [PT]
<Location /env/PROJ/dirrewrite.git>
    RewriteEngine On
    RewriteRule "HEAD$" "/env/OTHER/secret.git/HEAD" [PT]
</Location>
<Location /missing>
    ErrorDocument 404 /env/OTHER/secret.git/HEAD
</Location>
<Location /env/PROJ/errdoc.git>
    ErrorDocument 403 /env/OTHER/secret.git/HEAD
</Location>
Alias /inc "@DIR@/inc"
<Directory "@DIR@/inc">
    Options +Includes
    SetOutputFilter INCLUDES
    Require all granted
</Directory>
<Location /inc>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoute GET "/inc/(?<project>[A-Z]+)/(?<repo>[a-z]+)/[a-z]+\.shtml" REPO_READ query=
    Require bbtoken
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(rewrite include)])->start;
my $d = $env->dir;
make_path("$d/inc/PROJ/repo", "$d/inc/OTHER/secret");
BBT::Env::spew("$d/inc/PROJ/repo/page.shtml", <<'EOS');
start
<!--#include virtual="/env/PROJ/repo.git/HEAD" -->
<!--#include virtual="/env/OTHER/secret.git/HEAD" -->
<!--#include virtual="/inc/OTHER/secret/other.shtml" -->
<!--#include virtual="/env/PROJ/repo.git/info/refs?service=git-receive-pack" -->
end
EOS
BBT::Env::spew("$d/inc/OTHER/secret/other.shtml", "OTHER-SHTML-CONTENT\n");

$env->make_repo('PROJ', 'repo');
$env->make_repo('OTHER', 'secret');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
$env->user_add('bob');
my ($tok) = $env->token_create('alice', name => 'read', perms => ['REPO_READ']);
my $repo_tok = $env->scoped_token_create('--repo', 'PROJ/repo', perms => ['REPO_READ']);
our $auth = 'Authorization: ' . $env->bearer($tok);
my $host = 'Host: 127.0.0.1:' . $env->port;

sub raw {
    my ($method, $target, @hdr) = @_;
    my $body = '';
    if (@hdr && $hdr[0] eq 'BODY') { shift @hdr; $body = shift @hdr; push @hdr, 'Content-Length: ' . length $body }
    return $env->raw_request("$method $target HTTP/1.1\r\n$host\r\n$auth\r\n"
                             . join('', map {"$_\r\n"} @hdr) . "Connection: close\r\n\r\n$body");
}

sub unesc { my $s = shift // ''; $s =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge; $s =~ tr/+/ /; return $s }

# Whatever came back grants nothing beyond a read of a PROJ repository.
my $n = 0;
# The PATH_INFO a served request may have: PROJ's repositories, or for the
# repository token (which sets it while its spellings are sent) PROJ/repo's.
our $served = qr{^/PROJ/[A-Za-z0-9._-]+\.git/};
sub nothing_beyond {
    my ($name, $res, $want) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    $n++;
    my $body = $res->{body} // '';
    my %v = %{ cgi_vars($body) };
    my @bad;
    if ($res->{status} =~ /^2/) {
        push @bad, "served outside PROJ: $v{PATH_INFO}"
            if defined $v{PATH_INFO} && $v{PATH_INFO} !~ $served;
        push @bad, 'a push was served'
            if unesc($v{QUERY_STRING}) =~ /receive/i || ($v{PATH_INFO} // '') =~ /receive/i;
        push @bad, "method $v{REQUEST_METHOD}"
            if defined $v{REQUEST_METHOD} && $v{REQUEST_METHOD} !~ /^(GET|HEAD)$/;
    }
    push @bad, 'OTHER content in the body' if $body =~ m{PATH_INFO=/OTHER|OTHER-SHTML-CONTENT|~bob}i;
    push @bad, "status $res->{status}, wanted $want" if defined $want && $res->{status} != $want;
    push @bad, 'no response' if !$res->{status};
    ok(!@bad, "$name (status $res->{status})") or diag join('; ', @bad) . "\n" . substr($res->{raw} // '', 0, 600);
}

my $q = '?service=git-upload-pack';
my $rp = '?service=git-receive-pack';
my @get = (
    # controls
    ['control: the read itself', "/env/PROJ/repo.git/info/refs$q", 200],
    ['control: OTHER', "/env/OTHER/secret.git/info/refs$q", 403],
    ['control: push advertisement', "/env/PROJ/repo.git/info/refs$rp", 403],
    # dot segments, percent-encoding
    ['dot-dot into OTHER', "/env/PROJ/repo.git/../../OTHER/secret.git/info/refs$q"],
    ['%2e%2e into OTHER', "/env/PROJ/repo.git/%2e%2e/%2e%2e/OTHER/secret.git/info/refs$q"],
    ['%2E%2E upper case', "/env/PROJ/repo.git/%2E%2E/%2E%2E/OTHER/secret.git/HEAD"],
    ['.%2e mixed', "/env/PROJ/repo.git/.%2e/.%2e/OTHER/secret.git/HEAD"],
    ['%252e double-encoded', "/env/PROJ/repo.git/%252e%252e/%252e%252e/OTHER/secret.git/HEAD"],
    ['./ segments', "/env/./OTHER/./secret.git/HEAD"],
    ['dot-dot after info/refs', "/env/PROJ/repo.git/info/refs/../../../../OTHER/secret.git/HEAD"],
    ['%2F between key and slug', "/env/PROJ%2Frepo.git/info/refs$q"],
    ['%2F into OTHER', "/env/PROJ/repo.git%2F..%2F..%2FOTHER%2Fsecret.git/HEAD"],
    ['%2f in the git path', "/env/PROJ/repo.git/info%2frefs$q"],
    ['encoded letters in the key', "/env/%4FTHER/secret.git/info/refs$q"],
    ['encoded letters in the slug', "/env/OTHER/%73ecret.git/info/refs$q"],
    ['%3F query in the path', "/env/PROJ/repo.git/info/refs%3Fservice=git-receive-pack"],
    # duplicate slashes
    ['// before the key', "//env//OTHER/secret.git/HEAD"],
    ['// after the key', "/env/OTHER//secret.git/HEAD"],
    ['// inside PROJ (read)', "/env/PROJ//repo.git//info/refs$q"],
    # case
    ['lower-case key of OTHER', "/env/other/secret.git/info/refs$q"],
    ['mixed-case key of OTHER', "/env/oThEr/secret.git/HEAD"],
    ['lower-case key, push', "/env/proj/repo.git/info/refs$rp"],
    ['slug in another case', "/env/PROJ/REPO.git/info/refs$q"],
    ['.GIT', "/env/PROJ/repo.GIT/info/refs$q"],
    ['~bob in another case', "/env/~BOB/x.git/HEAD"],
    ['/ENV prefix', "/ENV/OTHER/secret.git/HEAD"],
    # trailing slashes, .git
    ['trailing slash', "/env/PROJ/repo.git/info/refs/$q"],
    ['trailing slash on OTHER', "/env/OTHER/secret.git/info/refs/$q"],
    ['repository with a slash only', "/env/OTHER/secret.git/"],
    ['.git missing', "/env/OTHER/secret/info/refs$q"],
    ['.git.git', "/env/OTHER/secret.git.git/info/refs$q"],
    # path info and ; parameters
    ['path info after HEAD', "/env/OTHER/secret.git/HEAD/x"],
    ['path info after info/refs', "/env/PROJ/repo.git/info/refs/x$rp"],
    ['; parameter in the key', "/env/OTHER;PROJ/secret.git/HEAD"],
    ['; parameter after .git', "/env/PROJ/repo.git;/../../OTHER/secret.git/HEAD"],
    ['; parameter on info/refs', "/env/PROJ/repo.git/info/refs;x=1$rp"],
    ['backslashes', "/env/PROJ\\..\\OTHER/secret.git/HEAD"],
    # the query string
    ['service twice, receive last', "/env/PROJ/repo.git/info/refs?service=git-upload-pack&service=git-receive-pack", 403],
    ['service twice, receive first', "/env/PROJ/repo.git/info/refs?service=git-receive-pack&service=git-upload-pack", 403],
    ['; between services', "/env/PROJ/repo.git/info/refs?service=git-upload-pack;service=git-receive-pack", 403],
    ['encoded receive-pack', "/env/PROJ/repo.git/info/refs?service=git-receive-pac%6B", 403],
    ['encoded &', "/env/PROJ/repo.git/info/refs?service=git-upload-pack%26service=git-receive-pack", 403],
    ['encoded =', "/env/PROJ/repo.git/info/refs?service%3Dgit-receive-pack", 403],
    ['query on a dumb file', "/env/PROJ/repo.git/HEAD?service=git-receive-pack", 403],
    ['empty service', "/env/PROJ/repo.git/info/refs?service=", 403],
    # overlong, NUL, odd bytes
    ['overlong slug', "/env/PROJ/" . ('a' x 300) . ".git/HEAD"],
    ['overlong path', "/env/PROJ/repo.git/" . ('x/' x 4000) . "HEAD"],
    ['overlong key', "/env/" . ('K' x 200) . "/repo.git/HEAD"],
    ['%00 in the path', "/env/OTHER/secret.git/HEAD%00"],
    ['%00 before a suffix', "/env/PROJ/repo.git/HEAD%00/../../../OTHER/secret.git/HEAD"],
    ['UTF-8 lookalike key', "/env/%EF%BC%AFTHER/secret.git/HEAD"],
    ['space in the key', "/env/OTHER%20/secret.git/HEAD"],
    ['absolute-form request target', "http://127.0.0.1:" . $env->port . "/env/OTHER/secret.git/HEAD"],
    # internal redirects and sub-requests in the same <Location>
    ['mod_rewrite [PT] onto OTHER', "/env/PROJ/alias.git/HEAD", 403],
    ['mod_rewrite [PT] onto a push', "/env/PROJ/alias-push.git/info/refs", 403],
    ['per-directory rewrite onto OTHER', "/env/PROJ/dirrewrite.git/HEAD"],
    ['ErrorDocument 403 onto OTHER', "/env/PROJ/errdoc.git/config"],
    ['ErrorDocument 404 (another location) onto OTHER', "/missing/x"],
    ['mod_include sub-requests', "/inc/PROJ/repo/page.shtml", 200],
);
for my $c (@get) {
    my ($name, $path, $want) = @$c;
    nothing_beyond("GET $name", raw('GET', $path), $want);
}

my @other = (
    ['POST git-receive-pack', 'POST', '/env/PROJ/repo.git/git-receive-pack', 403],
    ['POST git-receive-pack with a query', 'POST', '/env/PROJ/repo.git/git-receive-pack?service=git-upload-pack', 403],
    ['POST upload-pack/../receive-pack', 'POST', '/env/PROJ/repo.git/git-upload-pack/../git-receive-pack', 403],
    ['POST upload-pack%2F..%2Freceive-pack', 'POST', '/env/PROJ/repo.git/git-upload-pack%2F..%2Fgit-receive-pack'],
    ['POST to OTHER upload-pack', 'POST', '/env/OTHER/secret.git/git-upload-pack', 403],
    ['lower-case method', 'get', "/env/OTHER/secret.git/HEAD"],
    ['method with a lower-case letter', 'GeT', "/env/PROJ/repo.git/info/refs$rp"],
    ['HEAD on OTHER', 'HEAD', "/env/OTHER/secret.git/HEAD", 403],
    ['PUT info/refs', 'PUT', '/env/PROJ/repo.git/info/refs', 403],
    ['PROPFIND on OTHER', 'PROPFIND', '/env/OTHER/secret.git/', 403],
    ['COPY with a Destination in OTHER', 'COPY', '/env/PROJ/repo.git/HEAD', 403,
     'Destination: http://127.0.0.1/env/OTHER/secret.git/HEAD'],
    ['MOVE object with a Destination in OTHER', 'MOVE',
     '/env/PROJ/repo.git/objects/ab/' . ('ab' x 19) . '_' . ('0' x 40), 403,
     'Destination: http://127.0.0.1/env/OTHER/secret.git/objects/ab/' . ('ab' x 19)],
    ['MOVE with a Destination pointing at config', 'MOVE',
     '/env/PROJ/repo.git/objects/ab/' . ('ab' x 19) . '_' . ('0' x 40), 403,
     'Destination: http://127.0.0.1/env/PROJ/repo.git/config'],
);
for my $c (@other) {
    my ($name, $m, $path, $want, @h) = @$c;
    nothing_beyond($name, raw($m, $path, 'BODY', '0000', @h), $want);
}
# A raw NUL byte in the request line.
nothing_beyond('raw NUL in the request line',
               $env->raw_request("GET /env/OTHER/secret.git/HEAD\0/../../PROJ/repo.git/HEAD HTTP/1.1\r\n$host\r\n$auth\r\nConnection: close\r\n\r\n"));
cmp_ok($n, '>=', 60, "$n hostile spellings tried");

# The same spellings from a token for PROJ/repo alone: what its owner may
# read elsewhere in PROJ is not the token's.
{
    local $auth = 'Authorization: ' . $env->bearer($repo_tok);
    local $served = qr{^/PROJ/repo\.git/};
    for my $c (@get, ['control: PROJ/other', '/env/PROJ/other.git/HEAD', 403],
               ['dot-dot into PROJ/other', '/env/PROJ/repo.git/../other.git/HEAD'],
               ['%2e%2e into PROJ/other', '/env/PROJ/repo.git/%2e%2e/other.git/HEAD'],
               ['slug in another case', '/env/PROJ/Repo.git/HEAD', 403],
               ['slug with a trailing dot', '/env/PROJ/repo..git/HEAD', 403],
               ['lower-case key, PROJ/other', '/env/proj/other.git/HEAD', 403]) {
        my ($name, $path, $want) = @$c;
        nothing_beyond("repository token: GET $name", raw('GET', $path), $want);
    }
    for my $c (@other) {
        my ($name, $m, $path, $want, @h) = @$c;
        nothing_beyond("repository token: $name", raw($m, $path, 'BODY', '0000', @h), $want);
    }
}

# The include's own content is there, and only the allowed part of it.
my $inc = raw('GET', '/inc/PROJ/repo/page.shtml');
like($inc->{body}, qr{start.*PATH_INFO=/PROJ/repo\.git/HEAD.*end}s, 'the include of an allowed URL works');
unlike($inc->{body}, qr{QUERY_STRING=service=git-receive-pack}, 'the include of a push advertisement does not');

# git-http-backend itself, with a lower-case twin directory on disk: the key
# is mapped to PROJ before the URL reaches it.
my $twin = $env->repo_root . '/proj';
make_path($twin);
$env->make_repo('proj', 'repo');
my ($rc, $out, $err) = $env->git('ls-remote', $env->clone_url('alice', $tok, 'proj', 'repo'));
is($rc, 0, 'ls-remote /scm/proj/repo.git') or diag $err;
my $proj_head = $env->repo_head('PROJ', 'repo');
my $twin_head = $env->repo_head('proj', 'repo');
isnt($proj_head, $twin_head, 'the twin is another repository');
like($out, qr/^\Q$proj_head\E\s+refs\/heads\/main/m, '  and /scm/proj/ served PROJ, not the twin');
($rc, $out, $err) = $env->git('ls-remote', $env->clone_url('alice', $tok, 'other', 'secret'));
isnt($rc, 0, 'ls-remote /scm/other/secret.git is refused');

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
