# What the backend is told a token holds: BBTOKEN_TOKEN_PERMISSIONS, the
# token's own permissions in Bitbucket's names, beside REMOTE_USER (whose
# own grants may be more: an owner who is a repository admin with a
# REPO_WRITE token).  Personal tokens at several levels, a project's and a
# repository's token, from the database and from the cache; a password
# user, who has no token, gets none.  A value set before the module runs
# (SetEnvIf, a server-level RewriteRule's E=) is never what the backend
# sees, and an internal redirect or a sub-request is told the same as the
# request before it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env qw(auth_bearer auth_basic cgi_vars);
use BBT::Assert;

my $extra = <<'EOC';
ScriptAlias /pw/ "@DIR@/cgi-bin/env.cgi/"
<Location /pw>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    BBTokenRoutes git /pw
    Require bbtoken
    # Planted before the module authenticates: taken away.
    SetEnvIf Request_URI "^/pw/" BBTOKEN_TOKEN_PERMISSIONS=PROJECT_ADMIN
</Location>
# The same, over a CGI that prints its environment as it was given,
# duplicates and all (a C backend's getenv takes the first).
ScriptAlias /raw/ "@DIR@/cgi-bin/raw.cgi/"
<Location /raw>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    BBTokenRoutes git /raw
    Require bbtoken
    SetEnvIf Request_URI "^/raw/" BBTOKEN_TOKEN_PERMISSIONS=PROJECT_ADMIN
</Location>
# A backend that runs README's shell example (below).
ScriptAlias /cap/ "@DIR@/cgi-bin/cap.cgi/"
<Location /cap>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    BBTokenRoutes git /cap
    Require bbtoken
</Location>
# A server-level rewrite runs before authentication, and its E= plants a
# value there too.
RewriteEngine On
RewriteRule "^/rw/(.*)$" "/pw/$1" [PT,E=BBTOKEN_TOKEN_PERMISSIONS:PLANTED]
# A page whose includes are sub-requests into /pw.
Alias /inc "@DIR@/inc"
<Directory "@DIR@/inc">
    Options +Includes
    SetOutputFilter INCLUDES
    Require all granted
</Directory>
<Location /inc>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    BBTokenRoute GET "/inc/(?<project>[A-Z]+)/(?<repo>[a-z]+)/[a-z]+\.shtml" REPO_READ query=
    Require bbtoken
    SetEnvIf Request_URI "^/inc/" BBTOKEN_TOKEN_PERMISSIONS=PROJECT_ADMIN
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(authn_file setenvif rewrite include)])->start;
my $d = $env->dir;
make_path("$d/inc/PROJ/repo");
BBT::Env::spew("$d/inc/PROJ/repo/page.shtml", <<'EOS');
<!--#include virtual="/pw/PROJ/repo.git/HEAD" -->
EOS

BBT::Env::spew("$d/cgi-bin/raw.cgi", <<'EOS', 0755);
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
tr '\000' '\n' < /proc/$$/environ | grep '^BBTOKEN_TOKEN_PERMISSIONS='
exit 0
EOS

# README's example, as a backend that takes every user for a repository
# admin by its own rules would run it: the token caps that.
my ($example) = BBT::Env::slurp("$FindBin::Bin/../README")
    =~ /as a shell backend would:\n\n((?: {4}.*\n)+)/;
ok(defined $example && $example =~ /BBTOKEN_TOKEN_PERMISSIONS/, 'README has the shell example');
$example //= '';
$example =~ s/^ {4}//mg;
BBT::Env::spew("$d/cgi-bin/cap.cgi", "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n"
                                     . "admin=yes\n$example" . "echo \"admin=\$admin\"\n", 0755);

my %pw = (carol => 'carol-Pa55-word');
$env->htpasswd(%pw);
$env->make_repo('PROJ', 'repo');
# alice is an admin of PROJ: whatever her tokens hold is less than she is.
$env->user_add('alice');
$env->grant('alice', 'PROJECT_ADMIN', 'PROJ');
$env->user_add('carol');
$env->grant('carol', 'PROJECT_ADMIN', 'PROJ');

