# The bitbucket-rest set's fork (POST .../repos/{s}) and move (PUT
# .../repos/{s} with {"project": {"key": ...}}) name the project they put a
# repository into only in the body: that project is decided too, as a
# second target (body-project=), in front of a stand-in CGI that echoes
# what it was let through with.  A project or repository token reaches no
# other project that way, a personal token needs PROJECT_ADMIN there of its
# own and from its owner (who may hold Create repository there for a fork:
# t/45-rest-repo-create.t), and a body that names its project in a way it
# cannot be decided by is refused with 400.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_basic auth_bearer parse_token);
use BBT::Assert;

my $extra = <<'EOC';
ScriptAlias /rest/ "@DIR@/cgi-bin/env.cgi/"
<Location /rest>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes bitbucket-rest
    Require bbtoken
</Location>
# The same for password users: their own grants decide.
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
my %pw = (alice => 'alice-Pa55-word', bob => 'bob-Pa55-word');
$env->htpasswd(%pw);
# alice administers PROJ and OTHER; bob administers PROJ and only writes in
# OTHER.
$env->user_add('alice');
$env->grant('alice', 'PROJECT_ADMIN', 'PROJ');
$env->grant('alice', 'PROJECT_ADMIN', 'OTHER');
$env->user_add('bob');
$env->grant('bob', 'PROJECT_ADMIN', 'PROJ');
$env->grant('bob', 'PROJECT_WRITE', 'OTHER');

sub scope_token {
    my ($opt, $what, @perms) = @_;
    my $out = $env->cli_ok('create', $opt, $what, '--name', "t $what @perms",
                           map { ('--perm', $_) } @perms);
    chomp $out;
    parse_token($out) or die "no token printed: $out";
    return $out;
}

my %tok = (
    alice_full   => scalar $env->token_create('alice', name => 'full'),
    alice_radmin => scalar $env->token_create('alice', name => 'ra', perms => ['REPO_ADMIN']),
    bob_full     => scalar $env->token_create('bob', name => 'full'),
    project      => scope_token('--project', 'PROJ', 'PROJECT_ADMIN'),
    repo         => scope_token('--repo', 'PROJ/repo', 'REPO_ADMIN'),
);

my $repo = '/rest/api/latest/projects/PROJ/repos/repo';
my $into_other = '{"name":"f","project":{"key":"OTHER"}}';

