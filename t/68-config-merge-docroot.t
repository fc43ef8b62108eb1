# A <Location> with routes over a URL a <Directory> with routes is served
# at replaces the <Directory>'s (BBT362).  Which URL that is, the
# DocumentRoot says, and the one httpd serves from is not always a line's:
# a server with no DocumentRoot line is served from the one httpd is built
# with (/var/www/html on Debian), a virtual host without one from the main
# server's, and a relative path, a DocumentRoot's or an Alias's, is
# ServerRoot's.  Each is warned about as an absolute DocumentRoot line is.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use File::Path qw(make_path);
use BBT::Env qw(auth_bearer);
use BBT::Util qw(free_port spew);

# The harness's configuration has no DocumentRoot line: a CGI tells the one
# httpd serves from.
my $env = BBT::Env->new(extra_conf => qq{ScriptAlias /docroot "\@DIR\@/cgi-bin/docroot.cgi"\n})->start;
my $d = $env->dir;
spew("$d/cgi-bin/docroot.cgi", qq{#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n%s' "\$DOCUMENT_ROOT"\n}, 0755);
my $root = HTTP::Tiny->new->get($env->url('/docroot'))->{content} // '';
like($root, qr{^/.}, "httpd's built-in DocumentRoot is $root");
$root =~ s{/+\z}{};

$env->user_add('carol');
$env->grant('carol', 'PROJECT_READ', 'PROJ');
$env->make_repo('PROJ', 'secret');
my ($tok) = $env->token_create('carol', name => 'ci', perms => ['REPO_READ']);

my $conf = "$d/httpd-test.conf";
# The BBT362 lines of a configuration test, each "<section> <section>":
# the one replaced and the one that replaces it.
sub check {
    my ($name, $text, $want) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($rc, $out) = $env->config_test($text);
    is($rc, 0, "$name: httpd starts") or diag $out;
    my @got;
    push @got, "$1 $2" while $out =~ /BBT362: \S+:\d+: (<\w+ [^>]*>) sets .*?, and (<\w+ [^>]*>) \(/g;
    is_deeply(\@got, $want, "$name: warnings") or diag $out;
    return $out;
}

# A <Directory> asking for REPO_ADMIN, and a <Location> over its URL.
my $secret = sub {
    my ($dir, $url) = @_;
    return <<"EOC";
<Directory "$dir/PROJ/secret">
    AuthType BBToken
    AuthName "Files"
    BBTokenRoute GET,HEAD "$url/(?<project>PROJ)/(?<repo>secret)(/.*)?" REPO_ADMIN
    Require bbtoken
</Directory>
EOC
};
my $loc = sub {
    my ($url) = @_;
    return <<"EOC";
<Location $url>
    AuthType BBToken
    AuthName "Files"
    BBTokenRoutes dav $url
    Require bbtoken
</Location>
EOC
};

my $out = check('no DocumentRoot line', $secret->("$root/bbtdoc", '/bbtdoc') . $loc->('/bbtdoc'),
                [qq{<Directory "$root/bbtdoc/PROJ/secret"> <Location /bbtdoc>}]);
like($out, qr{covers a URL it is served at, /bbtdoc/PROJ/secret \(httpd's built-in DocumentRoot, \Q$root\E, maps it there\)},
     '  names the URL and the DocumentRoot');

my $vport = free_port();
check('a virtual host without a DocumentRoot line, nor the main server', $secret->("$root/bbtdoc", '/bbtdoc') . <<"EOC",
Listen 127.0.0.1:$vport
<VirtualHost 127.0.0.1:$vport>
@{[ $loc->('/bbtdoc') ]}</VirtualHost>
EOC
      [qq{<Directory "$root/bbtdoc/PROJ/secret"> <Location /bbtdoc>}]);
make_path("$d/elsewhere");
check('but not one with a DocumentRoot of its own', $secret->("$root/bbtdoc", '/bbtdoc') . <<"EOC", []);
Listen 127.0.0.1:$vport
<VirtualHost 127.0.0.1:$vport>
    DocumentRoot "$d/elsewhere"
@{[ $loc->('/bbtdoc') ]}</VirtualHost>
EOC

# Relative to ServerRoot, the harness's directory.
make_path("$d/vhdocs/PROJ/secret");
check('a virtual host\'s relative DocumentRoot', $secret->('@DIR@/vhdocs', '') . $loc->('/PROJ') . <<"EOC",
Listen 127.0.0.1:$vport
<VirtualHost 127.0.0.1:$vport>
    DocumentRoot vhdocs
</VirtualHost>
EOC
      [qq{<Directory "$d/vhdocs/PROJ/secret"> <Location /PROJ>}]);
# A virtual host's pass compares the main server's sections with each
# other again only where its own mapping gives a directory a URL: here an
# <If> inside a <Directory> the main server does not serve, over a
# <Location>.  Its twin on another port, with the same DocumentRoot, gives
# the same URLs: said once.
my $vport2 = free_port();
check('an <If> in a <Directory> a virtual host\'s DocumentRoot serves', <<"EOC",
<Location /PROJ/secret>
    AuthType BBToken
    AuthName "Files"
    BBTokenRoute GET,HEAD "/(?<project>PROJ)/(?<repo>secret)(/.*)?" REPO_ADMIN
    Require bbtoken
</Location>
<Directory "\@DIR\@/vhdocs/PROJ">
    <If "true">
        BBTokenRoutes dav /
    </If>
</Directory>
Listen 127.0.0.1:$vport
Listen 127.0.0.1:$vport2
<VirtualHost 127.0.0.1:$vport>
    DocumentRoot "\@DIR\@/vhdocs"
</VirtualHost>
<VirtualHost 127.0.0.1:$vport2>
    DocumentRoot "\@DIR\@/vhdocs"
</VirtualHost>
EOC
      ['<Location /PROJ/secret> <If "true">']);
make_path("$d/reldav/PROJ/secret");
$out = check('a relative Alias', "Alias /rel reldav\n" . $secret->('@DIR@/reldav', '/rel') . $loc->('/rel'),
             [qq{<Directory "$d/reldav/PROJ/secret"> <Location /rel>}]);
like($out, qr{covers a URL it is served at, /rel/PROJ/secret \(Alias at \Q$conf\E:\d+ maps it there\)},
     '  names the URL and the Alias');

# What the warning is about: the <Location>'s routes replace the
# <Directory>'s, and a REPO_READ token reads what asked for REPO_ADMIN.
make_path("$d/htdocs/files/PROJ/secret");
spew("$d/htdocs/files/PROJ/secret/f.txt", "secret\n");
my $rel = "DocumentRoot htdocs\n" . $secret->('@DIR@/htdocs/files', '/files') . $loc->('/files');
check('a relative DocumentRoot', $rel, [qq{<Directory "$d/htdocs/files/PROJ/secret"> <Location /files>}]);
$env->httpd_restart(extra_conf => $rel);
is(HTTP::Tiny->new->get($env->url('/files/PROJ/secret/f.txt'), { headers => auth_bearer($tok) })->{status}, 200,
   '  a REPO_READ token reads the file the <Directory> asked REPO_ADMIN for');
$env->httpd_restart(extra_conf => "DocumentRoot htdocs\n" . $loc->('/files') . <<'EOC');
<Location /files/PROJ/secret>
    BBTokenRoute GET,HEAD "/files/(?<project>PROJ)/(?<repo>secret)(/.*)?" REPO_ADMIN
</Location>
EOC
is(HTTP::Tiny->new->get($env->url('/files/PROJ/secret/f.txt'), { headers => auth_bearer($tok) })->{status}, 403,
   '  but not with the routes in a <Location> after that one');

done_testing;
