# The administrators' token inventory: `bbtoken list --all` with each
# filter (owner, project, expired, never used, unused for a duration,
# permission at least), alone and combined, as a table and as JSON; the
# bulk revocation of what a filter selects, and its dry run that changes
# nothing; the usage errors; and the same list over REST
# (GET .../inventory) for global admins only, with the same filters as
# query arguments, selecting exactly what the CLI selects.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use BBT::Env;
use BBT::Assert;

my $extra = <<'EOC';
<Location /rest/access-tokens>
    SetHandler bbtoken-rest
    AuthType BBToken
    AuthName "Bitbucket"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    BBTokenRoutes none
    Require valid-user
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(authn_file authz_user)],
                        dbd_user => 'bbtoken_api')->start;
$env->htpasswd(alice => 'alice-Pa55-word', root => 'root-Pa55-word');
$env->user_add('alice');
$env->user_add('bob');
$env->user_add('carol');
$env->user_add('dave');
$env->user_add('root', '--admin');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
$env->grant('bob', 'REPO_READ', 'OTHER/x');

my %id;
sub mk_cli {
    my ($user, $name, @perms) = @_;
    (undef, $id{$name}) = $env->token_create($user, name => $name, perms => \@perms);
}
sub mk_sql {
    my ($user, $name, %o) = @_;
    (undef, $id{$name}) = $env->token_insert($user, name => $name, %o);
}
# alice: an old one last used 50 days ago, a new one never used, an expired
# one never used; bob: an admin token used now; carol: read only, never
# used; dave: a revoked one, which no listing shows.
mk_sql('alice', 'a-old', created => "now() - interval '100 days'", project => 'PROJECT_READ', repo => 'REPO_READ');
$env->psql("UPDATE bbtoken_tokens SET last_authenticated = now() - interval '50 days' WHERE id = '$id{'a-old'}'");
mk_cli('alice', 'a-new', 'REPO_WRITE');
mk_sql('alice', 'a-expired', created => "now() - interval '100 days'", expires => "now() - interval '1 day'",
       project => 'PROJECT_WRITE', repo => 'REPO_WRITE');
mk_cli('bob', 'b-admin', 'PROJECT_ADMIN');
$env->psql("UPDATE bbtoken_tokens SET last_authenticated = now() WHERE id = '$id{'b-admin'}'");
mk_cli('carol', 'c-read', 'REPO_READ');
mk_cli('dave', 'd-gone', 'REPO_READ');
$env->cli_ok('revoke', $id{'d-gone'});

my %name_of = reverse %id;
# The token names `bbtoken list --all --json` with @args lists, in order.
sub names { my (@args) = @_; return [map { $_->{name} } @{ $env->cli_json('list', '--all', @args) }] }

subtest 'list --all: every live token, by owner' => sub {
    is_deeply(names(), ['a-old', 'a-expired', 'a-new', 'b-admin', 'c-read'],
              'all live tokens, owner by owner, oldest first; not the revoked one');
    my $j = $env->cli_json('list', '--all');
    my ($t) = grep { $_->{name} eq 'b-admin' } @$j;
    is($t->{user}{name}, 'bob', 'JSON: the owner');
    is($t->{id}, $id{'b-admin'}, 'JSON: the id');
    is_deeply($t->{permissions}, ['PROJECT_ADMIN', 'REPO_ADMIN'], 'JSON: the permissions');
    ok($t->{lastAuthenticated} && $t->{createdDate}, 'JSON: times in epoch ms');
    my ($x) = grep { $_->{name} eq 'a-expired' } @$j;
    ok($x->{expired}, 'JSON: expired is true for the expired one');
    my $out = $env->cli_is('table', ['list', '--all'], 0);
    like($out, qr/^ID\s+OWNER\s+NAME\s+PERMISSIONS\s+CREATED\s+EXPIRES\s+LAST USED\s+FROM$/m, 'table header');
    like($out, qr/^$id{'a-expired'}\s+alice\s+a-expired\s+PROJECT_WRITE,REPO_WRITE\s+\S+\s+\S+ \(expired\)\s+never/m,
         'a row: id, owner, name, permissions, expired, never used');
};

