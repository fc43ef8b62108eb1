# BBTokenRoutes at server or virtual-host level: the routes of the
# module's sections beneath it (AuthType BBToken), and nothing to the rest
# of the server.  They are merged into every section of the server, and
# the module's refusals of what it cannot route safely used to act on any
# request that had routes: one line broke every other tree of the host.
# A site whose .htaccess applied was 500 (BBT045), another WebDAV share's
# MOVE and COPY 403 (BBT048) and its ranged PUT 400 (BBT055), every TRACE
# 405 (BBT044).  Now they are answered as without the line, while in the
# module's section those refusals still hold: a .htaccess there (even one
# whose <If> takes the AuthType away, which the routes do not say) is
# refused, TRACE is 405, a MOVE or COPY whose Destination no route takes
# is 403, one that is not the git object its Destination names 422, a
# ranged PUT 400.  BBTokenRoutes none at server level leaves the other
# trees alone as well.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env qw(auth_bearer);
use BBT::Assert;

my $port = BBT::Env::free_port();
my $sections = <<'EOC';
DavLockDB "@DIR@/davlock/lockdb"
# The module's section, with no routes of its own.  AllowOverride lets a
# .htaccess in, for the refusal to be seen.
Alias /dgit "@DIR@/repos"
<Directory "@DIR@/repos">
    Options None
    AllowOverride AuthConfig
    Require all granted
</Directory>
<Location /dgit>
    Dav On
    SetHandler default-handler
    AuthType BBToken
    AuthName "Git"
    Require bbtoken
</Location>
# A directory of the module's tree that a <Location> takes away from it:
# a Destination there is still checked as the MOVE's routes ask.
<Location /dgit/PROJ/repo.git/objects/33>
    AuthType None
    Require all granted
</Location>
# A site with a .htaccess, and a WebDAV share without a login: neither is
# the module's.
Alias /site "@DIR@/site"
<Directory "@DIR@/site">
    AllowOverride All
    Require all granted
</Directory>
Alias /share "@DIR@/share"
<Directory "@DIR@/share">
    AllowOverride None
    Require all granted
</Directory>
<Location /share>
    Dav On
</Location>
EOC
my %conf = (
    server => "BBTokenRoutes git /dgit\n$sections",
    # The host every request reaches (the only one on the address).
    vhost => "$sections<VirtualHost 127.0.0.1:$port>\n    ServerName 127.0.0.1:$port\n"
             . "    BBTokenRoutes git /dgit\n</VirtualHost>\n",
    none => "BBTokenRoutes none\n$sections",
);

my $env = BBT::Env->new(port => $port, extra_conf => $conf{server}, modules => [qw(dav dav_fs)], httpd => 0)->start;
my $d = $env->dir;
make_path("$d/davlock", "$d/site", "$d/share");
BBT::Env::spew("$d/site/index.txt", "hello\n", 0644);
BBT::Env::spew("$d/site/.htaccess", "# nothing but a comment\n", 0644);
$env->make_repo('PROJ', 'repo');
my $open = $env->make_repo('PROJ', 'open');
BBT::Env::spew("$open/.htaccess", "<If \"true\">\nAuthType None\nRequire all granted\n</If>\n", 0644);
$env->give_to_httpd("$d/davlock", "$d/site", "$d/share", "$d/repos");
$env->httpd_start;
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my ($ro) = $env->token_create('alice', name => 'ro', perms => ['REPO_READ']);
my ($rw) = $env->token_create('alice', name => 'rw', perms => ['REPO_WRITE']);
($ro, $rw) = map { auth_bearer($_) } $ro, $rw;

my $R = '/dgit/PROJ/repo.git';
my $up = "$R/objects/11/" . ('1' x 38) . '_' . ('2' x 40);

