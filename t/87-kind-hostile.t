# A project's and a repository's token against the bitbucket-rest routes,
# as a holder who wants more than the token's project or repository: other
# projects and repositories by URL spellings, the project itself from a
# repository's token, project-level and global routes, the access-tokens
# API; the identity the backend is given; a second repository named only
# in the query (compare's fromRepo=, in every spelling the backend would
# decode) or in a pull request's body (fromRef, toRef), which a personal
# token may name (the backend decides it for the owner) and a project's or
# a repository's token only inside its scope, and never with an id beside
# the slug or key (nor the project a fork or a move names).  A stand-in
# CGI echoes what it was let through with, so "refused" also means the
# backend never saw it.  Then the life cycle an administrator relies on
# when a project goes away: `revoke --project` is the project's own tokens
# only, and the inventory's --kind repository --revoke takes its
# repositories'.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer auth_basic parse_token);
use BBT::Assert;
use BBT::Cache qw(until_status);

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

# (token, id)
sub scope_token {
    my ($opt, $what, $name, @perms) = @_;
    my $tok = $env->scoped_token_create($opt, $what, name => $name, perms => \@perms);
    return ($tok, parse_token($tok)->{id});
}

my ($ptok, $pid) = scope_token('--project', 'PROJ', 'proj admin', 'PROJECT_ADMIN');
my ($rtok, $rid) = scope_token('--repo', 'PROJ/repo', 'repo admin', 'REPO_ADMIN');
my %tok = (project => $ptok, repo => $rtok);
my $A = '/rest/api/latest';

sub call {
    my ($m, $who, $path, $body) = @_;
    my $h = auth_bearer($tok{$who});
    $h->{'Content-Type'} = 'application/json' if defined $body;
    return $env->cgi_call($m, $path, $h, $body);
}

sub allowed {
    my ($m, $who, $path, $target, $name) = @_;
    my ($res, $v) = call($m, $who, $path);
    is_ok_res($res, "$who token, $m $path: allowed ($name)") or return;
    is($v->{BBTOKEN_TARGET}, $target, "  decided on $target");
    is($v->{REMOTE_USER}, $who eq 'project' ? 'project:PROJ' : 'repo:PROJ/repo', '  REMOTE_USER names the token');
}

sub refused {
    my ($m, $who, $path, $name, $body) = @_;
    my ($res, $v) = call($m, $who, $path, $body);
    ok($res->{status} =~ /\A(400|401|403|404)\z/,
       "$who token, $m $path: refused ($name)") or diag res_summary($res);
    ok(!defined $v->{BBTOKEN_TARGET}, '  the backend never saw it');
}

# A request on PROJ/repo naming a second repository or project: refused
# for the token's scope, or let through decided on PROJ/repo.
sub out_of_scope {
    my ($m, $who, $path, $name, $body) = @_;
    my ($res, $v) = call($m, $who, $path, $body);
    is_403($res, "$who token, $m $path: refused ($name)");
    ok(!defined $v->{BBTOKEN_TARGET}, '  the backend never saw it');
}

sub in_scope {
    my ($m, $who, $path, $name, $body) = @_;
    my ($res, $v) = call($m, $who, $path, $body);
    is_ok_res($res, "$who token, $m $path: allowed ($name)") or return;
    is($v->{BBTOKEN_TARGET}, 'PROJ/repo', '  decided on PROJ/repo');
}

subtest 'a project token: its project, nothing else' => sub {
    allowed(GET => project => "$A/projects/PROJ", 'PROJ', 'its project');
    allowed(GET => project => "$A/projects/proj/repos/repo/browse", 'PROJ/repo', 'the key in lower case');
    allowed(GET => project => "$A/projects/PROJ/repos/x/../repo/browse", 'PROJ/repo', 'dot segments resolved');
    allowed(PUT => project => "$A/projects/PROJ", 'PROJ', 'PROJECT_ADMIN: update the project');
    refused(GET => project => "$A/projects/OTHER", 'another project');
    refused(GET => project => "$A/projects/%4FTHER/repos/x/browse", 'another project, %-encoded');
    refused(GET => project => "$A/projects/PROJ/repos/../../OTHER/repos/x/browse", 'another project by ../');
    refused(GET => project => "$A/projects/PROJ/repos/repo/%2E%2E/%2E%2E/%2E%2E/OTHER/repos/x", '%2E%2E segments');
    refused(GET => project => "$A/projects/~alice/repos/x/browse", 'a personal repository');
    refused(POST => project => "$A/projects/OTHER/repos", 'create a repository in another project', '{}');
    refused(GET => project => "$A/projects", 'the list of all projects');
    refused(GET => project => "$A/repos?projectname=PROJ", 'the global repository search');
    refused(GET => project => "$A/users/alice", 'a user');
    refused(GET => project => "$A/admin/groups", 'admin');
    refused(PUT => project => '/rest/access-tokens/1.0/projects/PROJ', 'the access-tokens API',
            '{"name":"more","permissions":["PROJECT_ADMIN"]}');
    refused(GET => project => "$A/projects/PROJ;x=1/repos/repo", 'a path parameter');
};

