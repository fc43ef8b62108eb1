# A project's and a repository's token against the bitbucket-rest routes,
# as a holder who wants more than the token's project or repository: other
# projects and repositories by URL spellings, the project itself from a
# repository's token, project-level and global routes, the access-tokens
# API; the identity the backend is given.  A stand-in CGI echoes what it
# was let through with, so "refused" also means the backend never saw it.
# Then the life cycle an administrator relies on when a project goes away:
# `revoke --project` is the project's own tokens only, and the inventory's
# --kind repository --revoke takes its repositories'.  Last, what the
# routes do not decide (TODO): a second repository named only in the
# query (compare's fromRepo=) or in a pull request's body (fromRef).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer auth_basic parse_token);
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

subtest 'when a project goes: revoke --project is its own tokens; the inventory takes its repositories\'' => sub {
    my ($other) = scope_token('--repo', 'PROJ/other', 'other', 'REPO_READ');
    $env->cli_ok('revoke', '--project', 'PROJ');
    is($env->token_row($pid)->{revoked_at} ne '', 1, 'the project\'s token is revoked');
    is($env->token_row($rid)->{revoked_at}, '', 'its repository\'s token is not (README: one holder\'s)');
    my $out = $env->cli_ok('list', '--all', '--project', 'PROJ', '--kind', 'repository', '--revoke');
    like($out, qr/revoked 2 tokens/, 'list --all --project PROJ --kind repository --revoke: both repositories\'')
        or diag $out;
    isnt($env->token_row($rid)->{revoked_at}, '', 'PROJ/repo\'s token is revoked now');
    is($env->get("$A/projects/PROJ/repos/repo/browse", auth_bearer($rtok))->{status}, 401,
       'and refused at once');
};

# Not decided by the routes: a second repository the request names outside
# its path.  Bitbucket's compare endpoints take fromRepo=KEY/slug, and a
# pull request's fromRef may be in a fork; the module lets a repository
# token of PROJ/repo through on PROJ/repo alone.  For a personal token the
# backend's rules for REMOTE_USER (the owner) decide the other repository;
# for a project's or a repository's token only the backend can hold
# REMOTE_USER project:KEY / repo:KEY/slug to its scope (README: Routes).
TODO: {
    local $TODO = 'a second repository named in the query or the body is the backend\'s to decide';
    my ($rt2) = scope_token('--repo', 'PROJ/repo', 'repo reader', 'REPO_READ');
    $tok{repo} = $rt2;
    refused(GET => repo => "$A/projects/PROJ/repos/repo/compare/diff?from=a&to=b&fromRepo=OTHER/secret",
            'compare with fromRepo=OTHER/secret');
}

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;

done_testing;
