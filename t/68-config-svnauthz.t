# mod_authz_svn's authorization runs before mod_authz_core's and grants on
# its access file alone: in a section of AuthType BBToken that also has
# AuthzSVNAccessFile (or AuthzSVNReposRelativeAccessFile), Require bbtoken
# never runs for a password user.  httpd warns at startup (BBT355), naming
# the section, where it takes passwords (AuthBBTokenProvider) and sets one
# of the three and inherits or sets the others; not for a section without
# one of them (tokens alone: the access file judges them after their
# routes, path-based authorization).
# AuthzSVNNoAuthWhenAnonymousAllowed On with an access file ends the login
# of a request the access file allows anonymously with no user, which
# httpd answers 500 whatever credentials it carries (t/59-svn-anon): httpd
# warns (BBT361) where that pair, set in one section (mod_authz_svn keeps
# nothing of an outer section's settings in one that sets its own), meets
# AuthType BBToken.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;

my $moddir = $BBT::Env::MODDIR;
plan skip_all => 'mod_authz_svn missing (apt-get install libapache2-mod-svn)'
    unless -f "$moddir/mod_authz_svn.so" && -f "$moddir/mod_dav_svn.so";

my $env = BBT::Env->new(modules => [qw(dav dav_svn authz_svn authn_file)], httpd => 0)->start;
my $d = $env->dir;

sub check {
    my ($name, $conf, $want) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($rc, $out) = $env->config_test($conf);
    is($rc, 0, "$name: httpd starts") or diag $out;
    my @got = $out =~ /\b(BBT(?:355|361): \S+ <\w+ [^>]*>)/g;
    is_deeply([map { s/ \S+:\d+: / /r } @got], $want, "$name: warnings") or diag $out;
    return $out;
}

check('the harness\'s own configuration', '', []);
my $out = check('AuthzSVNAccessFile in the section', <<"EOC", ['BBT355: <Location /svn>']);
<Location /svn>
    AuthType BBToken
    AuthName "Subversion"
    BBTokenRoutes dav /svn
    AuthBBTokenProvider file
    AuthzSVNAccessFile "$d/svn-authz"
    Require bbtoken
</Location>
EOC
like($out, qr/BBT355: \S+httpd-test\.conf:\d+: <Location \/svn> is AuthType BBToken with mod_authz_svn's access file .*a password user is authorized by the access file alone.*remove the access file there, or accept no passwords there/,
     'it says what happens and what to do, with file and line');
check('AuthzSVNReposRelativeAccessFile below a section of AuthType BBToken', <<'EOC', ['BBT355: <Location /svn/PROJ>']);
<Location /svn>
    AuthType BBToken
    AuthName "Subversion"
    BBTokenRoutes dav /svn
    AuthBBTokenProvider file
    Require bbtoken
</Location>
<Location /svn/PROJ>
    DAV svn
    SVNParentPath "@DIR@/svn/PROJ"
    AuthzSVNReposRelativeAccessFile authz
</Location>
EOC
check('AuthType BBToken below an access file, and inside <Limit>', <<"EOC", ['BBT355: <Location /b/sub>']);
<Location /b>
    <LimitExcept OPTIONS>
        AuthzSVNAccessFile "$d/svn-authz"
    </LimitExcept>
</Location>
<Location /b/sub>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes dav /b
    AuthBBTokenProvider file
    Require bbtoken
</Location>
EOC
check('either alone, or the access file with another AuthType', <<"EOC", []);
<Location /c>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes dav /c
    Require bbtoken
</Location>
<Location /d>
    AuthzSVNAccessFile "$d/svn-authz"
    Require all granted
</Location>
<Location /e>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes dav /e
    Require bbtoken
</Location>
<Location /e/basic>
    AuthType Basic
    AuthName "x"
    AuthzSVNAccessFile "$d/svn-authz"
    Require all granted
</Location>
EOC
check('the access file where no passwords are taken (tokens alone)', <<"EOC", []);
<Location /svn>
    AuthType BBToken
    AuthName "Subversion"
    BBTokenRoutes dav /svn
    AuthzSVNAccessFile "$d/svn-authz"
    Require bbtoken
</Location>
EOC
check('password providers set around the section', <<"EOC", ['BBT355: <Location /p/svn>']);
<Location /p>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes dav /p
    AuthBBTokenProvider file
    Require bbtoken
</Location>
<Location /p/svn>
    AuthzSVNAccessFile "$d/svn-authz"
</Location>
EOC
check('AuthBBTokenProvider none takes the providers around it away', <<"EOC", []);
<Location /q>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes dav /q
    AuthBBTokenProvider file
    Require bbtoken
</Location>
<Location /q/svn>
    AuthBBTokenProvider none
    AuthzSVNAccessFile "$d/svn-authz"
</Location>
EOC

$out = check('AuthzSVNNoAuthWhenAnonymousAllowed On below a section of AuthType BBToken', <<"EOC",
<Location /svn>
    AuthType BBToken
    AuthName "Subversion"
    BBTokenRoutes dav /svn
    Require bbtoken
</Location>
<Location /svn/PROJ>
    DAV svn
    SVNParentPath "\@DIR\@/svn/PROJ"
    AuthzSVNAccessFile "$d/svn-authz"
    AuthzSVNNoAuthWhenAnonymousAllowed On
</Location>
EOC
             ['BBT361: <Location /svn/PROJ>']);
like($out, qr/BBT361: \S+httpd-test\.conf:\d+: <Location \/svn\/PROJ> is AuthType BBToken with mod_authz_svn's AuthzSVNNoAuthWhenAnonymousAllowed On: .*allows anonymously .*500 \(AH00027\), with a token or without; remove AuthzSVNNoAuthWhenAnonymousAllowed there .*serve anonymous readers from a location that is not AuthType BBToken/,
     'it says what happens and what to do, with file and line');
check('AuthType BBToken below the pair, and the pair inside <Limit>', <<"EOC", ['BBT361: <Location /n/sub>']);
<Location /n>
    <LimitExcept OPTIONS>
        AuthzSVNReposRelativeAccessFile authz
        AuthzSVNNoAuthWhenAnonymousAllowed on
    </LimitExcept>
</Location>
<Location /n/sub>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes dav /n
    Require bbtoken
</Location>
EOC
check('the pair not in effect where AuthType BBToken is', <<"EOC", []);
<Location /o>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes dav /o
    AuthzSVNAccessFile "$d/svn-authz"
    Require bbtoken
</Location>
<Location /o/inner>
    AuthzSVNNoAuthWhenAnonymousAllowed On
</Location>
<Location /o/off>
    AuthzSVNAccessFile "$d/svn-authz"
    AuthzSVNNoAuthWhenAnonymousAllowed Off
</Location>
<Location /r>
    AuthzSVNAccessFile "$d/svn-authz"
    AuthzSVNNoAuthWhenAnonymousAllowed On
</Location>
<Location /r/sub>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes dav /r
    AuthzSVNAccessFile "$d/svn-authz"
    Require bbtoken
</Location>
<Location /s>
    AuthType Basic
    AuthName "x"
    AuthzSVNAccessFile "$d/svn-authz"
    AuthzSVNNoAuthWhenAnonymousAllowed On
    Require all granted
</Location>
EOC

done_testing;
