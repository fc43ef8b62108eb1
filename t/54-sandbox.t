# What the routes serve is the users' content, and must not run as the
# site's origin: responses of a section with AuthType BBToken and routes
# carry Content-Security-Policy: sandbox and X-Content-Type-Options:
# nosniff (git over smart and dumb HTTP, files over WebDAV); BBTokenSandbox
# Off turns that off; a section without routes (the tokens page's) is left
# alone, so its scripts run.  A refusal served in such a section (401,
# 403) carries them too.  A nested section that sets BBTokenSandbox wins
# over the one merged before it, and one that does not keeps what that
# one said.  A tree that is not AuthType BBToken is left alone, whatever
# routes reach it.  t/55-browser.t shows the attack this stops.
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
DavLockDB "@DIR@/davlock/lockdb"
Alias /dav "@DIR@/dav"
Alias /dav-open "@DIR@/dav"
Alias /page "@DIR@/page"
<Directory "@DIR@/dav">
    AddType text/html .html
</Directory>
<Location /dav>
    Dav On
    AuthType BBToken
    AuthName "Files"
    BBTokenRoutes dav
    Require bbtoken
</Location>
<Location /dav-open>
    Dav On
    AuthType BBToken
    AuthName "Files"
    BBTokenRoutes dav /dav-open
    BBTokenSandbox Off
    Require bbtoken
</Location>
# Nested in /dav-open: On inside Off, Off inside that On, and a section
# that sets something else.
<Location /dav-open/PROJ/strict>
    BBTokenSandbox On
</Location>
<Location /dav-open/PROJ/other>
    BBTokenDAVLockMaxTimeout 60
</Location>
<Location /dav-open/PROJ/strict/open>
    BBTokenSandbox Off
</Location>
# Not the module's: a tree under the server's routes (its sections'
# defaults), and a <Location> with routes of its own but another AuthType.
BBTokenRoutes dav /pub
Alias /pub "@DIR@/pub"
Alias /own "@DIR@/pub"
<Directory "@DIR@/pub">
    Require all granted
</Directory>
<Location /own>
    BBTokenRoutes dav /own
</Location>
<Location /page>
    AuthType BBToken
    AuthName "Files"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    BBTokenRoutes none
    Require valid-user
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(dav dav_fs mime authn_file authz_user)],
                        httpd => 0)->start;
my $d = $env->dir;
make_path("$d/dav/PROJ/site", "$d/davlock", "$d/page", "$d/pub/PROJ/site");
make_path(map { "$d/dav/PROJ/$_" } qw(strict/open other));
BBT::Env::spew("$d/dav/PROJ/$_/x.html", "<script>1</script>\n") for qw(strict strict/open other);
BBT::Env::spew("$d/pub/PROJ/site/x.html", "<script>1</script>\n");
BBT::Env::spew("$d/page/index.html", "<!doctype html><title>page</title>\n");
$env->give_to_httpd("$d/dav", "$d/davlock", "$d/pub");
$env->htpasswd(alice => 'alice-Pa55-word');
$env->httpd_start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $tok = $env->token_create('alice', name => 'ci');
my $ro = $env->token_create('alice', name => 'read', perms => ['REPO_READ']);
my %auth = (Authorization => "Bearer $tok");