subtest 'a repository token: its repository, never its project' => sub {
    allowed(GET => repo => "$A/projects/PROJ/repos/repo/browse", 'PROJ/repo', 'its repository');
    allowed(GET => repo => "$A/projects/proj/repos/repo", 'PROJ/repo', 'the key in lower case');
    allowed(PUT => repo => "$A/projects/PROJ/repos/repo/permissions/users", 'PROJ/repo',
            'REPO_ADMIN: its repository\'s permissions');
    refused(GET => repo => "$A/projects/PROJ", 'its project (a project read)');
    refused(GET => repo => "$A/projects/PROJ/repos", 'its project\'s list of repositories');
    refused(GET => repo => "$A/projects/PROJ/settings/hooks", 'its project\'s settings');
    refused(PUT => repo => "$A/projects/PROJ/permissions/users", 'its project\'s permissions');
    refused(POST => repo => "$A/projects/PROJ/repos", 'create a repository in its project', '{}');
    refused(GET => repo => "$A/projects/PROJ/repos/other/browse", 'another repository of its project');
    refused(GET => repo => "$A/projects/PROJ/repos/REPO/browse", 'the slug in another case');
    refused(GET => repo => "$A/projects/PROJ/repos/repo.git/browse", 'the slug with .git');
    refused(GET => repo => "$A/projects/PROJ/repos/r%65po2/browse", 'another slug, %-encoded');
    refused(GET => repo => "$A/projects/PROJ/repos/repo/../other/browse", 'another repository by ../');
    refused(POST => repo => "$A/projects/PROJ/repos/repo", 'a fork into its own project (PROJECT_ADMIN)',
            '{"project":{"key":"PROJ"}}');
    refused(PUT => repo => "$A/projects/PROJ/repos/repo", 'a move into another project',
            '{"project":{"key":"OTHER"}}');
};

