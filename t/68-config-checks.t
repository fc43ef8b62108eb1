# Startup checks: httpd warns (and starts) when a section sets routes but
# is not AuthType BBToken (BBT352: the routes do nothing), and when a
# section is AuthType BBToken with no routes (BBT353: every token refused),
# or without AuthName (BBT359: every request 500).
# A section inherits from the one around it, from a <Location> or
# <Directory> of a leading part of its path, and from its server; what an
# <If> inside it sets, it has for the requests the <If> takes.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;

my $env = BBT::Env->new(httpd => 0)->start;

sub check {
    my ($name, $conf, $want) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($rc, $out) = $env->config_test($conf);
    is($rc, 0, "$name: httpd starts") or diag $out;
    my @got = $out =~ /\b(BBT35[239]: \S+ <\w+ [^>]*>)/g;
    is_deeply([map { s/ \S+:\d+: / /r } @got], $want, "$name: warnings") or diag $out;
    return $out;
}

check('the harness\'s own configuration', '', []);
my $out = check('routes, no AuthType', <<'EOC', ['BBT352: <Location /a>']);
<Location /a>
    BBTokenRoutes git /a
</Location>
EOC
like($out, qr/BBT352: \S+httpd-test\.conf:\d+: <Location \/a> sets routes, but is not AuthType BBToken/,
     'the warning names the file and line');
check('routes under another AuthType', <<'EOC', ['BBT352: <Location /e>']);
<Location /e>
    AuthType Basic
    AuthName "x"
    BBTokenRoutes git /e
</Location>
EOC
$out = check('AuthType BBToken, no routes', <<'EOC', ['BBT353: <Location /b>']);
<Location /b>
    AuthType BBToken
    AuthName "x"
    Require bbtoken
</Location>
EOC
like($out, qr/BBTokenRoutes none if that is meant/, 'and says how to mean it');
$out = check('AuthType BBToken, no AuthName', <<'EOC', ['BBT359: <Location /n>']);
<Location /n>
    AuthType BBToken
    BBTokenRoutes git /n
    Require bbtoken
</Location>
EOC
like($out, qr/BBT359: \S+:\d+: <Location \/n> is AuthType BBToken without AuthName: every request there is answered 500/,
     'and says what it costs');
check('AuthName from the section around, or from a leading part of the path', <<'EOC', []);
<Location /n2>
    AuthName "x"
</Location>
<Location /n2/sub>
    AuthType BBToken
    BBTokenRoutes git /n2/sub
    Require bbtoken
</Location>
<Directory /tmp/n3>
    AuthName "x"
    <Files y>
        AuthType BBToken
        BBTokenRoutes none
        Require bbtoken
    </Files>
</Directory>
EOC
check('BBTokenRoutes none says it is meant', <<'EOC', []);
<Location /c>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes none
    Require bbtoken
</Location>
EOC
check('a narrower <Location> inherits from a leading part of its path', <<'EOC', []);
<Location /d>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes git /d
    Require bbtoken
</Location>
<Location /d/sub>
    BBTokenRoute GET "/d/(?<project>X)/(?<repo>y)" REPO_READ
</Location>
<Location /scm/PROJ>
    AuthType BBToken
</Location>
EOC
check('a section inside another inherits from it', <<'EOC', []);
<Directory /nonexistent/x>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes dav /x
    Require bbtoken
    <Files "*.txt">
        BBTokenRoutes none
    </Files>
</Directory>
EOC
check('but not from a path that only shares its first letters', <<'EOC', ['BBT352: <Location /dd/x>']);
<Location /d>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes git /d
    Require bbtoken
</Location>
<Location /dd/x>
    BBTokenRoutes git /dd/x
</Location>
EOC
check('in a virtual host, and inside <IfModule>', <<'EOC', ['BBT352: <Location /f>', 'BBT353: <Location /g>']);
<VirtualHost 127.0.0.1:1>
    <Location /f>
        BBTokenRoutes git /f
    </Location>
    <Location /scm/x>
        BBTokenRoutes git /scm/x
    </Location>
    <IfModule alias_module>
        <Location /g>
            AuthType BBToken
            AuthName "x"
        </Location>
    </IfModule>
</VirtualHost>
EOC
# A <Location> and a <Directory> are paths of two kinds: a URL path that
# leads a file path (or the other way) gives its section nothing.
check('nor from a section of the other kind whose path leads its own', <<'EOC',
<Location /srv>
    BBTokenRoutes git /srv
</Location>
<Directory /srv/k>
    AuthType BBToken
    AuthName "x"
    Require bbtoken
</Directory>
<Directory /var/o>
    BBTokenRoutes dav /var/o
</Directory>
<Location /var/o/p>
    AuthType BBToken
    AuthName "x"
    Require bbtoken
</Location>
EOC
      ['BBT352: <Location /srv>', 'BBT353: <Directory /srv/k>', 'BBT352: <Directory /var/o>', 'BBT353: <Location /var/o/p>']);
# What an <If> inside sets, the section has for the requests it takes:
# routes or AuthName there only is no section without them.  A <Files>
# inside, which takes some files, and an <If> in another section, still
# leave it without.
check('routes or AuthName in an <If>, <ElseIf> or <Else> inside', <<'EOC', []);
<Location /i>
    AuthType BBToken
    AuthName "x"
    Require bbtoken
    <If "%{REQUEST_METHOD} == 'GET'">
        BBTokenRoutes git /i
    </If>
</Location>
<Location /j>
    AuthType BBToken
    BBTokenRoutes git /j
    Require bbtoken
    <If "%{HTTP_HOST} == 'a.example'">
        AuthName "a"
    </If>
    <Else>
        <If "%{HTTPS} == 'on'">
            AuthName "b"
        </If>
    </Else>
</Location>
EOC
check('but not in a <Files> inside, nor in another section\'s <If>', <<'EOC',
<Directory /srv/k>
    AuthType BBToken
    AuthName "x"
    Require bbtoken
    <Files "*.git">
        BBTokenRoutes git /k
    </Files>
</Directory>
<Location /l>
    AuthType BBToken
    AuthName "x"
    Require bbtoken
</Location>
<Location /m>
    <If "true">
        AuthName "m"
        BBTokenRoutes git /m
    </If>
</Location>
EOC
      ['BBT353: <Directory /srv/k>', 'BBT353: <Location /l>', 'BBT352: <If "true">']);

done_testing;
