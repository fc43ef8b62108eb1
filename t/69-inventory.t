# The administrators' token inventory: `bbtoken list --all` with each
# filter (owner, project, expired, never used, unused for a duration,
# permission at least), alone and combined, as a table and as JSON; the
# bulk revocation of what a filter selects, and its dry run that changes
# nothing; the usage errors; and the same list over REST
# (GET .../inventory) for global admins only, with the same filters as
# query arguments, selecting exactly what the CLI selects.  Projects' and
# repositories' tokens are in it too, named by their holder: the kind
# filter, the project filter that finds them, their JSON (project {key},
# repository {slug, project {key}}, a repository token's one permission),
# and their bulk revocation.  The project filter finds every token that can
# reach the project, a global admin's and a personal project's owner's too.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use BBT::Env;
use BBT::Assert;
use BBT::Cache ();
use BBT::Rest qw(rest_env);

my $env = rest_env(login => 'bbtoken', passwords => [alice => 'alice-Pa55-word', root => 'root-Pa55-word'],
                   users => [qw(alice bob carol dave), [root => '--admin']],
                   grants => [[alice => PROJECT_WRITE => 'PROJ'], [bob => REPO_READ => 'OTHER/x']]);

my (%id, %tok);
sub mk_cli {
    my ($user, $name, @perms) = @_;
    ($tok{$name}, $id{$name}) = $env->token_create($user, name => $name, perms => \@perms);
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
# carol's has an allow-list; bob's has been used from one address group.
$env->cli_ok('update', $id{'c-read'}, '--allow-from', '192.0.2.0/24', '--allow-from', '2001:db8::/32');
$env->get('/scm/OTHER/x.git/info/refs?service=git-upload-pack', { Authorization => $env->bearer($tok{'b-admin'}) });

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
    my ($c) = grep { $_->{name} eq 'c-read' } @$j;
    is_deeply($c->{allowedAddresses}, ['192.0.2.0/24', '2001:db8::/32'], 'JSON: the allow-list');
    ok(!exists $t->{allowedAddresses}, 'JSON: no allowedAddresses without an allow-list');
    is($t->{addressGroups}, 1, 'JSON: the address groups a token was used from');
    is($c->{addressGroups}, 0, 'JSON: none for one never used');
    my ($l) = grep { $_->{name} eq 'c-read' } @{ $env->list_json('carol') };
    is_deeply([@$c{qw(allowedAddresses addressGroups)}], [@$l{qw(allowedAddresses addressGroups)}],
              'JSON: as list NAME --json says');
    my $out = $env->cli_is('table', ['list', '--all'], 0);
    like($out, qr/^ID\s+OWNER\s+NAME\s+PERMISSIONS\s+CREATED\s+EXPIRES\s+ALLOWED\s+GROUPS\s+LAST USED\s+FROM$/m,
         'table header');
    like($out, qr/^$id{'a-expired'}\s+alice\s+a-expired\s+PROJECT_WRITE,REPO_WRITE\s+\S+\s+\S+ \(expired\)\s+any\s+0\s+never/m,
         'a row: id, owner, name, permissions, expired, any address, no group, never used');
    like($out, qr/^$id{'c-read'}\s+carol\s+c-read\s+\S+\s+\S+\s+\S+\s+192\.0\.2\.0\/24,2001:db8::\/32\s+0\s+never/m,
         'a row with an allow-list');
    like($out, qr/^$id{'b-admin'}\s+bob\s+b-admin\s+\S+\s+\S+\s+\S+\s+any\s+1\s+\d{4}-/m,
         'a row with an address group');
};

subtest 'each filter, and filters together' => sub {
    is_deeply(names('--owner', 'ALICE'), ['a-old', 'a-expired', 'a-new'], '--owner, any case');
    is_deeply(names('--project', 'proj'), ['a-old', 'a-expired', 'a-new'], '--project: a project grant');
    is_deeply(names('--project', 'OTHER'), ['b-admin'], '--project: a repository grant in it');
    # A project the database knows (its setting) that no token reaches.
    $env->cli_ok('project', 'NONE', '--repo-admins-manage-tokens', 'no');
    is_deeply(names('--project', 'NONE'), [], '--project nobody can reach: none');
    $env->cli_is('--project the database knows nothing of', ['list', '--all', '--project', 'NOTHING'], 1,
                 stderr => qr/^bbtoken: no such project NOTHING: /);
    is_deeply(names('--expired'), ['a-expired'], '--expired');
    is_deeply(names('--never-used'), ['a-expired', 'a-new', 'c-read'], '--never-used');
    is_deeply(names('--unused-for', '30d'), ['a-old', 'a-expired'],
              '--unused-for 30d: used 50 days ago, or never used and made 100 days ago');
    is_deeply(names('--unused-for', '60d'), ['a-expired'], '--unused-for 60d');
    # Up to 36500 days, as the refusal of a longer one says (and REST's
    # unusedDays): the bound itself is taken.
    is($env->cli_is('--unused-for 36500d, its upper bound', ['list', '--all', '--unused-for', '36500d', '--json'], 0),
       "[]\n", '  taken: no token unused that long');
    is_deeply(names('--min-perm', 'REPO_WRITE'), ['a-expired', 'a-new', 'b-admin'], '--min-perm REPO_WRITE');
    is_deeply(names('--min-perm', 'PROJECT_WRITE'), ['a-expired', 'b-admin'], '--min-perm PROJECT_WRITE');
    is_deeply(names('--min-perm', 'PROJECT_ADMIN'), ['b-admin'], '--min-perm PROJECT_ADMIN');
    is_deeply(names('--owner', 'alice', '--never-used', '--min-perm', 'REPO_WRITE'), ['a-expired', 'a-new'],
              'owner, never used and at least REPO_WRITE together');
    $env->cli_is('an owner who does not exist', ['list', '--all', '--owner', 'nobody', '--json'], 1,
                 stderr => qr/^bbtoken: no such user: nobody$/);
};