# The trees that are not the module's, answered as httpd answers them.
sub elsewhere {
    my ($what) = @_;
    my $res = $env->get('/site/index.txt');
    is($res->{status}, 200, "$what: GET of the site a .htaccess applies to: 200");
    is($res->{content}, "hello\n", '  the file');
    for my $p ('/site/index.txt', '/share/') {
        # TraceEnable is on by default: httpd echoes the request.
        $res = $env->request('TRACE', $p, { 'X-Bbt-Probe' => 'echoed' });
        is($res->{status}, 200, "$what: TRACE $p: httpd's own answer, 200");
        like($res->{content} // '', qr/X-Bbt-Probe: echoed/, '  the request echoed');
    }
    my $s = "/share/$what";
    is($env->request('PUT', "$s-a.txt", {}, "hello\n")->{status}, 201, "$what: PUT in the share: 201");
    is($env->request('MOVE', "$s-a.txt", { Destination => $env->url("$s-b.txt") })->{status}, 201,
       '  MOVE: 201');
    is($env->request('COPY', "$s-b.txt", { Destination => $env->url("$s-c.txt") })->{status}, 201,
       '  COPY: 201');
    is($env->request('MOVE', "$s-c.txt", { Destination => $env->url("$s-b.txt") })->{status}, 204,
       '  MOVE onto a file: 204');
    is($env->request('PUT', "$s-b.txt", { 'Content-Range' => 'bytes 0-2/6' }, 'HEL')->{status}, 204,
       '  PUT with a Content-Range: 204');
    is(BBT::Env::slurp("$d/share/$what-b.txt"), "HELlo\n", '  written in place');
}

# The module's section under the routes given above it.
sub ours {
    my ($what) = @_;
    is($env->get("$R/HEAD", $ro)->{status}, 200, "$what: the routes govern the module's section: a token reads");
    is($env->get("$R/HEAD")->{status}, 401, '  nothing without a login');
    is($env->get('/dgit/PROJ/open.git/HEAD')->{status}, 500,
       "  a .htaccess whose <If> says AuthType None: 500, not served");
    my $res = $env->request('TRACE', "$R/HEAD", { 'X-Bbt-Probe' => 'echoed' });
    is($res->{status}, 405, '  TRACE: 405');
    unlike($res->{content} // '', qr/echoed/, '  nothing echoed');
}

sub ours_dav {
    my ($what) = @_;
    like($env->request('MKCOL', "$R/objects/11/", $rw)->{status}, qr/^(201|405)\z/, "$what: objects/11/ is there");
    is($env->request('PUT', $up, $rw, 'not an object')->{status}, 201, '  an upload: 201');
    for my $m (qw(MOVE COPY)) {
        is($env->request($m, $up, { %$rw, Destination => $env->url("/share/$what-up") })->{status}, 403,
           "  $m of it into the share: 403");
    }
    ok(!-e "$d/share/$what-up", '  nothing there');
    is($env->request('MOVE', $up, { %$rw, Destination => $env->url("$R/objects/11/" . ('1' x 38)) })->{status},
       422, '  MOVE onto an object it is not: 422');
    like($env->request('MKCOL', "$R/objects/33/", $rw)->{status}, qr/^(201|405)\z/, '  objects/33/ is there');
    is($env->request('MOVE', $up, { %$rw, Destination => $env->url("$R/objects/33/" . ('3' x 38)) })->{status},
       422, '  MOVE onto an object it is not, in a section not the module\'s: 422');
    is($env->request('PUT', $up, { %$rw, 'Content-Range' => 'bytes 0-2/13' }, 'NOT')->{status}, 400,
       '  PUT with a Content-Range: 400');
    unlink $env->repo_root . '/PROJ/repo.git/objects/11/' . ('1' x 38) . '_' . ('2' x 40);
}

for my $where (qw(server vhost none)) {
    $env->httpd_restart(extra_conf => $conf{$where}) unless $where eq 'server';
    my $from = length $env->error_log_text;
    elsewhere($where);
    if ($where eq 'none') {
        is($env->get("$R/HEAD", $ro)->{status}, 403, 'none: the module\'s section takes no token');
        is($env->request('TRACE', "$R/HEAD")->{status}, 405, '  TRACE: 405');
        is($env->get('/dgit/PROJ/open.git/HEAD')->{status}, 500, '  a .htaccess there: 500');
    } else {
        ours($where);
        ours_dav($where);
    }
    my $log = substr($env->error_log_text, $from);
    unlike($log, qr{BBT0(?:44|45|48|55): (?:\S+ )?(?:onto )?/(?:site|share)/}, "$where: the module refused nothing elsewhere");
    like($log, qr{BBT045: /dgit/PROJ/open\.git/HEAD is served by routes}, '  its own refusals logged: BBT045');
    like($log, qr{BBT044: TRACE \Q$R\E/HEAD refused}, '  BBT044');
    next if $where eq 'none';
    like($log, qr{BBT047: MOVE of \Q$up\E onto \Q$R\E/objects/11/1{38} refused \(422\)}, '  BBT047');
    like($log, qr{BBT055: PUT \Q$up\E with a Content-Range refused}, '  BBT055');
}
is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