subtest 'a second repository named outside the path: inside the scope, or refused' => sub {
    my ($rread, $rread_id) = scope_token('--repo', 'PROJ/repo', 'repo reader', 'REPO_READ');
    $tok{reader} = $rread;
    $tok{alice} = $env->token_create('alice', name => 'alice full');
    my $cmp = "$A/projects/PROJ/repos/repo/compare";
    my $prs = "$A/projects/PROJ/repos/repo/pull-requests";
    my $ref = sub { qq({"id":"refs/heads/x","repository":{"slug":"$_[1]","project":{"key":"$_[0]"}}}) };


    # compare's fromRepo=, for a repository's token.
    my $mark = log_mark($env->error_log_path);
    out_of_scope(GET => reader => "$cmp/diff?from=a&to=b&fromRepo=OTHER/secret", 'OTHER/secret');
    like(join('', log_lines_since($env->error_log_path, $mark)),
         qr/BBT820: token \Q$rread_id\E of repo:PROJ\/repo: GET \S+compare\/diff: the repository fromRepo names is not inside the token's repository PROJ\/repo: OTHER\/secret/,
         '  the log says which repository, with the token\'s id (BBT820)');
    out_of_scope(GET => reader => "$cmp/diff?fromRepo=OTHER%2Fsecret", 'the value %-encoded');
    out_of_scope(GET => reader => "$cmp/diff?fromRepo=%4FTHER/secret", 'the key %-encoded');
    out_of_scope(GET => reader => "$cmp/diff?from%52epo=OTHER/secret", 'the name %-encoded');
    out_of_scope(GET => reader => "$cmp/diff?fromRepo=PROJ/repo&fromRepo=OTHER/secret", 'repeated');
    out_of_scope(GET => reader => "$cmp/diff?from=a;fromRepo=OTHER/secret", 'after a ";"');
    out_of_scope(GET => reader => "$cmp/diff?fromRepo=PROJ/repo%00", 'its own with a %00');
    out_of_scope(GET => reader => "$cmp/diff?fromRepo=%zzPROJ/repo", 'a broken %-escape');
    out_of_scope(GET => reader => "$cmp/diff?fromRepo=PROJ/repo%2", 'an escape cut short');
    out_of_scope(GET => reader => "$cmp/diff?fr%zzom=a&fromRepo=PROJ/repo", 'a name with a broken %-escape');
    out_of_scope(GET => reader => "$cmp/diff?fromRepo=+PROJ/repo", 'a "+", which decodes to a space');
    out_of_scope(GET => reader => "$cmp/diff?fromRepo=PROJ/other", 'another repository of its project');
    $mark = log_mark($env->error_log_path);
    out_of_scope(GET => reader => "$cmp/diff?fromRepo=42", 'a repository id');
    like(join('', log_lines_since($env->error_log_path, $mark)),
         qr/BBT820: .* fromRepo names is not inside .*: a repository id, which the module cannot resolve/,
         '  the log says an id cannot be decided');
    out_of_scope(GET => reader => "$cmp/changes?fromRepo=OTHER/secret", 'compare/changes');
    out_of_scope(GET => reader => "$cmp/commits?fromRepo=OTHER/secret", 'compare/commits');
    in_scope(GET => reader => "$cmp/diff?from=a&to=b&fromRepo=PROJ/repo", 'its own repository');
    in_scope(GET => reader => "$cmp/diff?fromRepo=proj%2Frepo", 'its own, spelled otherwise');
    in_scope(GET => reader => "$cmp/diff?from=a&to=b", 'no fromRepo');
    in_scope(GET => reader => "$cmp/diff?to=%zz&FROMREPO=PROJ%2frepo", 'another parameter\'s value is not read');

    # A project's token: its project's repositories, nothing else.
    in_scope(GET => project => "$cmp/diff?fromRepo=PROJ/other", 'a repository of its project');
    out_of_scope(GET => project => "$cmp/diff?fromRepo=OTHER/secret", 'another project');
    out_of_scope(GET => project => "$cmp/commits?fromRepo=7", 'a repository id');

    # A personal token: the backend decides the other repository for the owner.
    my ($res, $v) = $env->cgi_call(GET => "$cmp/diff?fromRepo=OTHER/fork", auth_bearer($tok{alice}));
    is_ok_res($res, 'a personal token compares with a fork in another project');
    is($v->{REMOTE_USER}, 'alice', '  as its owner, for the backend to decide');
    ($res) = $env->cgi_call(GET => "$cmp/diff?fromRepo=42", auth_bearer($tok{alice}));
    is_ok_res($res, '  and by a repository id');

    # A pull request's fromRef and toRef, created or updated.
    my $own = '{"title":"t","fromRef":' . $ref->('PROJ', 'repo') . ',"toRef":' . $ref->('PROJ', 'repo') . '}';
    my $fork = '{"title":"t","fromRef":' . $ref->('OTHER', 'fork') . ',"toRef":' . $ref->('PROJ', 'repo') . '}';
    my $pfork = '{"title":"t","fromRef":' . $ref->('PROJ', 'fork') . ',"toRef":' . $ref->('PROJ', 'repo') . '}';
    in_scope(POST => repo => $prs, 'a pull request within its repository', $own);
    in_scope(PUT => repo => "$prs/1", 'an update naming no ref', '{"version":0,"title":"u"}');
    $mark = log_mark($env->error_log_path);
    out_of_scope(POST => repo => $prs, 'a pull request from a fork in another project', $fork);
    like(join('', log_lines_since($env->error_log_path, $mark)),
         qr/BBT820: token \Q$rid\E of repo:PROJ\/repo: POST \S+: the repository fromRef\.repository names is not inside the token's repository PROJ\/repo: OTHER\/fork/,
         '  the log says which (BBT820)');
    out_of_scope(POST => repo => $prs, 'from a fork in its own project', $pfork);
    out_of_scope(POST => repo => "$prs/", 'the same, with a trailing slash', $fork);
    # Atlassian's REST framework may serve pull-requests.json as
    # pull-requests: the same request, which the catch-all of a
    # repository's changes would have taken without the body's check.
    out_of_scope(POST => repo => "$prs.json", 'the same, as pull-requests.json', $fork);
    out_of_scope(DELETE => repo => "$A/projects/PROJ/repos/repo/permissions.json?user=bob",
                 'permissions.json: PROJECT_ADMIN\'s, not the catch-all\'s REPO_WRITE');
    out_of_scope(PUT => repo => "$prs/1", 'an update moving toRef to another project',
           '{"version":0,"toRef":' . $ref->('OTHER', 'x') . '}');
    out_of_scope(POST => repo => $prs, 'a ref whose repository is named by its id',
           '{"fromRef":{"id":"refs/heads/x","repository":{"id":7}}}');
    out_of_scope(POST => repo => $prs, 'a twin in another case',
           '{"fromRef":' . $ref->('PROJ', 'repo') . ',"FromRef":' . $ref->('OTHER', 'fork') . '}');
    ($res, $v) = call(POST => repo => $prs, 'fromRef=OTHER/fork');
    is_status($res, 400, 'a body that is no JSON object: 400');
    ok(!defined $v->{BBTOKEN_TARGET}, '  the backend never saw it');
    in_scope(POST => project => $prs, 'a project token: from a fork in its project', $pfork);
    out_of_scope(POST => project => $prs, 'a project token: from another project', $fork);

    # Secret scanning's bulk exemption names its repositories in a JSON
    # array, any project's: no route holds an array to the scope, so it
    # is refused even naming the project's own; one repository is
    # exempted on its own path.
    my $ex = "$A/projects/PROJ/secret-scanning/exempt";
    out_of_scope(POST => project => $ex, 'a bulk exemption naming another project\'s repository',
                 '[{"projectKey":"OTHER","slug":"secret"}]');
    out_of_scope(POST => project => $ex, 'a bulk exemption naming its own', '[{"projectKey":"PROJ","slug":"repo"}]');
    out_of_scope(POST => project => $ex, 'an object wrapping the array', '{"x":[{"projectKey":"OTHER","slug":"secret"}]}');
    out_of_scope(POST => project => "$ex/", 'with a trailing slash', '[{"projectKey":"OTHER","slug":"secret"}]');
    allowed(GET => project => $ex, 'PROJ', 'the list of its exempt repositories');
    in_scope(PUT => project => "$A/projects/PROJ/repos/repo/secret-scanning/exempt", 'one repository exempted');

    my $h = auth_bearer($tok{alice});
    $h->{'Content-Type'} = 'application/json';
    ($res, $v) = $env->cgi_call(POST => $prs, $h, $fork);
    is_ok_res($res, 'a personal token opens a pull request from a fork in another project');
    is($v->{REMOTE_USER}, 'alice', '  as its owner, for the backend to decide');
    ($res) = $env->cgi_call(POST => $prs, $h, 'not json');
    is_ok_res($res, '  its body is not read: the backend\'s to judge, as before');
    # Not one of the repository's tokens the next subtest counts.
    $env->cli_ok('revoke', $rread_id);
};

