# Bitbucket's Create repository project grant (REPO_CREATE): its holder
# writes in every repository of the project and creates repositories in it
# (POST .../projects/{key}/repos, a fork into it), never the project's
# settings or permissions.  A token holds none of it: one with
# PROJECT_ADMIN reaches it, capped there by the owner's grant; one with
# PROJECT_WRITE does not.  In front of a stand-in CGI for the REST API and
# git-http-backend for pushes; lowering the grant is refused within the
# cache's bound; a user whose grants are too many for the level map (the
# module asks bbtoken_owner_level_of), and a password user (the module asks
# bbtoken_owner_levels), are decided the same.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_basic auth_bearer);
use BBT::Assert;
use BBT::Cache qw(served_from_cache until_answer);

my $extra = <<'EOC';
ScriptAlias /rest/ "@DIR@/cgi-bin/env.cgi/"
<Location /rest>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes bitbucket-rest
    Require bbtoken
</Location>
# Password users: their own grants decide.
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
my %pw = (carol => 'carol-Pa55-word', dave => 'dave-Pa55-word');
$env->htpasswd(%pw);
$env->make_repo('PROJ', 'repo');
$env->make_repo('SRC', 'lib');
$env->user_add('carol');
$env->grant('carol', 'REPO_CREATE', 'proj');
$env->grant('carol', 'PROJECT_READ', 'SRC');
$env->user_add('dave');
$env->grant('dave', 'PROJECT_WRITE', 'PROJ');
$env->grant('dave', 'PROJECT_READ', 'SRC');

my %tok = (
    admin => scalar $env->token_create('carol', name => 'full'),
    write => scalar $env->token_create('carol', name => 'w', perms => ['PROJECT_WRITE']),
    dave  => scalar $env->token_create('dave', name => 'full'),
);

my $A = '/rest/api/latest';