subtest 'usage errors' => sub {
    $env->cli_is('--revoke without a filter', ['list', '--all', '--revoke'], 2, stderr => qr/needs a filter/);
    $env->cli_is('--dry-run without --revoke', ['list', '--all', '--expired', '--dry-run'], 2,
                 stderr => qr/--dry-run goes with --revoke/);
    $env->cli_is('a filter without --all', ['list', 'alice', '--expired'], 2, stderr => qr/go with --all/);
    $env->cli_is('a NAME and --all', ['list', 'alice', '--all'], 2, stderr => qr/not both/);
    $env->cli_is('no NAME, no --all', ['list'], 2, stderr => qr/one NAME, --project KEY, --repo KEY\/slug, or --all/);
    $env->cli_is('--repo with --all', ['list', '--all', '--repo', 'PROJ/repo'], 2, stderr => qr/not with --all/);
    $env->cli_is('bad --unused-for', ['list', '--all', '--unused-for', 'soon'], 1, stderr => qr/--unused-for/);
    $env->cli_is('--unused-for a day past its bound', ['list', '--all', '--unused-for', '36501d'], 1,
                 stderr => qr/^bbtoken: invalid --unused-for: 36501d \(.*up to 36500 days\)$/);
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
                 'minPermission=REPO_ALL', 'kind=repo', 'kind=Personal', 'kind=', 'limit=x') {
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

subtest 'projects\' and repositories\' tokens: their holder, the kind and project filters' => sub {
    for my $c (['--project', 'PROJ', 'p-ci'], ['--repo', 'PROJ/one', 'r-deploy', 'REPO_WRITE'],
               ['--repo', 'OTHER/x', 'o-deploy', 'REPO_READ']) {
        my ($opt, $what, $name, @perms) = @$c;
        my $out = $env->cli_ok('create', $opt, $what, '--name', $name, map { ('--perm', $_) } @perms);
        ($id{$name}) = $out =~ /\A(\S+)\n\z/;
        $id{$name} = BBT::Env::parse_token($id{$name})->{id};
    }
    is_deeply(names(), ['a-new', 'b-admin', 'p-ci', 'o-deploy', 'r-deploy'],
              'every live token, holder by holder: users\', then project:PROJ, repo:OTHER/x, repo:PROJ/one');
    my $j = $env->cli_json('list', '--all');
    my ($p) = grep { $_->{name} eq 'p-ci' } @$j;
    is_deeply($p->{project}, { key => 'PROJ' }, 'JSON: project {key}');
    ok(!exists $p->{user}, '  no user');
    is_deeply($p->{permissions}, ['PROJECT_ADMIN', 'REPO_ADMIN'], '  its permissions');
    my ($r) = grep { $_->{name} eq 'r-deploy' } @$j;
    is_deeply($r->{repository}, { slug => 'one', project => { key => 'PROJ' } }, 'JSON: repository {slug, project}');
    ok(!exists $r->{user} && !exists $r->{project}, '  no user, no project member');
    is_deeply($r->{permissions}, ['REPO_WRITE'], '  its one permission');
    my ($u) = grep { $_->{name} eq 'a-new' } @$j;
    is_deeply($u->{user}, { name => 'alice' }, 'a personal token: user {name}');
    ok(!exists $u->{project} && !exists $u->{repository}, '  nothing else');
    my $out = $env->cli_is('table', ['list', '--all'], 0);
    like($out, qr/^$id{'p-ci'}\s+project:PROJ\s+p-ci\s+PROJECT_ADMIN,REPO_ADMIN\s/m, 'table: the project\'s token');
    like($out, qr/^$id{'r-deploy'}\s+repo:PROJ\/one\s+r-deploy\s+REPO_WRITE\s/m,
         'table: the repository\'s, one permission');

    is_deeply(names('--kind', 'personal'), ['a-new', 'b-admin'], '--kind personal');
    is_deeply(names('--kind', 'project'), ['p-ci'], '--kind project');
    is_deeply(names('--kind', 'repository'), ['o-deploy', 'r-deploy'], '--kind repository');
    is_deeply(names('--project', 'proj'), ['a-new', 'p-ci', 'r-deploy'],
              '--project: a grant\'s holder\'s, the project\'s own and its repositories\'');
    is_deeply(names('--project', 'OTHER'), ['b-admin', 'o-deploy'], '--project OTHER');
    is_deeply(names('--project', 'PROJ', '--kind', 'repository'), ['r-deploy'], '--project and --kind together');
    is_deeply(names('--owner', 'alice'), ['a-new'], '--owner: a user\'s tokens only');
    is_deeply(names('--min-perm', 'REPO_WRITE'), ['a-new', 'b-admin', 'p-ci', 'r-deploy'], '--min-perm REPO_WRITE');
    is_deeply(names('--min-perm', 'PROJECT_READ'), ['a-new', 'b-admin', 'p-ci'],
              '--min-perm PROJECT_READ: a repository\'s token has no project level');
    $env->cli_is('bad --kind', ['list', '--all', '--kind', 'repo'], 1,
                 stderr => qr/invalid --kind: repo \(personal, project or repository\)/);
    $env->cli_is('--kind without --all', ['list', 'alice', '--kind', 'project'], 2, stderr => qr/go with --all/);

    my $B = '/rest/access-tokens/latest/inventory';
    for my $q (['', ], ['kind=personal', '--kind', 'personal'], ['kind=project', '--kind', 'project'],
               ['kind=repository', '--kind', 'repository'], ['project=PROJ', '--project', 'PROJ'],
               ['project=proj&kind=repository', '--project', 'proj', '--kind', 'repository']) {
        my ($args, @cli) = @$q;
        my $res = $env->rest(GET => "$B?$args", as => 'root');
        is_deeply([map { $_->{name} } @{ $res->{json}{values} || [] }], names(@cli), "REST ?$args: as the CLI's");
    }
    my $res = $env->rest(GET => "$B?kind=repository", as => 'root');
    is_deeply($res->{json}{values}, $env->cli_json('list', '--all', '--kind', 'repository'),
              'REST: the same JSON for repositories\' tokens');

    $out = $env->cli_is('revoke a project\'s repositories\' tokens',
                        ['list', '--all', '--project', 'PROJ', '--kind', 'repository', '--revoke'], 0);
    like($out, qr/^$id{'r-deploy'}\s+repo:PROJ\/one\s+r-deploy\s/m, 'lists what it revoked');
    like($out, qr/^revoked 1 token\n\z/m, 'revoked 1 token');
    is($env->psql("SELECT user_name FROM bbtoken_audit WHERE token_id = '$id{'r-deploy'}' AND event = 'revoked'"),
       'repo:PROJ/one', 'audited, naming the repository');
    is_deeply(names(), ['a-new', 'b-admin', 'p-ci', 'o-deploy'], 'the others stay');
};

# A global admin's token reaches every project, and a personal project's
# owner's reaches it, with no grant: the project filter must find them as
# the module lets them in, or a bulk revocation of what can reach a
# project leaves the strongest tokens alive.
subtest '--project: also a global admin\'s tokens and a personal project\'s owner\'s' => sub {
    $env->make_repo('PROJ', 'one');
    $env->make_repo('~dave', 'home');
    mk_cli('root', 'root-admin', 'PROJECT_ADMIN');
    mk_cli('dave', 'd-home', 'REPO_WRITE');
    my $git = sub {
        my ($name, $path) = @_;
        return $env->get("/scm/$path.git/info/refs?service=git-upload-pack",
                         { Authorization => $env->bearer($tok{$name}) })->{status};
    };
    is($git->('root-admin', 'PROJ/one'), 200, 'root\'s token reaches PROJ with no grant');
    is($git->('d-home', '~dave/home'), 200, 'dave\'s token reaches ~dave with no grant');
    is_deeply(names('--project', 'PROJ'), ['a-new', 'p-ci', 'root-admin'], '--project PROJ: root\'s too');
    is_deeply(names('--project', '~DAVE'), ['d-home', 'root-admin'], '--project ~dave: dave\'s (and root\'s)');
    my $res = $env->rest(GET => '/rest/access-tokens/latest/inventory?project=PROJ', as => 'root');
    is_deeply([map { $_->{name} } @{ $res->{json}{values} || [] }], names('--project', 'PROJ'),
              'REST ?project=PROJ: as the CLI\'s');
    my $out = $env->cli_is('revoke what can reach PROJ', ['list', '--all', '--project', 'PROJ', '--revoke'], 0);
    like($out, qr/^revoked 3 tokens\n\z/m, 'revoked 3 tokens');
    # Another process revoked it: the cache learns so through the
    # listener, within its bound.
    my ($ok, $tries, $seen) = BBT::Cache::until_status(
        $env, '/scm/PROJ/one.git/info/refs?service=git-upload-pack',
        { Authorization => $env->bearer($tok{'root-admin'}) }, 401);
    ok($ok, 'root\'s token no longer reaches PROJ') or diag "statuses: $seen";
};

done_testing;
