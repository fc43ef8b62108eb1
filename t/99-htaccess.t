# The directives that say who gets in (BBTokenRoutes, BBTokenRoute,
# AuthBBTokenProvider) and BBTokenSandbox are never taken from a .htaccess
# file: a repository's owner who can write one into a WebDAV tree must not
# widen its routes, let in passwords of a file they wrote, or let their
# pages run as the site.  AllowOverride has no class for them, and
# httpd's AllowOverrideList, which lets any directive it names into
# .htaccess whatever the directive itself allows, does not let them in
# either: the request is answered 500 with the file and the reason.
# httpd's own AuthType and Require, which AllowOverride AuthConfig lets in,
# can open even a <Location> of AuthType BBToken from an <If> section,
# which is merged after every <Location>: a request in a section with
# routes to which any .htaccess file applies is refused (500, BBT045),
# whatever it says: one a writer PUTs there closes its directory, never
# opens it.
# In a <Directory> of AuthType BBToken with routes of its own a plain
# AuthType None is enough to take the section from the module (no
# <Location> gives it back): the section's own routes keep it the module's.
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
    AllowOverride AuthConfig FileInfo
    Require all granted
</Directory>
# A tree outside the sections, with a .htaccess of its own: its index
# page is one of /loc's, which mod_dir's sub-request reaches with the list
# of .htaccess files the request before it read.
Alias /other "@DIR@/other"
<Directory "@DIR@/other">
    AllowOverride Indexes
    Require all granted
</Directory>
<Location /loc>
    Dav On
    AuthType BBToken
    AuthName "Files"
    BBTokenRoutes dav /loc
    Require bbtoken
</Location>
Alias /dir "@DIR@/dir"
<Directory "@DIR@/dir">
    Dav On
    AuthType BBToken
    AuthName "Files"
    BBTokenRoutes dav /dir
    Require bbtoken
    AllowOverride AuthConfig
</Directory>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(dav dav_fs mime authn_file dir)], httpd => 0)->start;
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
# .htaccess set: plainly, merged before a <Location>, and in an <If>
# section, merged after it (README, Security model).
my %open = (open   => "AuthType None\nRequire all granted\n",
            if     => "<If \"true\">\nAuthType None\nRequire all granted\n</If>\n",
            errdoc => "ErrorDocument 500 \"<script>alert(document.domain)</script>\"\n"
                      . "ErrorDocument 405 \"<script>alert(document.domain)</script>\"\n",
            # The access-tokens API's handler: its refusals are answered in
            # its JSON envelope, which the file is not to choose either.
            rest   => "SetHandler bbtoken-rest\n");
