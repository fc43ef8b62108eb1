# SITE_READ: the bitbucket-rest set's reads across projects (the lists of
# projects and repositories, the server's properties, the user's dashboard,
# inbox and recent repositories), which clients make before they name a
# project (@nexus2520/bitbucket-mcp-server, Backstage's Bitbucket Server
# provider).  A personal token's, on both API versions, with any query
# string, the backend told SITE_READ and no target; refused to a project's
# and a repository's token (403, BBT551 naming the token), to a token
# refused for what it is (revoked, expired, its owner disabled, from
# outside its allow-list: 401), and beside them every write, users, admin,
# a ';' and a .json suffix still refused.  No owner's level is asked for
# such a read (a sequence counts every computation of one).  A password
# user under Require bbtoken: their account, live or not.  A stand-in CGI
# echoes what it was let through with.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_basic auth_bearer parse_token);
use BBT::Assert;
use BBT::Cache qw(level_probe_on level_computed);

my $extra = <<'EOC';
ScriptAlias /rest/ "@DIR@/cgi-bin/env.cgi/"
<Location /rest>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes bitbucket-rest
    Require bbtoken
</Location>
ScriptAlias /pw/rest/ "@DIR@/cgi-bin/env.cgi/"
<Location /pw>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    BBTokenRoutes bitbucket-rest /pw
    Require bbtoken
    AuthzSendForbiddenOnFailure On
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(authn_file authz_user)])->start;
level_probe_on($env);
$env->user_add($_) for qw(alice carol dan erin many);
$env->grant('alice', 'PROJECT_ADMIN', 'PROJ');
$env->grant('many', 'PROJECT_READ', 'PROJ');
# More grants than a level map holds: many's level is asked by a
# statement of its own, which the probe counts.
my $max = $env->psql('SELECT bbtoken_lookup_grants_max()');
$env->psql("INSERT INTO bbtoken_project_grants (user_id, project_key, permission)"
           . " SELECT u.id, 'P' || g, 'PROJECT_READ' FROM bbtoken_users u, generate_series(1, $max) g"
           . " WHERE u.name = 'many'");
$env->htpasswd(alice => 'alice-pw', carol => 'carol-pw', ghost => 'ghost-pw');

my %tok = (
    full => scalar $env->token_create('alice', name => 'full'),
    read => scalar $env->token_create('alice', name => 'read', perms => ['REPO_READ']),
    many => scalar $env->token_create('many', name => 'many', perms => ['REPO_READ']),
    project => $env->scoped_token_create('--project', 'PROJ', name => 'proj', perms => ['PROJECT_ADMIN']),
    repo => $env->scoped_token_create('--repo', 'PROJ/repo', name => 'repo', perms => ['REPO_ADMIN']),
);
# Refused for what they are, each before its first use (nothing cached).
my ($revoked, $revoked_id) = $env->token_create('alice', name => 'revoked');
$env->cli_ok('revoke', $revoked_id);
my ($expired, $expired_id) = $env->token_create('alice', name => 'expired');
$env->expire_token($expired_id);
my $disabled = $env->token_create('dan', name => 'dan');
$env->cli_ok('user', 'disable', 'dan');
my $fenced = $env->cli_ok('create', 'erin', '--name', 'fenced', '--allow-from', '10.0.0.0/8');
chomp $fenced;
$env->cli_ok('user', 'disable', 'carol');

my @site = qw(projects repos application-properties dashboard/pull-requests
              dashboard/pull-request-suggestions inbox/pull-requests
              inbox/pull-requests/count profile/recent/repos);

sub call {
    my ($m, $path, $tok) = @_;
    return $env->cgi_call($m, $path, auth_bearer($tok));
}