subtest 'each filter, and filters together' => sub {
    is_deeply(names('--owner', 'ALICE'), ['a-old', 'a-expired', 'a-new'], '--owner, any case');
    is_deeply(names('--project', 'proj'), ['a-old', 'a-expired', 'a-new'], '--project: a project grant');
    is_deeply(names('--project', 'OTHER'), ['b-admin'], '--project: a repository grant in it');
    is_deeply(names('--project', 'NONE'), [], '--project nobody can reach: none');
    is_deeply(names('--expired'), ['a-expired'], '--expired');
    is_deeply(names('--never-used'), ['a-expired', 'a-new', 'c-read'], '--never-used');
    is_deeply(names('--unused-for', '30d'), ['a-old', 'a-expired'],
              '--unused-for 30d: used 50 days ago, or never used and made 100 days ago');
    is_deeply(names('--unused-for', '60d'), ['a-expired'], '--unused-for 60d');
    is_deeply(names('--min-perm', 'REPO_WRITE'), ['a-expired', 'a-new', 'b-admin'], '--min-perm REPO_WRITE');
    is_deeply(names('--min-perm', 'PROJECT_WRITE'), ['a-expired', 'b-admin'], '--min-perm PROJECT_WRITE');
    is_deeply(names('--min-perm', 'PROJECT_ADMIN'), ['b-admin'], '--min-perm PROJECT_ADMIN');
    is_deeply(names('--owner', 'alice', '--never-used', '--min-perm', 'REPO_WRITE'), ['a-expired', 'a-new'],
              'owner, never used and at least REPO_WRITE together');
    is_deeply(names('--owner', 'nobody'), [], 'an owner who does not exist: none');
};

subtest 'usage errors' => sub {
    $env->cli_is('--revoke without a filter', ['list', '--all', '--revoke'], 2, stderr => qr/needs a filter/);
    $env->cli_is('--dry-run without --revoke', ['list', '--all', '--expired', '--dry-run'], 2,
                 stderr => qr/--dry-run goes with --revoke/);
    $env->cli_is('a filter without --all', ['list', 'alice', '--expired'], 2, stderr => qr/go with --all/);
    $env->cli_is('a NAME and --all', ['list', 'alice', '--all'], 2, stderr => qr/not both/);
    $env->cli_is('no NAME, no --all', ['list'], 2, stderr => qr/one NAME, or --all/);
    $env->cli_is('bad --unused-for', ['list', '--all', '--unused-for', 'soon'], 1, stderr => qr/--unused-for/);
    $env->cli_is('bad --min-perm', ['list', '--all', '--min-perm', 'REPO_ALL'], 1, stderr => qr/unknown permission/);
    $env->cli_is('bad --project', ['list', '--all', '--project', '1x'], 1, stderr => qr/invalid project key/);
    $env->cli_is('a repository for --project', ['list', '--all', '--project', 'PROJ/repo'], 1,
                 stderr => qr/not a repository/);
    $env->cli_is('bad --owner', ['list', '--all', '--owner', 'a b'], 1, stderr => qr/invalid user name/);
    $env->cli_is('another command takes none of them', ['expiring', '--owner', 'alice'], 2,
                 stderr => qr/does not take --owner/);
    is_deeply([map { $_->{name} } @{ $env->list_json('alice') }], ['a-old', 'a-expired', 'a-new'],
              'list NAME still lists one user\'s tokens');
};

