# The bitbucket-rest route set in front of a stand-in CGI that echoes which
# route matched (BBTOKEN_ROUTE), what it needs (BBTOKEN_PERMISSION) and on
# what (BBTOKEN_TARGET): the seed's table over Bitbucket's REST layout.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_basic auth_bearer);
use BBT::Assert;

my $extra = <<'EOC';
ScriptAlias /rest/ "@DIR@/cgi-bin/env.cgi/"
<Location /rest>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes bitbucket-rest
    Require bbtoken
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra)->start;
$env->user_add('alice');
$env->grant('alice', 'PROJECT_ADMIN', 'PROJ');
my %tok = (
    read   => scalar $env->token_create('alice', name => 'r', perms => ['REPO_READ']),
    write  => scalar $env->token_create('alice', name => 'w', perms => ['REPO_WRITE']),
    radmin => scalar $env->token_create('alice', name => 'ra', perms => ['REPO_ADMIN']),
    # The table's middle column: project write gives nothing project read
    # does not (no project settings, no fork, no new repository).
    pwrite => scalar $env->token_create('alice', name => 'pw', perms => ['PROJECT_WRITE', 'REPO_WRITE']),
    pwadm  => scalar $env->token_create('alice', name => 'pwa', perms => ['PROJECT_WRITE', 'REPO_ADMIN']),
    full   => scalar $env->token_create('alice', name => 'full'),
);
$env->user_add('root', '--admin');
my $root_tok = $env->token_create('root', name => 'root');

my %level = (READ => 1, WRITE => 2, ADMIN => 3);
# What each token holds: project level, repository level.
my %holds = (read => [1, 1], write => [1, 2], radmin => [1, 3], pwrite => [2, 2], pwadm => [2, 3], full => [3, 3]);

