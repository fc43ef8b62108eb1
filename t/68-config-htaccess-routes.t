# Routes given at server or virtual-host level make no section the
# module's (t/68-config-server-routes): a .htaccess file in a section of
# AuthType BBToken whose routes come from the server is refused (BBT045)
# only where the server's configuration and its <Location>s say AuthType
# BBToken.  Said in a <Directory> or <Files> that lets AuthConfig in, a
# file there (one a token's holder writes over WebDAV) can say AuthType
# None and Require all granted, and is not refused: the section is open to
# everyone.  httpd warns about it at startup (BBT364, naming the
# AllowOverride's <Directory>, the section of AuthType BBToken and where
# the routes are given), and not where the section has routes of its own,
# AllowOverride lets no AuthConfig in (httpd's default, and Debian's
# apache2.conf), the routes are set only in sections, AuthType BBToken is a
# <Location>'s, or the <Directory> is another tree's.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Util;

my $env = BBT::Env->new(httpd => 0)->start;

sub check {
    my ($name, $conf, $want) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($rc, $out) = $env->config_test($conf);
    is($rc, 0, "$name: httpd starts") or diag $out;
    my @got = $out =~ /\b(BBT364: \S+ <\w+ [^>]*>(?: in <VirtualHost [^>]*>)?)/g;
    is_deeply([map { s/ \S+:\d+: / /r } @got], $want, "$name: warnings") or diag $out;
    return $out;
}

my $git = <<'EOC';
<Directory /srv/git>
    AuthType BBToken
    AuthName "Git"
    Require bbtoken
    AllowOverride AuthConfig
</Directory>
EOC

my $out = check('server-level routes, AuthType BBToken in a <Directory> that lets AuthConfig in',
                "BBTokenRoutes git /git\n$git", ['BBT364: <Directory /srv/git>']);
like($out, qr{BBT364: \S+httpd-test\.conf:\d+: <Directory /srv/git> lets AuthConfig into \.htaccess files \(AllowOverride AuthConfig at \S+httpd-test\.conf:\d+\), and the section is AuthType BBToken with no routes of its own \(BBTokenRoutes git /git at \S+httpd-test\.conf:\d+ gives them at server level\)},
     'the warning names the lines');
like($out, qr{give that section routes of its own, or say AllowOverride None here}, '  and says what to do');
check('BBTokenRoutes none at server level', "BBTokenRoutes none\n$git", ['BBT364: <Directory /srv/git>']);
check('routes of its own', "BBTokenRoutes git /git\n" . ($git =~ s{AllowOverride}{BBTokenRoutes dav /git\n    AllowOverride}r), []);
check('routes of a <Directory> of a leading part of its path',
      "BBTokenRoutes git /git\n$git<Directory /srv>\n    BBTokenRoutes dav /\n</Directory>\n", []);
check('AllowOverride None', "BBTokenRoutes git /git\n" . ($git =~ s{AuthConfig}{None}r), []);
check('AllowOverride FileInfo Indexes', "BBTokenRoutes git /git\n" . ($git =~ s{AuthConfig}{FileInfo Indexes}r), []);
check('AllowOverride All', "BBTokenRoutes git /git\n" . ($git =~ s{AuthConfig}{All}r), ['BBT364: <Directory /srv/git>']);
check('AllowOverrideList naming AuthType',
      "BBTokenRoutes git /git\n" . ($git =~ s{AllowOverride AuthConfig}{AllowOverride None\n    AllowOverrideList Header AuthType}r),
      ['BBT364: <Directory /srv/git>']);
check('no AllowOverride: httpd 2.4 reads no .htaccess', "BBTokenRoutes git /git\n" . ($git =~ s{\s*AllowOverride AuthConfig}{}r), []);
check('routes only in sections', <<'EOC', []);
<Directory /srv/git>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /git
    Require bbtoken
    AllowOverride AuthConfig
</Directory>
<Directory /srv/site>
    AllowOverride All
</Directory>
EOC

# AllowOverride in a broader <Directory>, AuthType BBToken in a narrower
# one, or a <Files> whose directories the check does not know.
$out = check('AllowOverride above the section', <<'EOC', ['BBT364: <Directory /srv>']);
BBTokenRoutes git /git
<Directory /srv>
    AllowOverride All
</Directory>
<Directory /srv/git>
    AuthType BBToken
    AuthName "Git"
    Require bbtoken
</Directory>
EOC
like($out, qr{<Directory /srv> lets AuthConfig into \.htaccess files \(AllowOverride All at \S+:\d+\), and <Directory /srv/git> at \S+:\d+ is AuthType BBToken},
     '  naming the section of AuthType BBToken');
check('<Files> at the top, another tree\'s AllowOverride', <<'EOC', ['BBT364: <Directory /var/www/blog>']);
BBTokenRoutes git /git
<Files "*.git">
    AuthType BBToken
    AuthName "Git"
    Require bbtoken
</Files>
<Directory /var/www/blog>
    AllowOverride All
</Directory>
EOC

# Sections that the file cannot take away, or that are not the module's.
check('AuthType BBToken in a <Location>', <<'EOC', []);
BBTokenRoutes git /git
Alias /git /srv/git
<Directory /srv/git>
    AllowOverride AuthConfig
</Directory>
<Location /git>
    AuthType BBToken
    AuthName "Git"
    Require bbtoken
</Location>
EOC
check('another tree\'s AllowOverride', "BBTokenRoutes git /git\n"
      . ($git =~ s{AuthConfig}{None}r) . "<Directory /var/www/blog>\n    AllowOverride All\n</Directory>\n", []);

# Debian's apache2.conf, with the module's section as its README shows it.
check('Debian\'s apache2.conf', <<'EOC', []);
BBTokenRoutes git /git
AccessFileName .htaccess
<Directory />
    Options FollowSymLinks
    AllowOverride None
    Require all denied
</Directory>
<Directory /usr/share>
    AllowOverride None
    Require all granted
</Directory>
<Directory /var/www/>
    Options Indexes FollowSymLinks
    AllowOverride None
    Require all granted
</Directory>
<FilesMatch "^\.ht">
    Require all denied
</FilesMatch>
<Directory /srv/git>
    AuthType BBToken
    AuthName "Git"
    Require bbtoken
</Directory>
EOC

# A virtual host's routes: its own sections, and the main server's that
# apply there, named with the virtual host.
my $vp = BBT::Util::free_port();
check('a virtual host\'s routes', <<"EOC", ["BBT364: <Directory /srv/git> in <VirtualHost 127.0.0.1:$vp>", 'BBT364: <Directory /srv/dav>']);
$git<VirtualHost 127.0.0.1:$vp>
    BBTokenRoutes git /git
    <Directory /srv/dav>
        AuthType BBToken
        AuthName "DAV"
        Require bbtoken
        AllowOverride All
    </Directory>
</VirtualHost>
EOC
check('the main server\'s routes in a virtual host', <<"EOC", ['BBT364: <Directory /srv/git>', 'BBT364: <Directory /srv/dav>']);
BBTokenRoutes git /git
$git<VirtualHost 127.0.0.1:$vp>
    <Directory /srv/dav>
        AuthType BBToken
        AuthName "DAV"
        Require bbtoken
        AllowOverride All
    </Directory>
</VirtualHost>
EOC

done_testing;