subtest 'a personal token reads across projects' => sub {
    for my $v ('1.0', 'latest') {
        for my $s (@site) {
            my $p = "/rest/api/$v/$s";
            my ($res, $cgi) = call('GET', "$p?start=0&limit=25", $tok{full});
            is_ok_res($res, "GET $p?start=0&limit=25: PROJECT_ADMIN+REPO_ADMIN token") or next;
            is($cgi->{BBTOKEN_PERMISSION}, 'SITE_READ', '  the backend is told SITE_READ');
            ok(!defined $cgi->{BBTOKEN_TARGET}, '  and no target');
            like($cgi->{BBTOKEN_ROUTE} // '', qr{^routes/bitbucket-rest\.conf:\d+$}, '  by the set\'s route');
            is($cgi->{REMOTE_USER}, 'alice', '  for the owner');
            is($cgi->{QUERY_STRING}, 'start=0&limit=25', '  with the query string');
            is_ok_res((call('GET', $p, $tok{read}))[0], "  a REPO_READ token too");
            is_ok_res((call('GET', "$p/", $tok{read}))[0], "  with a trailing slash");
            is_ok_res((call('HEAD', $p, $tok{read}))[0], "  HEAD");
        }
    }
};

subtest 'a project\'s or a repository\'s token is refused' => sub {
    for my $who (qw(project repo)) {
        my $id = parse_token($tok{$who})->{id};
        for my $v ('1.0', 'latest') {
            for my $s (@site) {
                my $p = "/rest/api/$v/$s";
                my $mark = log_mark($env->error_log_path);
                my ($res, $cgi) = call('GET', $p, $tok{$who});
                is_403($res, "GET $p: the $who token");
                ok(!defined $cgi->{BBTOKEN_ROUTE}, '  the backend never saw it');
                my @l = grep {/BBT551: token \Q$id\E of \S+: GET \Q$p\E is a read outside any one project/}
                        log_lines_since($env->error_log_path, $mark);
                is(scalar @l, 1, '  BBT551 names the token') or diag($env->error_log_text);
            }
        }
        is_403((call('HEAD', '/rest/api/1.0/projects', $tok{$who}))[0], "HEAD projects: the $who token");
    }
};

subtest 'a token refused for what it is: 401 as anywhere' => sub {
    for my $s ('projects', 'repos', 'application-properties') {
        my $p = "/rest/api/1.0/$s";
        is_401((call('GET', $p, $revoked))[0], 1, "GET $p: a revoked token");
        is_401((call('GET', $p, $expired))[0], 1, "GET $p: an expired token");
        is_401((call('GET', $p, $disabled))[0], 1, "GET $p: a disabled owner's token");
        is_401((call('GET', $p, $fenced))[0], 1, "GET $p: from outside the token's allow-list");
    }
};

subtest 'everything else across projects is still refused' => sub {
    my @refused = (
        ['POST', '/rest/api/1.0/projects'],
        ['POST', '/rest/api/latest/repos'],
        ['PUT', '/rest/api/1.0/projects'],
        ['DELETE', '/rest/api/latest/projects/'],
        ['OPTIONS', '/rest/api/1.0/projects'],
        ['POST', '/rest/api/1.0/inbox/pull-requests'],
        ['GET', '/rest/api/1.0/users'],
        ['GET', '/rest/api/latest/users/alice'],
        ['GET', '/rest/api/1.0/admin/users'],
        ['GET', '/rest/api/1.0/projects;x=1'],
        ['GET', '/rest/api/latest/repos;jsessionid=1'],
        ['GET', '/rest/api/1.0/dashboard/pull-requests;a'],
        ['GET', '/rest/api/1.0/projects.json'],
        ['GET', '/rest/api/latest/repos.XML'],
        ['GET', '/rest/api/1.0/dashboard'],
        ['GET', '/rest/api/1.0/profile/recent'],
        ['GET', '/rest/api/1.0/groups'],
        ['GET', '/rest/api/1.0/logs/settings'],
        ['GET', '/rest/api/2.0/projects'],
        ['GET', '/rest/access-tokens/1.0/users/alice'],
        ['GET', '/rest/branch-utils/1.0/projects'],
    );
    for my $row (@refused) {
        my ($m, $p) = @$row;
        my ($res, $cgi) = call($m, $p, $tok{full});
        is_403($res, "$m $p: the full token");
        ok(!defined $cgi->{BBTOKEN_ROUTE}, '  the backend never saw it');
    }
    # A project's own reads are still the project's route.
    my ($res, $cgi) = call('GET', '/rest/api/1.0/projects/PROJ/repos', $tok{read});
    is_ok_res($res, 'GET projects/PROJ/repos: a project read');
    is($cgi->{BBTOKEN_PERMISSION}, 'PROJECT_READ', '  PROJECT_READ');
    is($cgi->{BBTOKEN_TARGET}, 'PROJ', '  on PROJ');
};

subtest 'no owner\'s level is asked for a read across projects' => sub {
    my $before = level_computed($env);
    for my $s (@site) {
        is_ok_res((call('GET', "/rest/api/1.0/$s", $tok{many}))[0], "GET $s: many's token");
    }
    is(level_computed($env) - $before, 0, '  no level computed, for no target');
    is_ok_res((call('GET', '/rest/api/1.0/projects/PROJ', $tok{many}))[0], 'GET projects/PROJ: a project read');
    cmp_ok(level_computed($env) - $before, '>', 0, '  computes many\'s level on PROJ (the probe counts)');
};

subtest 'a password user: their own account, live or not' => sub {
    my ($res, $cgi) = $env->cgi_call('GET', '/pw/rest/api/latest/projects', auth_basic('alice', 'alice-pw'));
    is_ok_res($res, 'alice by password');
    is($cgi->{BBTOKEN_PERMISSION}, 'SITE_READ', '  SITE_READ');
    is($cgi->{REMOTE_USER}, 'alice', '  for alice');
    my $mark = log_mark($env->error_log_path);
    is_status(($env->cgi_call('GET', '/pw/rest/api/1.0/repos', auth_basic('carol', 'carol-pw')))[0], 403,
              'carol, disabled');
    is_status(($env->cgi_call('GET', '/pw/rest/api/1.0/repos', auth_basic('ghost', 'ghost-pw')))[0], 403,
              'ghost, a password without a user');
    my @l = grep {/BBT054: user (carol|ghost): GET \S+ needs SITE_READ on the site/}
            log_lines_since($env->error_log_path, $mark);
    is(scalar @l, 2, '  each refused by BBT054') or diag($env->error_log_text);
    is_status(($env->cgi_call('POST', '/pw/rest/api/1.0/projects', auth_basic('alice', 'alice-pw'), '{}'))[0],
              403, 'alice by password: POST projects still refused');
};

done_testing;