my $A = '/rest/api/latest';
my $C = '0123456789abcdef0123456789abcdef01234567';
my $I = "/rest/insights/latest/projects/PROJ/repos/repo/commits/$C";
my $BP = '/rest/branch-permissions';
my $CL = '/rest/comment-likes/latest/projects/PROJ/repos/repo';
my @table = (
    # method, path, permission, target, token minimum
    ['GET', "$A/projects/PROJ", 'PROJECT_READ', 'PROJ'],
    ['GET', "$A/projects/PROJ/repos?start=0&limit=25", 'PROJECT_READ', 'PROJ'],
    ['GET', "/rest/api/1.0/projects/PROJ/repos", 'PROJECT_READ', 'PROJ'],
    ['GET', "$A/projects/PROJ/repos/repo", 'REPO_READ', 'PROJ/repo'],
    ['GET', "$A/projects/PROJ/repos/repo/commits?limit=5", 'REPO_READ', 'PROJ/repo'],
    ['GET', "$A/projects/PROJ/repos/repo/browse/src/main.c", 'REPO_READ', 'PROJ/repo'],
    ['GET', "$A/projects/PROJ/repos/repo/pull-requests", 'REPO_READ', 'PROJ/repo'],
    ['GET', "$A/projects/~alice/repos/mine", 'REPO_READ', '~alice/mine'],
    ['GET', "$A/projects/proj/repos/repo", 'REPO_READ', 'PROJ/repo'],
    ['POST', "$A/projects/PROJ/repos/repo/pull-requests", 'REPO_WRITE', 'PROJ/repo'],
    ['POST', "$A/projects/PROJ/repos/repo/pull-requests/1/merge", 'REPO_WRITE', 'PROJ/repo'],
    ['POST', "$A/projects/PROJ/repos/repo/pull-requests/1/approve", 'REPO_WRITE', 'PROJ/repo'],
    ['POST', "$A/projects/PROJ/repos/repo/pull-requests/1/comments", 'REPO_WRITE', 'PROJ/repo'],
    ['DELETE', "$A/projects/PROJ/repos/repo/pull-requests/1", 'REPO_WRITE', 'PROJ/repo'],
    ['PUT', "$A/projects/PROJ/repos/repo/browse/README.md", 'REPO_WRITE', 'PROJ/repo'],
    ['GET', "$A/projects/PROJ/repos/repo/permissions/users", 'REPO_ADMIN', 'PROJ/repo'],
    ['PUT', "$A/projects/PROJ/repos/repo/permissions/users?name=bob&permission=REPO_WRITE", 'REPO_ADMIN', 'PROJ/repo'],
    ['PUT', "$A/projects/PROJ/repos/repo/settings/pull-requests", 'REPO_ADMIN', 'PROJ/repo'],
    ['POST', "$A/projects/PROJ/repos/repo/webhooks", 'REPO_ADMIN', 'PROJ/repo'],
    ['PUT', "$A/projects/PROJ/repos/repo", 'REPO_ADMIN', 'PROJ/repo'],
    ['DELETE', "$A/projects/PROJ/repos/repo", 'REPO_ADMIN', 'PROJ/repo'],
    ['POST', "$A/projects/PROJ/repos", 'REPO_CREATE', 'PROJ'],
    ['POST', "$A/projects/PROJ/repos/repo", 'REPO_READ', 'PROJ/repo', 'PROJECT_ADMIN'],
    ['PUT', "$A/projects/PROJ", 'PROJECT_ADMIN', 'PROJ'],
    ['DELETE', "$A/projects/PROJ", 'PROJECT_ADMIN', 'PROJ'],
    ['GET', "$A/projects/PROJ/permissions/users", 'PROJECT_ADMIN', 'PROJ'],
    ['PUT', "$A/projects/PROJ/permissions/groups?name=dev&permission=PROJECT_WRITE", 'PROJECT_ADMIN', 'PROJ'],
    ['PUT', "$A/projects/PROJ/settings/pull-requests/git", 'PROJECT_ADMIN', 'PROJ'],
    ['PUT', "$A/projects/PROJ/repos/repo/default-branch", 'REPO_ADMIN', 'PROJ/repo'],
    ['GET', "$A/projects/PROJ/repos/repo/default-branch", 'REPO_READ', 'PROJ/repo'],
    # Retrying a failed creation is PROJECT_ADMIN in Bitbucket, on the
    # project: a repository admin's token is refused it.
    ['POST', "$A/projects/PROJ/repos/repo/recreate", 'PROJECT_ADMIN', 'PROJ'],
    # Revoking all of a user's or a group's grants on a repository at once
    # is PROJECT_ADMIN in Bitbucket's documentation (one at a time,
    # REPO_ADMIN, above).
    ['DELETE', "$A/projects/PROJ/repos/repo/permissions?user=bob", 'PROJECT_ADMIN', 'PROJ'],
    ['DELETE', "/rest/api/1.0/projects/~alice/repos/mine/permissions?group=dev", 'PROJECT_ADMIN', '~alice'],
    # Deleting an attachment or its metadata is REPO_ADMIN in Bitbucket;
    # reading them is a read, storing metadata a write here.
    ['DELETE', "$A/projects/PROJ/repos/repo/attachments/17", 'REPO_ADMIN', 'PROJ/repo'],
    ['DELETE', "/rest/api/1.0/projects/PROJ/repos/repo/attachments/17/metadata", 'REPO_ADMIN', 'PROJ/repo'],
    ['DELETE', "$A/projects/~alice/repos/mine/attachments/17", 'REPO_ADMIN', '~alice/mine'],
    ['GET', "$A/projects/PROJ/repos/repo/attachments/17", 'REPO_READ', 'PROJ/repo'],
    ['PUT', "$A/projects/PROJ/repos/repo/attachments/17/metadata", 'REPO_WRITE', 'PROJ/repo'],
    # Hook scripts and the ref change log: REPO_ADMIN in Bitbucket to
    # configure and to read; a project's hook scripts PROJECT_ADMIN.
    ['PUT', "$A/projects/PROJ/repos/repo/hook-scripts/3", 'REPO_ADMIN', 'PROJ/repo'],
    ['DELETE', "/rest/api/1.0/projects/PROJ/repos/repo/hook-scripts/3", 'REPO_ADMIN', 'PROJ/repo'],
    ['GET', "$A/projects/PROJ/repos/repo/hook-scripts", 'REPO_ADMIN', 'PROJ/repo'],
    ['GET', "$A/projects/PROJ/repos/repo/ref-change-activities?ref=refs/heads/main", 'REPO_ADMIN', 'PROJ/repo'],
    ['GET', "$A/projects/PROJ/repos/repo/ref-change-activities/branches", 'REPO_ADMIN', 'PROJ/repo'],
    ['GET', "$A/projects/PROJ/hook-scripts", 'PROJECT_ADMIN', 'PROJ'],
    ['POST', "$A/projects/PROJ/repos/repo/labels", 'REPO_ADMIN', 'PROJ/repo'],
    # Secret scanning's rules, allowlist and exemption are configured by
    # repository administrators in Bitbucket: a writer's token must not
    # turn the scanner off for its repository.
    ['POST', "$A/projects/PROJ/repos/repo/secret-scanning/allowlist", 'REPO_ADMIN', 'PROJ/repo'],
    ['PUT', "$A/projects/PROJ/repos/repo/secret-scanning/rules/1", 'REPO_ADMIN', 'PROJ/repo'],
    ['PUT', "/rest/api/1.0/projects/PROJ/repos/repo/secret-scanning/exempt", 'REPO_ADMIN', 'PROJ/repo'],
    ['DELETE', "$A/projects/PROJ/repos/repo/secret-scanning/allowlist/1", 'REPO_ADMIN', 'PROJ/repo'],
    # Read by administrators alone too, as Bitbucket keeps them.
    ['GET', "$A/projects/PROJ/repos/repo/secret-scanning/rules", 'REPO_ADMIN', 'PROJ/repo'],
    ['GET', "/rest/api/1.0/projects/PROJ/repos/repo/secret-scanning/allowlist/7", 'REPO_ADMIN', 'PROJ/repo'],
    ['GET', "$A/projects/PROJ/secret-scanning/rules", 'PROJECT_ADMIN', 'PROJ'],
    ['GET', "$A/projects/PROJ/secret-scanning/allowlist/3", 'PROJECT_ADMIN', 'PROJ'],
    ['POST', "$A/projects/PROJ/secret-scanning/rules", 'PROJECT_ADMIN', 'PROJ'],
    # A commit's build status and deployment: deleting them is REPO_ADMIN
    # in Bitbucket, not the REPO_WRITE of other changes in a repository.
    ['DELETE', "$A/projects/PROJ/repos/repo/commits/$C/builds?key=ci", 'REPO_ADMIN', 'PROJ/repo'],
    ['DELETE', "/rest/api/1.0/projects/PROJ/repos/repo/commits/$C/deployments?key=d", 'REPO_ADMIN', 'PROJ/repo'],
    # Bitbucket's other REST plugins, on the repository or project in
    # their path.
    ['POST', "/rest/branch-utils/1.0/projects/PROJ/repos/repo/branches", 'REPO_WRITE', 'PROJ/repo'],
    ['DELETE', "/rest/branch-utils/latest/projects/PROJ/repos/repo/branches", 'REPO_WRITE', 'PROJ/repo'],
    ['POST', "/rest/branch-utils/latest/projects/~alice/repos/mine/branches/", 'REPO_WRITE', '~alice/mine'],
    ['GET', "/rest/branch-utils/latest/projects/PROJ/repos/repo/branches/info/$C", 'REPO_READ', 'PROJ/repo'],
    ['POST', "/rest/git/1.0/projects/PROJ/repos/repo/tags", 'REPO_WRITE', 'PROJ/repo'],
    ['DELETE', "/rest/git/latest/projects/proj/repos/repo/tags/release/1.0", 'REPO_WRITE', 'PROJ/repo'],
    ['GET', "$I/reports", 'REPO_READ', 'PROJ/repo'],
    ['GET', "$I/reports/com.example.lint/annotations", 'REPO_READ', 'PROJ/repo'],
    ['GET', "$I/annotations?severity=HIGH", 'REPO_READ', 'PROJ/repo'],
    ['PUT', "$I/reports/com.example.lint", 'REPO_WRITE', 'PROJ/repo'],
    ['POST', "$I/reports/com.example.lint/annotations", 'REPO_WRITE', 'PROJ/repo'],
    ['PUT', "$I/reports/com.example.lint/annotations/e1", 'REPO_WRITE', 'PROJ/repo'],
    # REPO_READ for the report's author in Bitbucket, REPO_ADMIN for
    # anyone else: the route cannot tell which.
    ['DELETE', "$I/reports/com.example.lint", 'REPO_ADMIN', 'PROJ/repo'],
    ['DELETE', "$I/reports/com.example.lint/annotations?externalId=e1", 'REPO_ADMIN', 'PROJ/repo'],
    ['GET', "/rest/default-reviewers/1.0/projects/PROJ/repos/repo/conditions", 'REPO_ADMIN', 'PROJ/repo'],
    ['POST', "/rest/default-reviewers/1.0/projects/PROJ/repos/repo/condition", 'REPO_ADMIN', 'PROJ/repo'],
    ['DELETE', "/rest/default-reviewers/latest/projects/PROJ/repos/repo/condition/3", 'REPO_ADMIN', 'PROJ/repo'],
    ['GET', "/rest/default-reviewers/1.0/projects/PROJ/conditions", 'PROJECT_ADMIN', 'PROJ'],
    ['PUT', "/rest/default-reviewers/1.0/projects/PROJ/condition/3", 'PROJECT_ADMIN', 'PROJ'],
    # Asked for by whoever opens a pull request; the repositories by id
    # are the backend's to decide for a personal token's owner.
    ['GET', "/rest/default-reviewers/1.0/projects/PROJ/repos/repo/reviewers?sourceRepoId=1&targetRepoId=2",
     'REPO_WRITE', 'PROJ/repo'],
    # Access keys are credentials: reading them is admin too.
    ['GET', "/rest/keys/1.0/projects/PROJ/repos/repo/ssh", 'REPO_ADMIN', 'PROJ/repo'],
    ['POST', "/rest/keys/latest/projects/PROJ/repos/repo/ssh", 'REPO_ADMIN', 'PROJ/repo'],
    ['DELETE', "/rest/keys/1.0/projects/PROJ/repos/repo/ssh/5", 'REPO_ADMIN', 'PROJ/repo'],
    ['GET', "/rest/keys/1.0/projects/PROJ/ssh", 'PROJECT_ADMIN', 'PROJ'],
    ['GET', "/rest/keys/1.0/projects/PROJ/ssh/5", 'PROJECT_ADMIN', 'PROJ'],
    ['PUT', "/rest/keys/1.0/projects/PROJ/ssh/5/permission/PROJECT_READ", 'PROJECT_ADMIN', 'PROJ'],
    # Branch restrictions are a repository's or a project's permissions:
    # admin in Bitbucket, to list and read them too; 2.0 or latest.
    ['POST', "$BP/2.0/projects/PROJ/repos/repo/restrictions", 'REPO_ADMIN', 'PROJ/repo'],
    ['GET', "$BP/2.0/projects/PROJ/repos/repo/restrictions", 'REPO_ADMIN', 'PROJ/repo'],
    ['DELETE', "$BP/latest/projects/PROJ/repos/repo/restrictions/1", 'REPO_ADMIN', 'PROJ/repo'],
    ['POST', "$BP/latest/projects/PROJ/restrictions", 'PROJECT_ADMIN', 'PROJ'],
    ['GET', "$BP/2.0/projects/PROJ/restrictions/1", 'PROJECT_ADMIN', 'PROJ'],
    ['DELETE', "$BP/2.0/projects/PROJ/restrictions/1", 'PROJECT_ADMIN', 'PROJ'],
    # The branch model is a read; its configuration a setting.
    ['GET', "/rest/branch-utils/latest/projects/PROJ/repos/repo/branchmodel", 'REPO_READ', 'PROJ/repo'],
    ['PUT', "/rest/branch-utils/latest/projects/PROJ/repos/repo/branchmodel/configuration", 'REPO_ADMIN',
     'PROJ/repo'],
    ['GET', "/rest/branch-utils/1.0/projects/PROJ/repos/repo/branchmodel/configuration", 'REPO_ADMIN',
     'PROJ/repo'],
    ['DELETE', "/rest/branch-utils/latest/projects/PROJ/branchmodel/configuration", 'PROJECT_ADMIN', 'PROJ'],
    ['PUT', "/rest/branch-utils/latest/projects/PROJ/branchmodel/configuration", 'PROJECT_ADMIN', 'PROJ'],
    # Required builds merge checks: read with REPO_READ, set with
    # REPO_ADMIN.
    ['GET', "/rest/required-builds/latest/projects/PROJ/repos/repo/conditions", 'REPO_READ', 'PROJ/repo'],
    ['POST', "/rest/required-builds/latest/projects/PROJ/repos/repo/condition", 'REPO_ADMIN', 'PROJ/repo'],
    ['PUT', "/rest/required-builds/1.0/projects/PROJ/repos/repo/condition/1", 'REPO_ADMIN', 'PROJ/repo'],
    ['DELETE', "/rest/required-builds/latest/projects/PROJ/repos/repo/condition/1", 'REPO_ADMIN', 'PROJ/repo'],
    # Default tasks: a repository's or a project's setting.
    ['GET', "/rest/default-tasks/latest/projects/PROJ/repos/repo/tasks", 'REPO_READ', 'PROJ/repo'],
    ['POST', "/rest/default-tasks/latest/projects/PROJ/repos/repo/tasks", 'REPO_ADMIN', 'PROJ/repo'],
    ['GET', "/rest/default-tasks/latest/projects/PROJ/tasks", 'PROJECT_READ', 'PROJ'],
    ['PUT', "/rest/default-tasks/latest/projects/PROJ/tasks/1", 'PROJECT_ADMIN', 'PROJ'],
    # Liking or reacting to a comment is a pull request action here.
    ['GET', "$CL/pull-requests/1/comments/2/likes", 'REPO_READ', 'PROJ/repo'],
    ['POST', "$CL/pull-requests/1/comments/2/likes", 'REPO_WRITE', 'PROJ/repo'],
    ['DELETE', "$CL/commits/$C/comments/2/likes", 'REPO_WRITE', 'PROJ/repo'],
    ['PUT', "$CL/pull-requests/1/comments/2/reactions/thumbsup", 'REPO_WRITE', 'PROJ/repo'],
    # Jira: a pull request's issue keys, a project's primary link.
    ['GET', "/rest/jira/latest/projects/PROJ/repos/repo/pull-requests/1/issues", 'REPO_READ', 'PROJ/repo'],
    ['GET', "/rest/jira/1.0/projects/PROJ/primary-enhanced-entitylink", 'PROJECT_READ', 'PROJ'],
    # A fork's synchronization status is a read.
    ['GET', "/rest/sync/latest/projects/PROJ/repos/repo", 'REPO_READ', 'PROJ/repo'],
    # A project's avatar, settings restrictions and the list of its
    # repositories exempt from secret scanning: its administrators'.
    ['POST', "$A/projects/PROJ/avatar.png", 'PROJECT_ADMIN', 'PROJ'],
    ['POST', "$A/projects/PROJ/settings-restriction", 'PROJECT_ADMIN', 'PROJ'],
    ['DELETE', "/rest/api/1.0/projects/PROJ/settings-restriction?namespace=n&featureKey=f", 'PROJECT_ADMIN',
     'PROJ'],
    ['GET', "$A/projects/PROJ/secret-scanning/exempt", 'PROJECT_ADMIN', 'PROJ'],
);
my @denied = (
    ['PUT', '/rest/access-tokens/1.0/users/alice'],
    ['GET', '/rest/access-tokens/1.0/users/alice'],
    ['POST', '/rest/access-tokens/latest/users/alice/123456789012'],
    ['DELETE', '/rest/access-tokens/1.0/users/alice/123456789012'],
    ['PUT', "$A/users/alice"],
    ['PUT', "$A/users/credentials"],
    # Account details (the seed: no changes on the user's behalf): keys
    # that would log in as the user, the user's settings and avatar.
    ['POST', '/rest/ssh/1.0/keys'],
    ['POST', '/rest/ssh/latest/keys?user=alice'],
    ['POST', '/rest/gpg/1.0/keys'],
    ['PUT', "$A/users/alice/settings"],
    ['POST', "$A/users/alice/avatar.png"],
    ['PUT', "$A/users"],
    ['GET', "$A/admin/users"],
    ['POST', "$A/projects"],
    ['PUT', "$A/repos"],
    ['GET', "$A/projects/PROJ/repos/bad%20slug/commits"],
    ['GET', "$A/projects/PROJ/repos/repo;x/commits"],
    ['GET', "$A/projects/PROJ/repos/repo/pull-requests/..;/..;/..;/..;/SECRET/repos/sec/permissions"],
    ['GET', "$A/projects/PROJ/repos/repo/browse;jsessionid=x/README.md"],
    # A newline (%0A) anywhere must not take a ';' past its deny.
    ['GET', "$A/projects/PROJ/%0A/..;/..;/SECRET/repos/sec/permissions"],
    ['GET', "$A/projects/PROJ/x%0A;/..;/..;/SECRET/repos/sec"],
    ['GET', "$A/projects/PR-OJ/repos/repo"],
    ['GET', '/rest/api/2.0/projects/PROJ'],
    ['PATCH', "$A/projects/PROJ/repos/repo"],
    ['GET', '/rest/branch-utils/latest/projects/PROJ/repos/repo/branches'],
    # The legacy build-status API names a commit and no repository: no
    # route can decide it (the repository's own is under /rest/api).
    ['POST', "/rest/build-status/1.0/commits/$C"],
    ['GET', "/rest/build-status/latest/commits/$C"],
    ['DELETE', "/rest/build-status/latest/commits/$C"],
    ['GET', "/rest/build-status/latest/commits/stats/$C"],
    # A key by its id alone; a rebase, which writes to the pull
    # request's source repository.
    ['DELETE', '/rest/keys/latest/ssh/5'],
    ['GET', '/rest/keys/1.0/ssh/5/projects'],
    ['POST', '/rest/git/latest/projects/PROJ/repos/repo/pull-requests/1/rebase'],
    # Applying a suggestion commits to the source branch too.
    ['POST', "$A/projects/PROJ/repos/repo/pull-requests/1/comments/2/apply-suggestion"],
    ['POST', "$A/projects/PROJ/repos/repo/pull-requests/1/comments/2/apply-suggestion.json"],
    ['POST', "$A/projects/PROJ/repos/repo/pull-requests/1/comments/2/apply-suggestion/"],
    ['POST', "$A/projects/proj/repos/repo/pull-requests/1/comments/2/apply-suggestion.JSON"],
    # Methods a route does not list: OPTIONS as everywhere in the set.
    ['OPTIONS', '/rest/branch-utils/latest/projects/PROJ/repos/repo/branches'],
    ['OPTIONS', "$I/reports/com.example.lint"],
    ['GET', "/rest/git/latest/projects/PROJ/repos/repo/tags"],
    ['POST', "$I/reports/com.example.lint"],
    # A project's hook scripts are configured by no token.
    ['PUT', "$A/projects/PROJ/hook-scripts/3"],
    ['DELETE', "$A/projects/PROJ/hook-scripts/3"],
    # Branch restrictions' older API; a personal project's avatar, its
    # owner's own.
    ['POST', "$BP/1.0/projects/PROJ/repos/repo/restrictions"],
    ['POST', "$A/projects/~alice/avatar.png"],
    # A fork's synchronization takes in its origin, another repository.
    ['POST', '/rest/sync/latest/projects/PROJ/repos/repo'],
    ['POST', '/rest/sync/latest/projects/PROJ/repos/repo/synchronize'],
    # A comment by its id alone; an issue key's commits everywhere.
    ['POST', '/rest/jira/latest/comments/2/issues'],
    ['GET', '/rest/jira/1.0/issues/ABC-1/commits'],
    # Exempting a project's repositories from secret scanning in bulk:
    # its body, a JSON array, names repositories of any project.
    ['POST', "$A/projects/PROJ/secret-scanning/exempt"],
    ['POST', "/rest/api/1.0/projects/PROJ/secret-scanning/exempt/"],
    ['PUT', "$A/projects/PROJ/secret-scanning/exempt"],
    ['DELETE', "$A/projects/PROJ/secret-scanning/exempt"],
);