my $UP = 'PROJ/repo.git/info/refs?service=git-upload-pack';

# name => [Authorization value, what the backend is told, REMOTE_USER]
my @cases = (
    ['personal, no list (the owner\'s full level)',
     scalar $env->token_create('alice', name => 'all'), 'PROJECT_ADMIN REPO_ADMIN', 'alice'],
    ['personal REPO_WRITE (the owner is admin)',
     scalar $env->token_create('alice', name => 'rw', perms => ['REPO_WRITE']), 'PROJECT_READ REPO_WRITE', 'alice'],
    ['personal PROJECT_WRITE',
     scalar $env->token_create('alice', name => 'pw', perms => ['PROJECT_WRITE']), 'PROJECT_WRITE REPO_WRITE', 'alice'],
    ['personal REPO_READ',
     scalar $env->token_create('alice', name => 'ro', perms => ['REPO_READ']), 'PROJECT_READ REPO_READ', 'alice'],
    ['personal PROJECT_WRITE REPO_ADMIN',
     scalar $env->token_create('alice', name => 'wa', perms => ['PROJECT_WRITE', 'REPO_ADMIN']),
     'PROJECT_WRITE REPO_ADMIN', 'alice'],
    ['project token PROJECT_READ REPO_WRITE',
     scalar $env->scoped_token_create('--project', 'PROJ', name => 'ci', perms => ['PROJECT_READ', 'REPO_WRITE']),
     'PROJECT_READ REPO_WRITE', 'project:PROJ'],
    ['repository token REPO_WRITE',
     scalar $env->scoped_token_create('--repo', 'PROJ/repo', name => 'deploy', perms => ['REPO_WRITE']),
     'REPO_WRITE', 'repo:PROJ/repo'],
);

subtest 'a token\'s own permissions, in Bitbucket\'s names' => sub {
    for my $c (@cases) {
        my ($name, $tok, $want, $user) = @$c;
        # The first from the database, the second from the cache.
        for my $round ('', ' again') {
            my ($res, $v) = $env->cgi_call(GET => "/env/$UP", auth_bearer($tok));
            is_ok_res($res, "$name$round: allowed") or next;
            is($v->{BBTOKEN_TOKEN_PERMISSIONS}, $want, "  BBTOKEN_TOKEN_PERMISSIONS=$want");
            is($v->{REMOTE_USER}, $user, "  REMOTE_USER=$user");
            is($v->{BBTOKEN_PERMISSION}, 'REPO_READ', '  BBTOKEN_PERMISSION is still the route\'s');
        }
    }
};

subtest 'README\'s shell example caps a backend\'s admin check' => sub {
    my %c = map { $_->[0] => $_ } @cases;
    for my $t (['personal, no list (the owner\'s full level)', 'yes'],
               ['personal PROJECT_WRITE REPO_ADMIN', 'yes'],
               ['personal REPO_WRITE (the owner is admin)', 'no'],
               ['personal PROJECT_WRITE', 'no'],
               ['repository token REPO_WRITE', 'no']) {
        my ($name, $want) = @$t;
        my $res = $env->get("/cap/$UP", auth_bearer($c{$name}[1]));
        is_ok_res($res, "$name: allowed") or next;
        is($res->{content}, "admin=$want\n", "  the backend's admin check: $want");
    }
    my $res = $env->get("/cap/$UP", auth_basic('carol', $pw{carol}));
    is_ok_res($res, 'password user: allowed');
    is($res->{content}, "admin=yes\n", '  no token caps her: yes');
};