# (response, what the CGI was given) for METHOD PATH with this token.
sub call {
    my ($m, $path, $tok, $body) = @_;
    my $h = auth_bearer($tok);
    $h->{'Content-Type'} = 'application/json';
    return $env->cgi_call($m, $path, $h, $body // ($m =~ /^(POST|PUT)$/ ? '{}' : undef));
}

# METHOD PATH with this token (and body) until it answers $want, as
# BBT::Cache::until_answer: a grant changed reaches a cached entry within
# the cache's bound, not at once.
sub until_call {
    my ($want, $m, $path, $tok, $body) = @_;
    return until_answer(sub { (call($m, $path, $tok, $body))[0]{status} }, $want);
}

subtest 'the grant' => sub {
    is($env->psql("SELECT permission FROM bbtoken_project_grants g JOIN bbtoken_users u ON u.id = g.user_id"
                  . " WHERE u.name = 'carol' AND g.project_key = 'PROJ'"),
       'REPO_CREATE', 'bbtoken grant carol REPO_CREATE proj: held on PROJ');
    my ($rc, $out, $err) = $env->cli('grant', 'carol', 'REPO_CREATE', 'PROJ/repo');
    ok($rc == 1 && $err =~ /REPO_CREATE is a project permission/, 'a repository TARGET is refused')
        or diag "exit $rc: $out$err";
    ($rc, $out, $err) = $env->cli('create', 'carol', '--name', 'c', '--perm', 'REPO_CREATE');
    ok($rc != 0, 'no token holds REPO_CREATE') or diag "exit $rc: $out$err";
    like($env->cli_ok('audit', 'carol'), qr/granted.*REPO_CREATE/, 'the audit trail names it');
    my ($crc, $cout, $cerr) = $env->cli('db', 'check');
    is($crc, 0, 'bbtoken db check finds the lookup rows true') or diag "$cout$cerr";
    # The database's number for it is above admin's: a module from before
    # it reads a level map or a level of 4 as malformed and refuses.
    is($env->psql("SELECT bbtoken_owner_level_of(u, 'PROJ', NULL) || ' ' || bbtoken_owner_level_of(u, 'PROJ', 'x')"
                  . " FROM bbtoken_users u WHERE name = 'carol'"),
       '4 4', 'bbtoken_owner_level_of gives 4 on the project and its repositories');
    # 0.2.0's module asks bbtoken_owner_level instead, and reads 0 to 3.
    is($env->psql("SELECT bbtoken_owner_level(u.id, 'PROJ', NULL) || ' ' || bbtoken_owner_level(u.id, 'PROJ', 'x')"
                  . " FROM bbtoken_users u WHERE name = 'carol'"),
       '4 4', 'so does bbtoken_owner_level');
    like($env->psql("SELECT bbtoken_owner_level_map(u) FROM bbtoken_users u WHERE name = 'carol'"),
         qr/(^| )PROJ:4( |$)/, 'the level map has PROJ:4');
};

subtest 'the highest grant applies, in Bitbucket\'s order' => sub {
    $env->grant('carol', 'REPO_ADMIN', 'PROJ/repo');
    $env->grant('carol', 'REPO_WRITE', 'PROJ/other');
    is($env->psql("SELECT string_agg(bbtoken_owner_level_of(u, 'PROJ', s)::text, ' ' ORDER BY s)"
                  . " FROM bbtoken_users u, unnest(ARRAY['other', 'repo']) s WHERE name = 'carol'"),
       '4 3', 'in the database: create above a repository\'s write, below its admin');
    is_ok_res((call('PUT', "$A/projects/PROJ/repos/repo/settings/pull-requests", $tok{admin}))[0],
              'REPO_ADMIN on PROJ/repo over create on PROJ: its settings are hers');
    is_ok_res((call('POST', "$A/projects/PROJ/repos/other/pull-requests", $tok{admin}))[0],
              'REPO_WRITE on PROJ/other under create on PROJ: she writes there');
    is_403((call('PUT', "$A/projects/PROJ/repos/other/settings/pull-requests", $tok{admin}))[0],
           'but its settings are not hers');
    $env->cli_ok('ungrant', 'carol', 'PROJ/repo');
    $env->cli_ok('ungrant', 'carol', 'PROJ/other');
    my ($ok, $n, $seen) = until_call(403, 'PUT', "$A/projects/PROJ/repos/repo/settings/pull-requests", $tok{admin});
    ok($ok, 'ungranted: the settings of PROJ/repo are hers no more') or diag "statuses: $seen";
    is($env->psql("SELECT bbtoken_owner_level_of(u, 'PROJ', 'repo') FROM bbtoken_users u WHERE name = 'carol'"),
       '4', 'ungranted: create again');
};

subtest 'creating a repository' => sub {
    my ($res, $v) = call('POST', "$A/projects/PROJ/repos", $tok{admin}, '{"name":"new"}');
    is_ok_res($res, "carol's PROJECT_ADMIN token creates a repository in PROJ");
    is($v->{BBTOKEN_PERMISSION}, 'REPO_CREATE', '  the route needs REPO_CREATE');
    is($v->{BBTOKEN_TARGET}, 'PROJ', '  on PROJ');
    my $mark = log_mark($env->error_log_path);
    ($res) = call('POST', "$A/projects/PROJ/repos", $tok{write}, '{"name":"new"}');
    is_403($res, "carol's PROJECT_WRITE token cannot");
    like(join('', log_lines_since($env->error_log_path, $mark)),
         qr/BBT051: .* needs REPO_CREATE on PROJ .*the token lacks it/, '  the token lacks it');
    $mark = log_mark($env->error_log_path);
    ($res) = call('POST', "$A/projects/PROJ/repos", $tok{dave}, '{"name":"new"}');
    is_403($res, "dave (PROJECT_WRITE) cannot, even with a full token");
    like(join('', log_lines_since($env->error_log_path, $mark)),
         qr/BBT051: .* needs REPO_CREATE on PROJ .*the owner lacks it/, '  the owner lacks it');
    is_403((call('POST', "$A/projects/OTHER/repos", $tok{admin}))[0], 'nor in a project carol has no grant on');
};

subtest 'forking into the project' => sub {
    my $into = '{"name":"fork","project":{"key":"PROJ"}}';
    my ($res, $v) = call('POST', "$A/projects/SRC/repos/lib", $tok{admin}, $into);
    is_ok_res($res, "carol's PROJECT_ADMIN token forks SRC/lib into PROJ");
    is($v->{BBTOKEN_TARGET}, 'SRC/lib', '  from SRC/lib');
    my $mark = log_mark($env->error_log_path);
    ($res) = call('POST', "$A/projects/SRC/repos/lib", $tok{write}, $into);
    is_403($res, "carol's PROJECT_WRITE token cannot");
    # Its PROJECT_ADMIN is what it lacks (the route's token=), not
    # REPO_CREATE, which no token holds.
    like($res->{content}, qr/The access token does not have PROJECT_ADMIN permission for this request\./,
         '  the answer names PROJECT_ADMIN, which a token may have');
    like(join('', log_lines_since($env->error_log_path, $mark)),
         qr/BBT051: .* needs PROJECT_ADMIN on SRC\/lib .*the token lacks it/, '  and so does the log');
    is_403((call('POST', "$A/projects/SRC/repos/lib", $tok{dave}, $into))[0], 'dave (PROJECT_WRITE) cannot');
    is_403((call('POST', "$A/projects/PROJ/repos/repo", $tok{admin}, '{"name":"f","project":{"key":"SRC"}}'))[0],
           'carol cannot fork into SRC, where she reads');
};

subtest 'not the project admin' => sub {
    for my $row (['PUT', "$A/projects/PROJ/permissions/users?name=eve&permission=PROJECT_ADMIN"],
                 ['GET', "$A/projects/PROJ/permissions/users"],
                 ['PUT', "$A/projects/PROJ/settings/pull-requests/git"],
                 ['PUT', "$A/projects/PROJ"],
                 ['DELETE', "$A/projects/PROJ"],
                 ['PUT', "$A/projects/PROJ/repos/repo/permissions/users?name=eve&permission=REPO_ADMIN"],
                 ['DELETE', "$A/projects/PROJ/repos/repo"]) {
        my ($m, $path) = @$row;
        is_403((call($m, $path, $tok{admin}))[0], "$m $path: refused to carol's PROJECT_ADMIN token");
    }
    is_ok_res((call('POST', "$A/projects/PROJ/repos/repo/pull-requests", $tok{admin}))[0],
              'a pull request in PROJ/repo: write is hers');
    is_ok_res((call('GET', "$A/projects/PROJ", $tok{admin}))[0], 'reading the project is hers');
    is_403((call('PUT', "$A/projects/PROJ/repos/repo", $tok{admin}, '{"name":"renamed"}'))[0],
           'renaming PROJ/repo is refused');
    # A move into PROJ needs PROJECT_ADMIN there, not REPO_CREATE.
    $env->grant('carol', 'REPO_ADMIN', 'SRC/lib');
    my ($ok, $n, $seen) = until_call(200, 'PUT', "$A/projects/SRC/repos/lib", $tok{admin}, '{"name":"lib2"}');
    ok($ok, 'control: she renames SRC/lib, hers to administer') or diag "statuses: $seen";
    my $mark = log_mark($env->error_log_path);
    is_403((call('PUT', "$A/projects/SRC/repos/lib", $tok{admin}, '{"project":{"key":"PROJ"}}'))[0],
           'but moving it into PROJ is refused');
    like(join('', log_lines_since($env->error_log_path, $mark)),
         qr/BBT051: .* needs PROJECT_ADMIN on PROJ .*the owner lacks it/, '  the owner lacks PROJECT_ADMIN there');
    $env->cli_ok('ungrant', 'carol', 'SRC/lib');
};

subtest 'pushing to the project\'s repositories' => sub {
    my $dir = $env->workdir('push');
    my $url = $env->clone_url('carol', $tok{admin}, 'PROJ', 'repo');
    $env->git_is('clone PROJ/repo', 1, 'clone', '-q', $url, $dir) or return;
    my $c = $env->commit_file($dir, 'created.txt', "by a creator\n");
    $env->git_is('push with the PROJECT_ADMIN token', 1, { cwd => $dir }, 'push', '-q', 'origin', 'main') or return;
    is($env->repo_head('PROJ', 'repo'), $c, 'the push reached PROJ/repo');
    my $c2 = $env->commit_file($dir, 'again.txt', "with the write token\n");
    $env->git_is('push with the PROJECT_WRITE token', 1, { cwd => $dir }, 'push', '-q',
                 $env->clone_url('carol', $tok{write}, 'PROJ', 'repo'), 'main') or return;
    is($env->repo_head('PROJ', 'repo'), $c2, 'that push reached it too');
};

subtest 'too many grants for the level map: the database decides alike' => sub {
    $env->user_add('erin');
    $env->psql("INSERT INTO bbtoken_repo_grants (user_id, project_key, repo_slug, permission)"
               . " SELECT u.id, 'MANY', 'r' || i, 'REPO_READ' FROM bbtoken_users u, generate_series(1, 70) i"
               . " WHERE u.name = 'erin'");
    $env->grant('erin', 'REPO_CREATE', 'PROJ');
    is($env->psql("SELECT bbtoken_owner_level_map(u) IS NULL FROM bbtoken_users u WHERE name = 'erin'"), 't',
       'erin has no level map');
    my $t = $env->token_create('erin', name => 'full');
    is_ok_res((call('POST', "$A/projects/PROJ/repos", $t))[0], 'her PROJECT_ADMIN token creates a repository');
    is_ok_res((call('POST', "$A/projects/PROJ/repos/repo/pull-requests", $t))[0], 'and writes in PROJ/repo');
    is_403((call('PUT', "$A/projects/PROJ", $t))[0], 'but is no project admin');
    is_403((call('PUT', "$A/projects/PROJ/repos/repo/settings/pull-requests", $t))[0], 'nor a repository admin');
};

subtest 'a password user: the same rule from the database' => sub {
    my $pw = sub {
        my ($m, $user, $path, $body) = @_;
        my $h = auth_basic($user, $pw{$user});
        $h->{'Content-Type'} = 'application/json';
        return ($env->cgi_call($m, "/pw$path", $h, $body // ($m =~ /^(POST|PUT)$/ ? '{}' : undef)))[0];
    };
    is_ok_res($pw->('POST', 'carol', "$A/projects/PROJ/repos"), 'carol by password creates a repository in PROJ');
    is_ok_res($pw->('POST', 'carol', "$A/projects/SRC/repos/lib", '{"project":{"key":"PROJ"}}'),
              '  and forks into it');
    is_ok_res($pw->('POST', 'carol', "$A/projects/PROJ/repos/repo/pull-requests"), '  and writes in PROJ/repo');
    is_status($pw->('PUT', 'carol', "$A/projects/PROJ"), 403, '  but is no project admin');
    is_status($pw->('PUT', 'carol', "$A/projects/PROJ/repos/repo/settings/pull-requests"), 403,
              '  nor a repository admin');
    is_status($pw->('POST', 'dave', "$A/projects/PROJ/repos"), 403, 'dave by password cannot create');
};

subtest 'lowering the grant to write is refused within the cache\'s bound' => sub {
    my ($t, $id) = $env->token_create('carol', name => 'cached');
    ok(served_from_cache($env, "$A/projects/PROJ", auth_bearer($t), $id), 'the token is answered from the cache');
    is_ok_res((call('POST', "$A/projects/PROJ/repos", $t))[0], 'it creates a repository');
    $env->grant('carol', 'PROJECT_WRITE', 'PROJ');
    is($env->psql("SELECT permission FROM bbtoken_project_grants g JOIN bbtoken_users u ON u.id = g.user_id"
                  . " WHERE u.name = 'carol' AND g.project_key = 'PROJ'"),
       'PROJECT_WRITE', 'granting again replaced the grant');
    my $until = sub { until_call($_[0], 'POST', "$A/projects/PROJ/repos", $t) };
    my ($ok, $n, $seen) = $until->(403);
    ok($ok, 'creating a repository is refused') or diag "statuses: $seen";
    is_ok_res((call('POST', "$A/projects/PROJ/repos/repo/pull-requests", $t))[0], 'writing still is not');
    $env->grant('carol', 'REPO_CREATE', 'PROJ');
    ($ok, $n, $seen) = $until->(200);
    ok($ok, 'raised to create again, it creates again') or diag "statuses: $seen";
};

done_testing;