# (response, what the CGI was given) for METHOD PATH with this token.
sub call {
    my ($m, $path, $tok) = @_;
    my $body = $m =~ /^(POST|PUT)$/;
    return $env->cgi_call($m, $path, auth_bearer($tok, $body ? { 'Content-Type' => 'application/json' } : {}),
                          $body ? '{}' : undef);
}

for my $row (@table) {
    my ($m, $path, $perm, $target, $tmin) = @$row;
    my ($res, $v) = call($m, $path, $tok{full});
    is_ok_res($res, "$m $path: a full token of a project admin passes");
    is($v->{BBTOKEN_PERMISSION}, $perm, "  the route needs $perm");
    is($v->{BBTOKEN_TARGET}, $target, "  on $target");
    like($v->{BBTOKEN_ROUTE} // '', qr{^routes/bitbucket-rest\.conf:\d+$}, "  route $v->{BBTOKEN_ROUTE}");
    # REPO_CREATE is a project's grant; a token reaches it with
    # PROJECT_ADMIN alone.
    my ($scope, $lvl) = $perm eq 'REPO_CREATE' ? ('PROJECT', 'ADMIN') : $perm =~ /^(PROJECT|REPO)_(\w+)$/;
    for my $t (qw(read write radmin pwrite pwadm)) {
        my $have = $holds{$t}[$scope eq 'PROJECT' ? 0 : 1] >= $level{$lvl};
        if ($tmin) {
            my ($ts, $tl) = $tmin =~ /^(PROJECT|REPO)_(\w+)$/;
            $have &&= $holds{$t}[$ts eq 'PROJECT' ? 0 : 1] >= $level{$tl};
        }
        my ($r2, $v2) = call($m, $path, $tok{$t});
        if ($have) { is_ok_res($r2, "  the $t token passes") }
        else {
            is_403($r2, "  the $t token");
            ok(!defined $v2->{BBTOKEN_TARGET}, '    the backend never saw it');
        }
    }
}
for my $row (@denied) {
    my ($m, $path) = @$row;
    my ($res, $v) = call($m, $path, $tok{full});
    is_403($res, "$m $path: refused to the full token");
    ok(!defined $v->{BBTOKEN_TARGET}, '  the backend never saw it');
    is_403((call($m, $path, $root_tok))[0], "  and to a global admin's token");
}
# The lists of projects and repositories are SITE_READ: every personal
# token's, whatever it holds (t/45-rest-site-read has the rest).
for my $p ("$A/projects", "$A/repos?name=repo") {
    for my $t (sort keys %tok) {
        my ($res, $v) = call('GET', $p, $tok{$t});
        is_ok_res($res, "GET $p: the $t token") or next;
        is($v->{BBTOKEN_PERMISSION}, 'SITE_READ', '  SITE_READ');
        ok(!defined $v->{BBTOKEN_TARGET}, '  on no target');
    }
}
# Another project: alice has no grant there.
is_403((call('GET', "$A/projects/OTHER/repos/x", $tok{full}))[0], "a project alice has no grant on");

# The seed's `curl -u username:token`: Basic with the owner's name is the
# same credential as Bearer, bounded the same way; another user's name with
# it is no login at all.
$env->user_add('bob');
$env->grant('bob', 'PROJECT_ADMIN', 'PROJ');
my ($res, $v) = $env->cgi_call('GET', "$A/projects/PROJ/repos/repo/commits?limit=5", auth_basic('alice', $tok{read}));
is_ok_res($res, 'Basic alice:<REPO_READ token> (curl -u): a read passes');
is($v->{BBTOKEN_PERMISSION}, 'REPO_READ', '  as REPO_READ');
is_403(($env->cgi_call('POST', "$A/projects/PROJ/repos/repo/pull-requests/1/merge", auth_basic('alice', $tok{read}),
                       '{}'))[0], '  a pull-request action needs REPO_WRITE: the read token is refused');
is_ok_res(($env->cgi_call('POST', "$A/projects/PROJ/repos/repo/pull-requests/1/merge",
                          auth_basic('alice', $tok{write}), '{}'))[0], '  the write token merges');
is_401(($env->cgi_call('GET', "$A/projects/PROJ/repos/repo/commits", auth_basic('bob', $tok{full})))[0], 1,
       "Basic bob:<alice's token>, bob a project admin too");

done_testing;