sub sandboxed {
    my ($res, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is_status($res, $res->{status} >= 200 && $res->{status} < 300 ? $res->{status} : 200, "$name: served");
    is($res->{headers}{'content-security-policy'}, 'sandbox', "$name: Content-Security-Policy: sandbox");
    is($res->{headers}{'x-content-type-options'}, 'nosniff', "$name: X-Content-Type-Options: nosniff");
}

subtest 'git, smart and dumb HTTP' => sub {
    sandboxed($env->get('/scm/PROJ/repo.git/info/refs?service=git-upload-pack', \%auth), 'info/refs');
    sandboxed($env->get('/scm/PROJ/repo.git/HEAD', \%auth), 'a file read over dumb HTTP');
    my ($rc, $out, $err) = $env->git('ls-remote', $env->clone_url('alice', $tok, 'PROJ', 'repo'));
    is($rc, 0, 'git does not mind') or diag $err;
};

subtest 'files over WebDAV' => sub {
    my ($st) = $env->curl('/dav/PROJ/site/x.html', method => 'PUT', auth => "Bearer $tok",
                          data => "<script>alert(1)</script>\n");
    is($st, 201, 'an HTML page uploaded');
    my $res = $env->get('/dav/PROJ/site/x.html', \%auth);
    sandboxed($res, 'the page, read back');
    like($res->{headers}{'content-type'} // '', qr{^text/html}, '  as text/html');
    $res = $env->get('/dav/PROJ/site/x.html');
    is($res->{status}, 401, 'refused without a login');
    # The refusal is served here too: whatever its body (an ErrorDocument
    # of the admin's, a page a module writes), it runs in no origin.
    is($res->{headers}{'content-security-policy'}, 'sandbox', '  with Content-Security-Policy: sandbox');
    is($res->{headers}{'x-content-type-options'}, 'nosniff', '  and X-Content-Type-Options: nosniff');
    $res = $env->request('PUT', '/dav/PROJ/site/y.html', { Authorization => "Bearer $ro" }, "<p>x</p>\n");
    is($res->{status}, 403, 'a token short of permission refused');
    is($res->{headers}{'content-security-policy'}, 'sandbox', '  with Content-Security-Policy: sandbox');
};

subtest 'BBTokenSandbox Off; a section without routes' => sub {
    my $res = $env->get('/dav-open/PROJ/site/x.html', \%auth);
    is_status($res, 200, 'the same page where BBTokenSandbox is Off');
    ok(!exists $res->{headers}{'content-security-policy'}, '  no Content-Security-Policy');
    ok(!exists $res->{headers}{'x-content-type-options'}, '  no X-Content-Type-Options');
    $res = $env->get('/page/index.html', { Authorization => $env->basic('alice', 'alice-Pa55-word') });
    is_status($res, 200, 'a page where AuthType BBToken has no routes (BBTokenRoutes none)');
    ok(!exists $res->{headers}{'content-security-policy'}, '  its scripts may run: no sandbox');
};

subtest 'nested sections' => sub {
    sandboxed($env->get('/dav-open/PROJ/strict/x.html', \%auth), 'On in a section within one that says Off');
    for my $p ('/dav-open/PROJ/strict/open/x.html', '/dav-open/PROJ/other/x.html') {
        my $res = $env->get($p, \%auth);
        is_status($res, 200, $p);
        ok(!exists $res->{headers}{'content-security-policy'}, '  no Content-Security-Policy');
        ok(!exists $res->{headers}{'x-content-type-options'}, '  no X-Content-Type-Options');
    }
};

subtest 'not AuthType BBToken: left alone, routes or not' => sub {
    for my $p ('/pub/PROJ/site/x.html', '/own/PROJ/site/x.html') {
        my $res = $env->get($p);
        is_status($res, 200, "$p: served");
        ok(!exists $res->{headers}{'content-security-policy'}, '  no Content-Security-Policy');
        ok(!exists $res->{headers}{'x-content-type-options'}, '  no X-Content-Type-Options');
    }
};

subtest 'the directive' => sub {
    my ($rc, $out) = $env->config_test("<Location /x>\n    BBTokenSandbox maybe\n</Location>\n");
    ok($rc != 0 && $out =~ /BBTokenSandbox/, 'On or Off only') or diag $out;
    open my $h, '>', "$d/dav/.htaccess" or die $!;
    print $h "BBTokenSandbox Off\n";
    close $h;
    ($rc, $out) = $env->config_test("<Directory \"$d/dav\">\n    AllowOverride All\n</Directory>\n");
    is($rc, 0, 'configuration with AllowOverride All') or diag $out;
    $env->httpd_restart(extra_conf => $env->{extra_conf} . "<Directory \"$d/dav\">\n    AllowOverride All\n</Directory>\n");
    my $res = $env->get('/dav/PROJ/site/x.html', \%auth);
    is($res->{status}, 500, 'not in .htaccess: a repository\'s owner cannot turn it off');
    unlink "$d/dav/.htaccess";
};

done_testing;