# (response, what the CGI was given) for METHOD with this token and body.
sub call {
    my ($m, $tok, $body, $path) = @_;
    my $h = auth_bearer($tok);
    $h->{'Content-Type'} = 'application/json';
    return $env->cgi_call($m, $path // $repo, $h, $body);
}

sub allowed {
    my ($m, $tok, $body, $name, $perm) = @_;
    my ($res, $v) = call($m, $tok{$tok}, $body);
    is_ok_res($res, "$name: allowed");
    is($v->{BBTOKEN_PERMISSION}, $perm, "  the route's own permission, $perm");
    is($v->{BBTOKEN_TARGET}, 'PROJ/repo', '  on the source repository');
}

sub refused {
    my ($m, $tok, $body, $name, $log) = @_;
    my $mark = log_mark($env->error_log_path);
    my ($res, $v) = call($m, $tok{$tok}, $body);
    is_403($res, "$name: refused");
    ok(!defined $v->{BBTOKEN_TARGET}, '  the backend never saw it');
    like(join('', log_lines_since($env->error_log_path, $mark)), $log, "  the log says why: $log") if $log;
}

# Forks.
allowed('POST', 'alice_full', $into_other,
        'a full token of an admin of both projects forks into OTHER', 'REPO_READ');
refused('POST', 'bob_full', $into_other,
        'a full token whose owner only writes in OTHER forks there',
        qr/BBT051: .* needs REPO_CREATE on OTHER .*the owner lacks it/);
refused('POST', 'project', $into_other,
        "PROJ's project token forks into OTHER",
        qr/BBT550: .* is on OTHER, outside the token's project PROJ/);
refused('POST', 'repo', $into_other, "PROJ/repo's repository token forks into OTHER");
allowed('POST', 'alice_full', '{"name":"f"}',
        'a personal token forks without a project (into ~alice)', 'REPO_READ');
refused('POST', 'project', '{"name":"f"}',
        'a project token forks without a project (it has no personal project)',
        qr/BBT550: .* is on a personal project, outside the token's project PROJ/);
refused('POST', 'repo', '{}', 'a repository token forks without a project');
allowed('POST', 'project', '{"project":{"key":"PROJ"}}',
        'a project token with PROJECT_ADMIN forks inside its project', 'REPO_READ');
refused('POST', 'alice_full', '{"project":{"key":"~bob"}}',
        "alice forks into bob's personal project");

# Moves and renames.
allowed('PUT', 'alice_full', '{"project":{"key":"OTHER"}}',
        'a full token of an admin of both projects moves into OTHER', 'REPO_ADMIN');
refused('PUT', 'alice_radmin', '{"project":{"key":"OTHER"}}',
        'a REPO_ADMIN token moves into OTHER, where its owner is PROJECT_ADMIN',
        qr/BBT051: .* needs PROJECT_ADMIN on OTHER .*the token lacks it/);
refused('PUT', 'bob_full', '{"project":{"key":"other"}}',
        'a full token whose owner only writes in OTHER moves there');
refused('PUT', 'project', '{"project":{"key":"OTHER"}}',
        "PROJ's project token moves into OTHER",
        qr/BBT550: .* is on OTHER, outside the token's project PROJ/);
refused('PUT', 'repo', '{"project":{"key":"OTHER"}}',
        "PROJ/repo's repository token moves into OTHER");
allowed('PUT', 'alice_radmin', '{"name":"renamed"}',
        'a REPO_ADMIN token renames (no project)', 'REPO_ADMIN');
allowed('PUT', 'repo', '{"name":"renamed"}',
        'a repository token with REPO_ADMIN renames', 'REPO_ADMIN');
allowed('PUT', 'alice_radmin', '{"name":"renamed","project":{"key":"proj"}}',
        'a REPO_ADMIN token names its own project', 'REPO_ADMIN');
allowed('PUT', 'project', '{"project":{"key":"PROJ"}}',
        'a project token names its own project', 'REPO_ADMIN');
# Its own key, and an "id" Bitbucket may take instead (OTHER's, say): the
# token's own level must reach PROJECT_ADMIN wherever the id leads; the
# backend checks its owner there.
refused('PUT', 'alice_radmin', '{"project":{"key":"PROJ","id":2}}',
        'a REPO_ADMIN token names its own project by key and another by id',
        qr/BBT051: .* needs PROJECT_ADMIN on the project its body gives by id .*the token lacks it/);
refused('PUT', 'alice_radmin', '{"project":{"key":"OTHER","id":null}}',
        'and by a key and a null id');
allowed('PUT', 'alice_full', '{"project":{"key":"PROJ","id":2}}',
        'a full token names its project by key and id', 'REPO_ADMIN');
allowed('DELETE', 'alice_radmin', undef, 'a REPO_ADMIN token deletes (no body read)',
        'REPO_ADMIN');

# Bodies that cannot be decided by: 400, before any decision, whoever asks.
my @bad = (
    ['project null', '{"project":null}'],
    ['project a string', '{"project":"OTHER"}'],
    ['project without key', '{"project":{"name":"x"}}'],
    ['key a number', '{"project":{"key":1}}'],
    ['key an array', '{"project":{"key":["OTHER"]}}'],
    ['key not a project key', '{"project":{"key":"OTH-ER"}}'],
    ['key empty', '{"project":{"key":""}}'],
    ['a twin of project', '{"project":{"key":"PROJ"},"Project":{"key":"OTHER"}}'],
    ['a twin of key', '{"project":{"key":"PROJ","KEY":"OTHER"}}'],
    ['a duplicate project', '{"project":{"key":"PROJ"},"project":{"key":"OTHER"}}'],
    ['a duplicate key', '{"project":{"key":"PROJ","key":"OTHER"}}'],
    ['not JSON', 'project=OTHER'],
    ['not an object', '[{"project":{"key":"OTHER"}}]'],
    ['empty', ''],
);
for my $b (@bad) {
    my ($name, $body) = @$b;
    for my $m (qw(POST PUT)) {
        my ($res, $v) = call($m, $tok{alice_full}, $body);
        is_status($res, 400, "$m, $name: 400");
        ok(!defined $v->{BBTOKEN_TARGET}, '  the backend never saw it');
    }
}
my $mark = log_mark($env->error_log_path);
call('PUT', $tok{project}, '{"project":{"key":"OTH-ER"}}');
like(join('', log_lines_since($env->error_log_path, $mark)),
     qr/BBT740: the request body of PUT \S+ is refused: the body's project key is not a project key/,
     'a key that is no key is logged (BBT740)');
# Password users: the project the body names is held to their own grants,
# and a fork without a project goes into their own personal project.
sub pw_call {
    my ($m, $user, $body) = @_;
    my $h = auth_basic($user, $pw{$user});
    $h->{'Content-Type'} = 'application/json';
    return $env->cgi_call($m, "/pw$repo", $h, $body);
}
is_ok_res((pw_call('PUT', 'alice', '{"project":{"key":"OTHER"}}'))[0],
          'alice by password moves into OTHER, which she administers');
is_status((pw_call('PUT', 'bob', '{"project":{"key":"OTHER"}}'))[0], 403,
          'bob by password cannot: he only writes there');
is_ok_res((pw_call('POST', 'bob', '{"name":"f"}'))[0],
          'bob by password forks into his own personal project');
is_status((pw_call('POST', 'bob', '{"project":{"key":"~alice"}}'))[0], 403,
          "  but not into alice's");

my ($big) = call('PUT', $tok{alice_full}, '{"name":"' . ('x' x (64 * 1024)) . '"}');
is_status($big, 413, 'a body over 64 KiB: 413');

done_testing;