subtest 'a repository or project given with its id: refused to a scoped token' => sub {
    my $prs = "$A/projects/PROJ/repos/repo/pull-requests";
    my $repo = "$A/projects/PROJ/repos/repo";
    my $obj = sub { qq({"id":"refs/heads/x","repository":{$_[0]"slug":"repo","project":{$_[1]"key":"PROJ"}}}) };

    # A client that sends back a whole repository object from a GET.
    in_scope(POST => repo => $prs, 'its own repository, no id', '{"fromRef":' . $obj->('', '') . '}');
    my $mark = log_mark($env->error_log_path);
    out_of_scope(POST => repo => $prs, 'its own slug and key beside a repository id',
           '{"fromRef":' . $obj->('"id":7,', '') . '}');
    like(join('', log_lines_since($env->error_log_path, $mark)),
         qr/BBT820: token \Q$rid\E of repo:PROJ\/repo: POST \S+: the repository fromRef\.repository names is not inside the token's repository PROJ\/repo: a repository's id, which the module cannot resolve/,
         '  the log says an id cannot be resolved (BBT820)');
    out_of_scope(POST => repo => $prs, 'its own project key beside a project id',
           '{"toRef":' . $obj->('', '"id":3,') . '}');
    out_of_scope(POST => project => $prs, 'a project token: a repository id beside slug and key',
           '{"fromRef":' . $obj->('"id":7,', '') . '}');
    out_of_scope(PUT => project => "$prs/1", 'a project token: an id that is null',
           '{"toRef":' . $obj->('"ID":null,', '') . '}');

    # body-project=: the project a fork or a move names.
    in_scope(POST => project => $repo, 'a fork into its own project', '{"project":{"key":"PROJ"}}');
    in_scope(PUT => project => $repo, 'a rename in place', '{"name":"repo","project":{"key":"PROJ"}}');
    $mark = log_mark($env->error_log_path);
    out_of_scope(POST => project => $repo, 'a fork: its own key beside a project id',
           '{"project":{"key":"PROJ","id":9}}');
    like(join('', log_lines_since($env->error_log_path, $mark)),
         qr/BBT820: token \Q$pid\E of project:PROJ: POST \S+: the repository project names is not inside the token's project PROJ: a project's id, which the module cannot resolve/,
         '  the log says an id cannot be resolved (BBT820)');
    out_of_scope(PUT => project => $repo, 'a move: its own key beside a project id',
           '{"project":{"id":9,"key":"PROJ"}}');

    # A personal token: unchanged, the backend checks its owner.
    my $h = auth_bearer($tok{alice});
    $h->{'Content-Type'} = 'application/json';
    my ($res) = $env->cgi_call(POST => $prs, $h, '{"fromRef":' . $obj->('"id":7,', '"id":3,') . '}');
    is_ok_res($res, 'a personal token: ids beside slug and key, the backend\'s to judge');
    ($res) = $env->cgi_call(POST => $repo, $h, '{"project":{"key":"PROJ","id":9}}');
    is_ok_res($res, 'a personal token: a fork naming a project id too');
};

