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

# Virtual hosts made from one file read twice (Define, then Include) have
# the same file and line: each is served from its own DocumentRoot, and
# warned about as if written out.
make_path("$d/siteA/PROJ/secret", "$d/siteB/PROJ/secret");
my ($pa, $pb) = (free_port(), free_port());
my $twice = sub {
    my ($file, $body) = @_;
    spew("$d/$file", $body);
    return <<"EOC";
Listen 127.0.0.1:$pa
Listen 127.0.0.1:$pb
Define VPORT $pa
Define VROOT $d/siteA
Include "$d/$file"
Define VPORT $pb
Define VROOT $d/siteB
Include "$d/$file"
EOC
};
my $vh = "<VirtualHost 127.0.0.1:\${VPORT}>\n    DocumentRoot \"\${VROOT}\"\n" . $loc->('/PROJ') . "</VirtualHost>\n";
for my $site (qw(siteA siteB)) {
    $out = check("a virtual host's file included twice, the directory under $site",
                 $secret->("$d/$site", '') . $twice->('vh.conf', $vh),
                 [qq{<Directory "$d/$site/PROJ/secret"> <Location /PROJ>}]);
    like($out, qr{/PROJ/secret \(DocumentRoot at \Q$d/vh.conf\E:2 maps it there\)}, '  names its DocumentRoot');
}
# The first without a DocumentRoot line (the main server's, the built-in
# one), the second with one: the second's maps the directory.
(my $vh_if = $vh) =~ s{^(    DocumentRoot .*\n)}{<IfDefine VROOTB>\n$1</IfDefine>\n}m;
$vh_if =~ s/VROOT\}/VROOTB}/;
$out = check('a virtual host included twice, with a DocumentRoot the second time',
             $secret->("$d/siteB", '') . $twice->('vh-if.conf', $vh_if) =~ s/Define VROOT \Q$d\E\/siteB/Define VROOTB $d\/siteB/r,
             [qq{<Directory "$d/siteB/PROJ/secret"> <Location /PROJ>}]);
like($out, qr{/PROJ/secret \(DocumentRoot at \Q$d/vh-if.conf\E:3 maps it there\)}, '  names its DocumentRoot')
  or diag $out;

# mod_macro's Use: each use of a macro is a file of its own, but a Use in a
# file read twice is the same file and line.
SKIP: {
    skip 'no mod_macro', 6 unless -f "$BBT::Httpd::MODDIR/mod_macro.so";
    my $macro = <<"EOC";
<IfModule !macro_module>
    LoadModule macro_module "$BBT::Httpd::MODDIR/mod_macro.so"
</IfModule>
<Macro BBTVhost \$port \$root>
<VirtualHost 127.0.0.1:\$port>
    DocumentRoot "\$root"
@{[ $loc->('/PROJ') ]}</VirtualHost>
</Macro>
EOC
    $out = check('a macro used twice', $secret->("$d/siteA", '') . $macro . <<"EOC",
Listen 127.0.0.1:$pa
Listen 127.0.0.1:$pb
Use BBTVhost $pa $d/siteA
Use BBTVhost $pb $d/siteB
EOC
                 [qq{<Directory "$d/siteA/PROJ/secret"> <Location /PROJ>}]);
    like($out, qr{/PROJ/secret \(DocumentRoot at macro 'bbtvhost' [^\n]* used on line \d+ of "\Q$conf\E":2 maps it there\)},
         '  names its DocumentRoot');
    $out = check('a macro used in a file included twice',
                 $secret->("$d/siteA", '') . $macro . $twice->('vh-use.conf', "Use BBTVhost \${VPORT} \${VROOT}\n"),
                 [qq{<Directory "$d/siteA/PROJ/secret"> <Location /PROJ>}]);
    like($out, qr{/PROJ/secret \(DocumentRoot at macro 'bbtvhost' [^\n]* used on line 1 of "\Q$d/vh-use.conf\E":2 maps it there\)},
         '  names its DocumentRoot');
}

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
