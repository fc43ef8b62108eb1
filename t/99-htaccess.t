# The directives that say who gets in (BBTokenRoutes, BBTokenRoute,
# AuthBBTokenProvider) and BBTokenSandbox are never taken from a .htaccess
# file: a repository's owner who can write one into a WebDAV tree must not
# widen its routes, let in passwords of a file they wrote, or let their
# pages run as the site.  AllowOverride has no class for them, and
# httpd's AllowOverrideList, which lets any directive it names into
# .htaccess whatever the directive itself allows, does not let them in
# either: the request is answered 500 with the file and the reason.
# httpd's own AuthType and Require, which AllowOverride AuthConfig lets in,
# cannot open a <Location> of AuthType BBToken: it is merged after them.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env;
use BBT::Assert;

my $extra = <<'EOC';
TypesConfig /dev/null
AddType text/html .html
DavLockDB "@DIR@/davlock/lockdb"
Alias /dav "@DIR@/dav"
<Directory "@DIR@/dav">
    Dav On
    AuthType BBToken
    AuthName "Files"
    BBTokenRoutes dav
    Require bbtoken
    AllowOverride None
    AllowOverrideList BBTokenRoutes BBTokenRoute AuthBBTokenProvider BBTokenSandbox AuthUserFile
</Directory>
Alias /loc "@DIR@/loc"
<Directory "@DIR@/loc">
    AllowOverride AuthConfig
    Require all granted
</Directory>
<Location /loc>
    Dav On
    AuthType BBToken
    AuthName "Files"
    BBTokenRoutes dav /loc
    Require bbtoken
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(dav dav_fs mime authn_file)], httpd => 0)->start;
my $d = $env->dir;
my %htaccess = (
    routes   => "BBTokenRoute GET,PUT \"/dav/(?<project>PROJ)/(?<repo>routes)/.*\" REPO_READ\n",
    none     => "BBTokenRoutes none\n",
    sandbox  => "BBTokenSandbox Off\n",
    provider => "AuthBBTokenProvider file\nAuthUserFile \"$d/dav/PROJ/provider/pw\"\n",
);
make_path("$d/davlock", "$d/dav/PROJ/plain");
BBT::Env::spew("$d/dav/PROJ/plain/x.html", "<script>1</script>\n");
for my $r (sort keys %htaccess) {
    make_path("$d/dav/PROJ/$r");
    BBT::Env::spew("$d/dav/PROJ/$r/x.html", "<script>1</script>\n");
    BBT::Env::spew("$d/dav/PROJ/$r/.htaccess", $htaccess{$r});
}
# httpd's own AuthType and Require, which AllowOverride AuthConfig lets a
# .htaccess set, are merged before a <Location>: there the file cannot
# open the tree (README, Security model).
make_path("$d/loc/PROJ/open");
BBT::Env::spew("$d/loc/PROJ/open/x.html", "<script>1</script>\n");
BBT::Env::spew("$d/loc/PROJ/open/.htaccess", "AuthType None\nRequire all granted\n");
# A control: .htaccess files are read there.
make_path("$d/loc/PROJ/read");
BBT::Env::spew("$d/loc/PROJ/read/.htaccess", "AuthName \"a\" \"b\" \"c\"\n");
$env->give_to_httpd("$d/dav", "$d/davlock", "$d/loc");
# The owner's own password file, in the tree: a user of their choosing.
$env->htpasswd(admin => 'chosen-Pa55');
rename "$d/htpasswd", "$d/dav/PROJ/provider/pw" or die $!;
chmod 0644, "$d/dav/PROJ/provider/pw";
$env->httpd_start;
$env->user_add('alice');
$env->user_add('admin');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
$env->grant('admin', 'PROJECT_ADMIN', 'PROJ');
my $ro = $env->token_create('alice', name => 'ro', perms => ['REPO_READ']);
my %auth = (Authorization => "Bearer $ro");

my $res = $env->get('/dav/PROJ/plain/x.html', \%auth);
is_status($res, 200, 'the <Directory>\'s own routes let a REPO_READ token read');
is($res->{headers}{'content-security-policy'}, 'sandbox', '  sandboxed');
my ($st) = $env->curl('/dav/PROJ/plain/y.html', method => 'PUT', auth => "Bearer $ro", data => "y\n");
is($st, 403, '  and not write');

subtest 'a route from .htaccess does not widen the section\'s' => sub {
    my ($st) = $env->curl('/dav/PROJ/routes/y.html', method => 'PUT', auth => "Bearer $ro", data => "y\n");
    is($st, 500, 'PUT by a REPO_READ token under "BBTokenRoute GET,PUT ... REPO_READ": 500');
    ok(!-e "$d/dav/PROJ/routes/y.html", '  nothing written');
};

subtest 'nor does BBTokenRoutes none narrow it in its stead' => sub {
    is_status($env->get('/dav/PROJ/none/x.html', \%auth), 500, 'refused, 500');
};

subtest 'BBTokenSandbox Off from .htaccess' => sub {
    my $res = $env->get('/dav/PROJ/sandbox/x.html', \%auth);
    is_status($res, 500, 'the page is not served');
    ok(!($res->{status} == 200 && !$res->{headers}{'content-security-policy'}), '  never unsandboxed');
};

subtest 'AuthBBTokenProvider from .htaccess' => sub {
    my $res = $env->get('/dav/PROJ/provider/x.html', { Authorization => $env->basic('admin', 'chosen-Pa55') });
    is_status($res, 500, 'a password from the owner\'s own file lets nobody in');
};

subtest 'AuthConfig in .htaccess under a <Location> of AuthType BBToken' => sub {
    is_status($env->get('/loc/PROJ/read/', \%auth), 500, '.htaccess files are read there (one that is wrong: 500)');
    is_status($env->get('/loc/PROJ/open/x.html', {}), 401, '"Require all granted" there lets no one in without a login');
    is_status($env->get('/loc/PROJ/open/x.html', \%auth), 200, 'a REPO_READ token reads');
    my ($st) = $env->curl('/loc/PROJ/open/y.html', method => 'PUT', auth => "Bearer $ro", data => "y\n");
    is($st, 403, '  and does not write');
    ok(!-e "$d/loc/PROJ/open/y.html", '  nothing written');
};

my $log = $env->error_log_text;
for my $dir (qw(Route Routes Sandbox)) {
    like($log, qr/\.htaccess: BBToken$dir cannot occur within htaccess files/, "BBToken$dir: the log says why");
}
like($log, qr/\.htaccess: AuthBBTokenProvider cannot occur within htaccess files/,
     'AuthBBTokenProvider: the log says why');

done_testing;