subtest 'Bitbucket\'s other REST plugins: the token\'s project or repository, nothing else' => sub {
    my $bu = '/rest/branch-utils/latest/projects';
    my $c = '0123456789abcdef0123456789abcdef01234567';
    allowed(POST => project => "$bu/PROJ/repos/repo/branches", 'PROJ/repo', 'branch-utils in its project');
    allowed(DELETE => project => "/rest/git/1.0/projects/proj/repos/other/tags/v1", 'PROJ/other',
            'a tag of another repository of its project');
    allowed(GET => project => '/rest/keys/1.0/projects/PROJ/ssh', 'PROJ', 'its project\'s access keys');
    allowed(PUT => project => '/rest/default-reviewers/1.0/projects/PROJ/condition/3', 'PROJ',
            'its project\'s default reviewers');
    refused(POST => project => "$bu/OTHER/repos/x/branches", 'branch-utils in another project');
    refused(POST => project => "$bu/%4FTHER/repos/x/branches", 'another project, %-encoded');
    refused(POST => project => "$bu/PROJ/repos/../../OTHER/repos/x/branches", 'another project by ../');
    refused(POST => project => "$bu/~alice/repos/x/branches", 'a personal repository');
    refused(GET => project => '/rest/keys/1.0/projects/OTHER/ssh', 'another project\'s access keys');
    refused(GET => project => '/rest/keys/1.0/ssh/5/projects', 'a key by its id alone');
    refused(GET => project => '/rest/default-reviewers/1.0/projects/OTHER/repos/x/conditions',
            'another project\'s repository\'s default reviewers');
    refused(PUT => project => "/rest/insights/latest/projects/OTHER/repos/x/commits/$c/reports/k",
            'a report on another project\'s repository');
    refused(DELETE => project => '/rest/git/latest/projects/PROJ/repos/repo/tags/x%2F..%2F..%2F..%2F..%2FOTHER/repos/x',
            'a tag name with %2F climbing out');

    my $ins = "/rest/insights/latest/projects/PROJ/repos/repo/commits/$c";
    allowed(PUT => repo => "$ins/reports/com.example.lint", 'PROJ/repo', 'a report on its repository');
    allowed(DELETE => repo => "$ins/reports/com.example.lint", 'PROJ/repo', 'REPO_ADMIN: delete a report');
    allowed(GET => repo => '/rest/keys/1.0/projects/PROJ/repos/repo/ssh', 'PROJ/repo',
            'REPO_ADMIN: its repository\'s access keys');
    allowed(POST => repo => '/rest/default-reviewers/1.0/projects/PROJ/repos/repo/condition', 'PROJ/repo',
            'REPO_ADMIN: its repository\'s default reviewers');
    refused(GET => repo => '/rest/keys/1.0/projects/PROJ/ssh', 'its project\'s access keys');
    refused(GET => repo => '/rest/default-reviewers/1.0/projects/PROJ/conditions', 'its project\'s default reviewers');
    refused(POST => repo => "$bu/PROJ/repos/other/branches", 'another repository of its project');
    refused(POST => repo => "$bu/PROJ/repos/REPO/branches", 'the slug in another case');
    refused(POST => repo => "/rest/git/latest/projects/PROJ/repos/repo.git/tags", 'the slug with .git');
    refused(GET => repo => "/rest/insights/latest/projects/PROJ/repos/repo/../other/commits/$c/reports",
            'another repository by ../');

    # default-reviewers' reviewers name two repositories in the query,
    # each held to the scope (query-repo=sourceRepoId,targetRepoId).
    my $rv = '/rest/default-reviewers/1.0/projects/PROJ/repos/repo/reviewers';
    my $mark = log_mark($env->error_log_path);
    out_of_scope(GET => repo => "$rv?sourceRepoId=7&targetRepoId=8", 'the repositories by id');
    like(join('', log_lines_since($env->error_log_path, $mark)),
         qr/BBT820: token \Q$rid\E of repo:PROJ\/repo: GET \S+reviewers: the repository sourceRepoId names is not inside the token's repository PROJ\/repo: a repository id/,
         '  the log says which parameter (BBT820)');
    out_of_scope(GET => project => "$rv?sourceRepoId=PROJ/other&targetRepoId=8", 'a project token: the target by id');
    out_of_scope(GET => repo => "$rv?sourceRepoId=PROJ/repo&targetRepoId=OTHER/x", 'the second one outside');
    out_of_scope(GET => repo => "$rv?sourceRepoId=PROJ/repo&TARGETREPOID=%4FTHER%2Fx", 'the second one, spelled otherwise');
    in_scope(GET => repo => "$rv?sourceRepoId=PROJ/repo&targetRepoId=proj/repo", 'both its own');
    in_scope(GET => project => "$rv?sourceRepoId=PROJ/other&targetRepoId=PROJ/repo", 'a project token: both in its project');

    # The legacy build-status API names no repository: refused to both,
    # as to every token.
    for my $who (qw(project repo)) {
        refused(POST => $who => "/rest/build-status/1.0/commits/$c", 'the legacy build status',
                '{"state":"SUCCESSFUL","key":"ci","url":"https://ci/1"}');
        refused(GET => $who => "/rest/build-status/latest/commits/$c", 'the legacy build status, read');
    }
};

subtest 'when a project goes: revoke --project is its own tokens; the inventory takes its repositories\'' => sub {
    my ($other) = scope_token('--repo', 'PROJ/other', 'other', 'REPO_READ');
    $env->cli_ok('revoke', '--project', 'PROJ');
    is($env->token_row($pid)->{revoked_at} ne '', 1, 'the project\'s token is revoked');
    is($env->token_row($rid)->{revoked_at}, '', 'its repository\'s token is not (README: one holder\'s)');
    my $out = $env->cli_ok('list', '--all', '--project', 'PROJ', '--kind', 'repository', '--revoke');
    like($out, qr/revoked 2 tokens/, 'list --all --project PROJ --kind repository --revoke: both repositories\'')
        or diag $out;
    isnt($env->token_row($rid)->{revoked_at}, '', 'PROJ/repo\'s token is revoked now');
    # The CLI's revocation reaches httpd's cache by its listener (LISTEN/
    # NOTIFY): within milliseconds, not before the next request can come.
    my ($ok, $tries, $seen) = until_status($env, "$A/projects/PROJ/repos/repo/browse", auth_bearer($rtok), 401);
    ok($ok, "and refused as soon as httpd hears of it ($tries tries: $seen)");
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;

done_testing;