for my $r (sort keys %open) {
    make_path("$d/loc/PROJ/$r/sub");
    BBT::Env::spew("$d/loc/PROJ/$r/x.html", "<script>1</script>\n");
    BBT::Env::spew("$d/loc/PROJ/$r/sub/y.html", "<script>1</script>\n");
    BBT::Env::spew("$d/loc/PROJ/$r/.htaccess", $open{$r});
}
# Repositories beside them, with no file of their own.
for my $r (qw(clean plainrepo)) {
    make_path("$d/loc/PROJ/$r");
    BBT::Env::spew("$d/loc/PROJ/$r/x.html", "<script>1</script>\n");
}
for my $r (qw(open if clean)) {
    make_path("$d/dir/PROJ/$r/sub");
    BBT::Env::spew("$d/dir/PROJ/$r/$_", "<script>1</script>\n") for qw(x.html sub/y.html);
    BBT::Env::spew("$d/dir/PROJ/$r/.htaccess", $open{$r}) if $open{$r};
}
make_path("$d/other");
BBT::Env::spew("$d/other/.htaccess", "DirectoryIndex /loc/PROJ/clean/x.html\n");
# A control: .htaccess files are read there.
make_path("$d/loc/PROJ/read");
BBT::Env::spew("$d/loc/PROJ/read/.htaccess", "AuthName \"a\" \"b\" \"c\"\n");
$env->give_to_httpd("$d/dav", "$d/davlock", "$d/loc", "$d/other", "$d/dir");
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
    for my $r (sort keys %open) {
        for my $p ("/loc/PROJ/$r/x.html", "/loc/PROJ/$r/sub/y.html") {
            is_status($env->get($p, {}), 500, "$r: $p without a login: 500, not served");
            is_status($env->get($p, \%auth), 500, "  with a REPO_READ token: 500");
        }
        my ($st) = $env->curl("/loc/PROJ/$r/y.html", method => 'PUT', data => "y\n");
        is($st, 500, "$r: a PUT without a login: 500");
        ok(!-e "$d/loc/PROJ/$r/y.html", '  nothing written');
        # The refusal's page is the server's, sandboxed: not the file's.
        my $res = $env->get("/loc/PROJ/$r/x.html", {});
        unlike($res->{content} // '', qr/<script>alert/, "$r: the refusal's page is not the file's");
        is($res->{headers}{'content-security-policy'}, 'sandbox', '  and is sandboxed');
        # Nor does a TRACE get past it: an <If> takes the AuthType away,
        # not the routes.
        $res = $env->request('TRACE', "/loc/PROJ/$r/x.html", { %auth, 'X-Bbt-Probe' => 'echoed' });
        is($res->{status}, 405, "$r: TRACE with the token: 405");
        unlike($res->{content} // '', qr/echoed|Bearer|<script>alert/, '  nothing echoed, not the file\'s page');
        like($res->{headers}{'content-type'} // '', qr{^text/html}, '  httpd\'s own page (text/html)');
        unlike($res->{content} // '', qr/Exception/, '  not the API\'s envelope');
    }
    my $res = $env->request('TRACE', '/loc/PROJ/read/x.html', { %auth, 'X-Bbt-Probe' => 'echoed' });
    is($res->{status}, 500, 'TRACE under a broken .htaccess: 500, as any method');
    unlike($res->{content} // '', qr/echoed|Bearer/, '  nothing echoed');
    is_status($env->get('/loc/PROJ/clean/x.html', {}), 401, 'a repository with no such file beside them: 401');
    is_status($env->get('/loc/PROJ/clean/x.html', \%auth), 200, '  and the token reads');
    like($env->error_log_text, qr{BBT045: /loc/PROJ/if/x\.html is served by routes, and a \.htaccess file in \S+/loc/PROJ/if/? applies to it: refused \(500\)},
         'the log says which file (BBT045)');
};

subtest 'AuthConfig in .htaccess under a <Directory> of AuthType BBToken with its own routes' => sub {
    is_status($env->get('/dir/PROJ/clean/x.html', {}), 401, 'a repository with no such file: 401 without a login');
    is_status($env->get('/dir/PROJ/clean/x.html', \%auth), 200, '  and the token reads');
    for my $r (qw(open if)) {
        for my $p ("/dir/PROJ/$r/x.html", "/dir/PROJ/$r/sub/y.html") {
            (my $f = $p) =~ s{^/dir}{$d/dir};
            ok(-f $f, "$r: $p is there");
            my $res = $env->get($p, {});
            is_status($res, 500, "  without a login: 500, not served");
            unlike($res->{content} // '', qr/<script>1/, '  nor its content');
            is($res->{headers}{'content-security-policy'}, 'sandbox', '  the refusal sandboxed');
            is_status($env->get($p, \%auth), 500, "  with a REPO_READ token: 500");
        }
        my ($st) = $env->curl("/dir/PROJ/$r/y.html", method => 'PUT', data => "y\n");
        is($st, 500, "$r: a PUT without a login: 500");
        ok(!-e "$d/dir/PROJ/$r/y.html", '  nothing written');
    }
    like($env->error_log_text, qr{BBT045: /dir/PROJ/open/x\.html is served by routes, and a \.htaccess file in \S+/dir/PROJ/open/? applies to it: refused \(500\)},
         'the log says which file (BBT045)');
};

subtest 'a .htaccess outside the sections: not held against them' => sub {
    my $res = $env->get('/other/', \%auth);
    is_status($res, 200, 'an index page in a section with routes, after a .htaccess elsewhere: 200');
    like($res->{content}, qr/<script>1/, '  the page, served');
    unlike($env->error_log_text, qr{BBT045: \S+ is served by routes, and a \.htaccess file in \S+/other}, '  no BBT045 for it');
};

subtest 'a .htaccess a writer PUTs closes its directory, never opens it' => sub {
    my $rw = $env->token_create('alice', name => 'rw', perms => ['REPO_WRITE']);
    my ($st) = $env->curl('/loc/PROJ/clean/.htaccess', method => 'PUT', auth => "Bearer $rw",
                          data => "<If \"true\">\nAuthType None\nRequire all granted\n</If>\n");
    is($st, 201, 'PUT .htaccess by a REPO_WRITE token: written (the routes let a writer write)');
    is_status($env->get('/loc/PROJ/clean/x.html', {}), 500, 'its directory without a login: 500, not served');
    ($st) = $env->curl('/loc/PROJ/clean/z.html', method => 'PUT', data => "z\n");
    is($st, 500, '  a PUT without a login: 500');
    ok(!-e "$d/loc/PROJ/clean/z.html", '  nothing written');
    is_status($env->get('/loc/PROJ/plainrepo/x.html', \%auth), 200, 'a repository beside it: served to the token');
};

my $log = $env->error_log_text;
for my $dir (qw(Route Routes Sandbox)) {
    like($log, qr/\.htaccess: BBToken$dir cannot occur within htaccess files/, "BBToken$dir: the log says why");
}
like($log, qr/\.htaccess: AuthBBTokenProvider cannot occur within htaccess files/,
     'AuthBBTokenProvider: the log says why');

done_testing;