subtest 'a planted value is never what the backend sees' => sub {
    my ($ptok, $rtok) = ($cases[1][1], $cases[6][1]);
    for my $c (['SetEnvIf', '/pw'], ['RewriteRule E=', '/rw']) {
        my ($how, $at) = @$c;
        my ($res, $v) = $env->cgi_call(GET => "$at/$UP", auth_bearer($ptok));
        is_ok_res($res, "$how, personal token: allowed") or next;
        is($v->{BBTOKEN_TOKEN_PERMISSIONS}, 'PROJECT_READ REPO_WRITE', '  the token\'s own, not the planted one');
        ($res, $v) = $env->cgi_call(GET => "$at/$UP", auth_bearer($rtok));
        is_ok_res($res, "$how, repository token: allowed") or next;
        is($v->{BBTOKEN_TOKEN_PERMISSIONS}, 'REPO_WRITE', '  the token\'s own, not the planted one');
        ($res, $v) = $env->cgi_call(GET => "$at/$UP", auth_basic('carol', $pw{carol}));
        is_ok_res($res, "$how, password user: allowed") or next;
        is($v->{REMOTE_USER}, 'carol', '  REMOTE_USER=carol');
        ok(!defined $v->{BBTOKEN_TOKEN_PERMISSIONS}, '  no BBTOKEN_TOKEN_PERMISSIONS: no token caps her')
            or diag "CGI saw BBTOKEN_TOKEN_PERMISSIONS=$v->{BBTOKEN_TOKEN_PERMISSIONS}";
        is($v->{BBTOKEN_PERMISSION}, 'REPO_READ', '  the route\'s permission as before');
    }
};

subtest 'the backend is given one value, not the planted one beside it' => sub {
    for my $c (@cases[1, 6]) {
        my ($name, $tok, $want) = @$c;
        my $res = $env->get("/raw/$UP", auth_bearer($tok));
        is_ok_res($res, "$name: allowed") or next;
        is($res->{content}, "BBTOKEN_TOKEN_PERMISSIONS=$want\n", "  its environment holds $want alone");
    }
    my $res = $env->get("/raw/$UP", auth_basic('carol', $pw{carol}));
    is_ok_res($res, 'password user: allowed');
    is($res->{content}, '', '  her environment holds none');
};

subtest 'an internal redirect is told the same' => sub {
    # The stand-in answers .../redirect-to-push... with a local Location:
    # httpd follows it to PROJ/repo's push advertisement, a request of its
    # own that the module authenticates again.
    my $src = '/env/PROJ/redirect-to-push.git/info/refs?service=git-upload-pack';
    for my $c (@cases[0, 1, 2, 4]) {
        my ($name, $tok, $want) = @$c;
        my ($res, $v) = $env->cgi_call(GET => $src, auth_bearer($tok));
        is_ok_res($res, "$name: the redirect is followed") or next;
        is($v->{QUERY_STRING}, 'service=git-receive-pack', '  to the push advertisement');
        is($v->{BBTOKEN_TOKEN_PERMISSIONS}, $want, "  BBTOKEN_TOKEN_PERMISSIONS=$want");
        is($v->{REDIRECT_BBTOKEN_TOKEN_PERMISSIONS}, $want, '  as the request before it was told');
    }
};

subtest 'a sub-request is told the same' => sub {
    for my $c (@cases[1, 5, 6]) {
        my ($name, $tok, $want) = @$c;
        my ($res, $v) = $env->cgi_call(GET => '/inc/PROJ/repo/page.shtml', auth_bearer($tok));
        is_ok_res($res, "$name: the page") or next;
        is($v->{PATH_INFO}, '/PROJ/repo.git/HEAD', '  includes the stand-in') or diag res_summary($res);
        is($v->{BBTOKEN_TOKEN_PERMISSIONS}, $want, "  which is told $want");
    }
    my ($res, $v) = $env->cgi_call(GET => '/inc/PROJ/repo/page.shtml', auth_basic('carol', $pw{carol}));
    is_ok_res($res, 'password user: the page');
    is($v->{REMOTE_USER}, 'carol', '  includes the stand-in, for carol') or diag res_summary($res);
    ok(!defined $v->{BBTOKEN_TOKEN_PERMISSIONS}, '  which is told no token permissions');
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;

done_testing;
