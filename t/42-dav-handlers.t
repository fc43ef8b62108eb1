# What a writer uploads over WebDAV is served as a file, never run: a
# handler chosen by the file's name elsewhere in the server (Debian's PHP
# confs say <FilesMatch "\.ph(ar|p|tml)$"> SetHandler ..., mod_mime's
# AddHandler) would otherwise run a page a token's holder PUT into the tree,
# as httpd's User, at the next GET or POST of it.  mod_dav_fs leaves GET and
# POST to httpd's handlers, so the shipped bbtoken-dav.conf (README's mod_dav
# configuration) and the git set's DAV location set SetHandler
# default-handler in their <Location>, merged after every <Files>.  mod_lua
# stands in for PHP: a handler that runs the file it is given, whatever
# Options say.  Guards beside it (these passed before): a .htaccess a writer
# plants, by PUT, MOVE, COPY or an encoded name, is not obeyed; uploaded
# HTML and SVG are served sandboxed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env;
use BBT::Httpd;
use BBT::GitDav;
use BBT::Assert;

my $by_name = <<'EOC';
TypesConfig /dev/null
<FilesMatch "\.php$">
    SetHandler lua-script
</FilesMatch>
AddHandler lua-script .lua
AddType text/html .html
AddType image/svg+xml .svg
EOC
my $extra = "DavLockDB \"\@DIR\@/davlock/lockdb\"\n" . $by_name . BBT::Httpd::shipped_conf('dav');
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(dav dav_fs alias mime lua)], httpd => 0)->start;
my $d = $env->dir;
make_path("$d/dav/PROJ/repo", "$d/davlock");
$env->give_to_httpd("$d/dav", "$d/davlock");
$env->httpd_start;
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $tok = $env->token_create('alice', name => 'ci');
my $auth = "Bearer $tok";

my $code = "function handle(r)\n    r:puts('RAN ' .. 'AS THE SERVER')\n    return apache2.OK\nend\n";
for my $name ('x.php', 'x.lua') {
    my ($st) = $env->curl("/dav/PROJ/repo/$name", method => 'PUT', auth => $auth, data => $code);
    is($st, 201, "$name uploaded");
    for my $m ('GET', 'POST') {
        my ($st, $body) = $env->curl("/dav/PROJ/repo/$name", method => $m, auth => $auth,
                                     $m eq 'POST' ? (data => 'a=1') : ());
        unlike($body, qr/RAN AS THE SERVER/, "$m $name: not run");
        is($body, $code, "  its content served as it was written") if $m eq 'GET';
    }
}

# Nor is a .htaccess a writer puts there obeyed (AllowOverride None), by any
# name or spelling it can reach one by: PUT, MOVE onto it, COPY onto it.
my $ht = "AuthType None\nRequire all granted\nAddHandler lua-script .txt\nSetHandler lua-script\n";
is(($env->curl('/dav/PROJ/repo/t.txt', method => 'PUT', auth => $auth, data => $code))[0], 201, 't.txt uploaded');
make_path("$d/dav/PROJ/repo/$_") for qw(m c e);
$env->give_to_httpd("$d/dav/PROJ/repo");
for my $w (['m', 'MOVE', '.htaccess'], ['c', 'COPY', '.htaccess'], ['e', 'PUT', '%2e%68taccess']) {
    my ($dir, $how, $name) = @$w;
    my ($st) = $env->curl("/dav/PROJ/repo/$dir/" . ($how eq 'PUT' ? $name : 'h'), method => 'PUT',
                          auth => $auth, data => $ht);
    $st = ($env->curl("/dav/PROJ/repo/$dir/h", method => $how, auth => $auth,
                      headers => ["Destination: " . $env->url("/dav/PROJ/repo/$dir/$name")]))[0]
        if $how ne 'PUT';
    ok(-e "$d/dav/PROJ/repo/$dir/.htaccess", "$how of a file to $dir/$name: written ($st)");
    $env->curl("/dav/PROJ/repo/t.txt", method => 'COPY', auth => $auth,
               headers => ["Destination: " . $env->url("/dav/PROJ/repo/$dir/t.txt")]);
    my ($gst, $body) = $env->curl("/dav/PROJ/repo/$dir/t.txt");
    is($gst, 401, "  $dir/t.txt without a login: still 401");
    ($gst, $body) = $env->curl("/dav/PROJ/repo/$dir/t.txt", auth => $auth);
    is($body, $code, '  with one: its content, not run');
}

# Pages a writer uploads are served sandboxed (BBTokenSandbox), handler or
# not: an SVG is a page too.
for my $f (['x.html', '<script>alert(1)</script>', 'text/html'],
           ['x.svg', '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', 'image/svg+xml']) {
    my ($name, $page, $type) = @$f;
    $env->curl("/dav/PROJ/repo/$name", method => 'PUT', auth => $auth, data => $page);
    my $res = $env->get("/dav/PROJ/repo/$name", { Authorization => $auth });
    is_status($res, 200, "GET $name");
    like($res->{headers}{'content-type'} // '', qr{^\Q$type\E}, "  as $type");
    is($res->{headers}{'content-security-policy'}, 'sandbox', '  Content-Security-Policy: sandbox');
    is($res->{headers}{'x-content-type-options'}, 'nosniff', '  X-Content-Type-Options: nosniff');
}

# mod_dav still answers its own methods there.
is($env->request('PROPFIND', '/dav/PROJ/repo/x.php', { Authorization => $auth, Depth => 0 })->{status}, 207,
   'PROPFIND x.php: mod_dav answers');
is($env->request('DELETE', '/dav/PROJ/repo/x.lua', { Authorization => $auth })->{status}, 204, 'DELETE x.lua');

# The same handlers outside the tree still run (the stand-ins work).
make_path("$d/run/ctl");
BBT::Env::spew("$d/run/ctl/x.php", $code);
$env->httpd_restart(extra_conf => $extra . "Alias /ctl \"$d/run/ctl\"\n<Directory \"$d/run/ctl\">\n"
                    . "    Require all granted\n</Directory>\n");
my ($st, $body) = $env->curl('/ctl/x.php');
like($body, qr/RAN AS THE SERVER/, 'control: x.php runs where no <Location> turns handlers off');


# README's DAV location for git http-push: a ref is a file its writer fills.
subtest 'a ref written over WebDAV (the git set)' => sub {
    my $g = BBT::GitDav::start(before => $by_name, modules => [qw(mime lua)]);
    my $bare = $g->make_repo('PROJ', 'repo');
    $g->give_to_httpd($bare);
    $g->user_add('alice');
    $g->grant('alice', 'PROJECT_WRITE', 'PROJ');
    my $h = { Authorization => $g->bearer($g->token_create('alice', name => 'rw', perms => ['REPO_WRITE'])) };
    my $ref = '/dgit/PROJ/repo.git/refs/heads/x.php';
    is($g->request('PUT', $ref, $h, $code)->{status}, 201, 'PUT refs/heads/x.php');
    my $res = $g->request('GET', $ref, $h);
    unlike($res->{content}, qr/RAN AS THE SERVER/, 'GET of it: not run');
    is($res->{content}, $code, '  its content served as it was written');
};

done_testing;