subtest 'REST: GET .../inventory for global admins' => sub {
    my $B = '/rest/access-tokens/latest/inventory';
    my $res = $env->rest(GET => $B, as => 'root');
    is_ok_res($res, 'root: 200');
    is_deeply([map { $_->{name} } @{ $res->{json}{values} || [] }], names(), '  the same list as the CLI\'s');
    ok($res->{json}{isLastPage}, '  one page');
    is_deeply($res->{json}{values}[0], $env->cli_json('list', '--all')->[0], '  the same JSON for a token');
    for my $q (['owner=Alice', '--owner', 'Alice'], ['project=proj', '--project', 'proj'],
               ['expired=true', '--expired'], ['neverUsed=true', '--never-used'],
               ['unusedDays=30', '--unused-for', '30d'], ['minPermission=PROJECT_WRITE', '--min-perm', 'PROJECT_WRITE'],
               ['owner=alice&neverUsed=true&minPermission=REPO_WRITE', '--owner', 'alice', '--never-used',
                '--min-perm', 'REPO_WRITE'],
               ['owner=ali%63e&expired=false', '--owner', 'alice']) {
        my ($args, @cli) = @$q;
        $res = $env->rest(GET => "$B?$args", as => 'root');
        is_deeply([map { $_->{name} } @{ $res->{json}{values} || [] }], names(@cli), "?$args: as the CLI's @cli");
    }
    $res = $env->rest(GET => "$B?limit=2&start=1", as => 'root');
    is_deeply([map { $_->{name} } @{ $res->{json}{values} || [] }], [@{ names() }[1, 2]], 'paged: start 1, limit 2');
    ok(!$res->{json}{isLastPage} && $res->{json}{nextPageStart} == 3, '  not the last page; next at 3');
    $res = $env->rest(GET => $B, as => 'alice');
    is_status($res, 403, 'a user who is not a global admin: 403');
    is($res->{json}{errors}[0]{exceptionName}, 'com.atlassian.bitbucket.AuthorisationException', '  in the envelope');
    is_status($env->rest(GET => $B, noauth => 1), 401, 'no login: 401');
    for my $bad ('owner=a%20b', 'project=1x', 'expired=yes', 'unusedDays=0', 'unusedDays=36501',
                 'minPermission=REPO_ALL', 'kind=personal', 'limit=x') {
        is_status($env->rest(GET => "$B?$bad", as => 'root'), 400, "?$bad: 400");
    }
    is_status($env->rest(POST => $B, as => 'root', json => {}), 405, 'POST: 405');
};

subtest 'bulk revoke: the dry run changes nothing, then the revocation' => sub {
    my $out = $env->cli_is('dry run', ['list', '--all', '--unused-for', '30d', '--revoke', '--dry-run'], 0);
    like($out, qr/^$id{'a-old'}\s+alice\s+a-old\s/m, 'lists a-old');
    like($out, qr/^$id{'a-expired'}\s+alice\s+a-expired\s/m, 'lists a-expired');
    like($out, qr/^would revoke 2 tokens\n\z/m, 'says it would revoke 2');
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE revoked_at IS NOT NULL"), 1, 'nothing revoked');
    my $j = $env->cli_json('list', '--all', '--unused-for', '30d', '--revoke', '--dry-run');
    is_deeply([map { $_->{name} } @$j], ['a-old', 'a-expired'], '--json: the tokens it would revoke');
    $out = $env->cli_is('revoke', ['list', '--all', '--unused-for', '30d', '--revoke'], 0);
    like($out, qr/^revoked 2 tokens\n\z/m, 'says it revoked 2');
    like($out, qr/^$id{'a-old'}\s+alice\s+a-old\s/m, 'lists what it revoked');
    is($env->psql("SELECT string_agg(name, ',' ORDER BY name) FROM bbtoken_tokens WHERE revoked_at IS NOT NULL"),
       'a-expired,a-old,d-gone', 'a-old and a-expired are revoked');
    is($env->psql("SELECT string_agg(event || ' ' || source, ',') FROM bbtoken_audit"
                  . " WHERE token_id IN ('$id{'a-old'}', '$id{'a-expired'}') AND event LIKE 'revoked%'"),
       'revoked cli,revoked cli', 'audited as revocations from the CLI (the owners are told by notify)');
    is_deeply(names(), ['a-new', 'b-admin', 'c-read'], 'the inventory no longer shows them');
    $out = $env->cli_is('again: nothing left', ['list', '--all', '--unused-for', '30d', '--revoke'], 0);
    like($out, qr/^revoked 0 tokens\n\z/m, 'revoked 0 tokens');
    $j = $env->cli_json('list', '--all', '--owner', 'carol', '--revoke');
    is_deeply([map { $_->{id} } @$j], [$id{'c-read'}], '--revoke --json: the revoked tokens as JSON');
    is($env->psql("SELECT revoked_at IS NOT NULL FROM bbtoken_tokens WHERE id = '$id{'c-read'}'"), 't',
       '  revoked');
};

done_testing;
