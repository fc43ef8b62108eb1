# A token never reaches the error page of a request httpd refused before
# it knew the request's section, so that nothing marks the request as the
# module's: a %2F under AllowEncodedSlashes Off (404 before the location
# walk), a malformed request (400 once its headers are read), a symlink
# that Options -FollowSymLinks or SymLinksIfOwnerMatch refuses (403), a
# broken .htaccess or one with a directive AllowOverride does not allow
# (500): the server's ErrorDocument, an internal redirect that shares the
# request's headers, served here by a CGI with CGIPassAuth On.  A password
# and another issuer's Bearer credential are still handed to that page:
# nobody knows whose they were, and they may be another module's to read.
# Over HTTP/2 too, with prior knowledge and over an h2c upgrade.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env qw(b64 run_cmd mistype_token);
use BBT::Assert;

my $extra = <<'EOC';
Protocols h2c http/1.1
ErrorDocument 400 /open-env/error400
ErrorDocument 403 /open-env/error403
ErrorDocument 404 /open-env/error404
ErrorDocument 500 /open-env/error500
Alias /files "@DIR@/files"
<Directory "@DIR@/files">
    Options -FollowSymLinks
    AllowOverride AuthConfig
    Require all granted
</Directory>
<Directory "@DIR@/files/PROJ/owner">
    Options SymLinksIfOwnerMatch
</Directory>
<Location /files>
    AuthType BBToken
    AuthName "Files"
    BBTokenRoute GET,HEAD "/files/(?<project>[A-Z][A-Z0-9_]*)/(?<repo>[a-z0-9][a-z0-9._-]*)(/.*)?" REPO_READ
    Require bbtoken
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(http2)])->start;
my $d = $env->dir;
make_path(map {"$d/files/PROJ/$_"} qw(plain link owner broken override));
BBT::Env::spew("$d/files/PROJ/plain/x.txt", "plain\n");
BBT::Env::spew("$d/files/PROJ/link/target.txt", "target\n");
symlink("$d/files/PROJ/link/target.txt", "$d/files/PROJ/link/x.txt") or die $!;
# Owned by someone else than the link (root, whose file httpd's user is not).
symlink('/etc/passwd', "$d/files/PROJ/owner/x.txt") or die $!;
BBT::Env::spew("$d/files/PROJ/broken/.htaccess", "NoSuchDirective here\n");
BBT::Env::spew("$d/files/PROJ/broken/x.txt", "broken\n");
BBT::Env::spew("$d/files/PROJ/override/.htaccess", "Options +Indexes\n");
BBT::Env::spew("$d/files/PROJ/override/x.txt", "override\n");
$env->give_to_httpd("$d/files");
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
$env->make_repo('PROJ', 'errdoc');
$env->htpasswd(carol => 'carol-Pa55-word');
my $tok = $env->token_create('alice', name => 'ro', perms => ['REPO_READ']);
(my $bare = $tok) =~ s/^BBDC-//;
my $typo = mistype_token($tok);
my $git = '/env/PROJ/errdoc.git';
my $slash = "$git%2Finfo/refs?service=git-upload-pack";
my $jwt = 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYXJvbCJ9.c2lnbmF0dXJlLWhlcmU';

my $r = $env->get('/files/PROJ/plain/x.txt', { Authorization => "Bearer $tok" });
is_status($r, 200, 'control: the token reads a plain file under /files');
$r = $env->get("$git/info/refs?service=git-upload-pack", { Authorization => "Bearer $tok" });
is_status($r, 200, 'control: the token reads the repository without the %2F');

# What the error page's CGI was handed: $want is the header, or undef.
sub page_got {
    my ($name, $status, $page, $res, $want) = @_;
    my $body = $res->{content} // $res->{body} // '';
    is($res->{status}, $status, "$name: refused");
    like($body, qr{^PATH_INFO=/\Q$page\E$}m, "  the error page's CGI answered") or diag $body;
    if (defined $want) {
        like($body, qr/^HTTP_AUTHORIZATION=\Q$want\E$/m, '  and was handed the header');
    }
    else {
        like($body, qr/^HTTP_AUTHORIZATION unset$/m, '  and was not handed the credentials');
        unlike($body, qr/\Q$bare\E/, '  nothing of the token in the page');
    }
}

my @tokens = (['a Bearer token', "Bearer $tok"],
              ['a token as the Basic password', $env->basic('alice', $tok)],
              ['a mistyped token', $env->basic('alice', $typo)],
              ['a token without its prefix', "Bearer $bare"],
              # Spelled as httpd's own base64 decoder and a CGI's library
              # read it, though the module's strict one does not.
              ['a Basic token without its padding', $env->basic('alice', $tok) =~ s/=+\z//r],
              ['a Basic token in the URL alphabet', $env->basic('al~ce', $tok) =~ tr{+/}{-_}r],
              ['a Basic token cut by a space', $env->basic('alice', $tok) =~ s/^(Basic .{10})/$1 /r]);
my @early = (['a %2F (AllowEncodedSlashes Off)', 404, 'error404', $slash],
             ['a symlink under -FollowSymLinks', 403, 'error403', '/files/PROJ/link/x.txt'],
             ['a symlink under SymLinksIfOwnerMatch', 403, 'error403', '/files/PROJ/owner/x.txt'],
             ['a broken .htaccess', 500, 'error500', '/files/PROJ/broken/x.txt'],
             ['a .htaccess AllowOverride refuses', 500, 'error500', '/files/PROJ/override/x.txt']);
for my $e (@early) {
    my ($what, $status, $page, $url) = @$e;
    for my $t (@tokens) {
        page_got("$t->[0], $what", $status, $page, $env->get($url, { Authorization => $t->[1] }));
    }
}

# A malformed request: an HTTP/1.1 request without Host is refused once
# its headers, the token's among them, are read.
my $port = $env->port;
my $ok_line = "GET $git/info/refs?service=git-upload-pack HTTP/1.1";
my $no_host = "$ok_line\r\n%AUTH%\r\nConnection: close\r\n\r\n";
for my $t (@tokens) {
    (my $bytes = $no_host) =~ s/%AUTH%/Authorization: $t->[1]/;
    page_got("$t->[0], an HTTP/1.1 request without Host", 400, 'error400',
             $env->raw_request($bytes));
}
# A header httpd cannot read: its ErrorDocument is not served at all
# ("Additionally, a 400 Bad Request error was encountered"), so no CGI is
# handed anything.
for my $m (['a header line without a colon', "$ok_line\r\nHost: 127.0.0.1:$port\r\n%AUTH%\r\n"
                . "Not a header line\r\nConnection: close\r\n\r\n"],
           ['a header field over LimitRequestFieldSize',
            "$ok_line\r\nHost: 127.0.0.1:$port\r\n%AUTH%\r\n"
                . "X-One: 1\r\nX-Long: " . ('a' x 9000) . "\r\nConnection: close\r\n\r\n"]) {
    (my $bytes = $m->[1]) =~ s/%AUTH%/Authorization: Bearer $tok/;
    my $res = $env->raw_request($bytes);
    is($res->{status}, 400, "a Bearer token, $m->[0]: refused");
    unlike($res->{body} // '', qr/PATH_INFO=|HTTP_AUTHORIZATION/, '  no error page\'s CGI ran');
    unlike($res->{body} // '', qr/\Q$bare\E/, '  nothing of the token in the answer');
}

# What is not a token is left to the page: a password, another issuer's
# Bearer credential.
for my $c (['a password', $env->basic('carol', 'carol-Pa55-word')], ['a JWT', $jwt]) {
    page_got("$c->[0], a %2F", 404, 'error404', $env->get($slash, { Authorization => $c->[1] }),
             $c->[1]);
    page_got("$c->[0], a symlink", 403, 'error403',
             $env->get('/files/PROJ/link/x.txt', { Authorization => $c->[1] }), $c->[1]);
    (my $bytes = $no_host) =~ s/%AUTH%/Authorization: $c->[1]/;
    page_got("$c->[0], a request without Host", 400, 'error400', $env->raw_request($bytes),
             $c->[1]);
}

# HTTP/2: with prior knowledge, and an h2c upgrade whose stream 1 is the
# error page.
for my $h2 (['--http2-prior-knowledge', 'HTTP/2 with prior knowledge'],
            ['--http2', 'an h2c upgrade']) {
    my ($rc, $out, $err) = run_cmd(cmd => ['curl', '-sS', $h2->[0], '-w', '\nPROTO=%{http_version}\n',
                                           '-H', "Authorization: Bearer $tok",
                                           "http://127.0.0.1:$port$slash"],
                                   timeout => 60, tmp => $d);
    is($rc, 0, "curl $h2->[0] ran into a %2F") or diag $err;
    like($out, qr/^PROTO=2$/m, "  over $h2->[1]");
    like($out, qr{^PATH_INFO=/error404$}m, '  the error page\'s CGI answered') or diag $out;
    like($out, qr/^HTTP_AUTHORIZATION unset$/m, '  and was not handed the token');
}

is_deeply([$env->crash_lines], [], 'no child crashed');
done_testing;
