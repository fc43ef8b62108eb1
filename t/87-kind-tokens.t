# Project and repository tokens with the real git client and the CLI: a
# project token reaches every repository of its project, as its permission
# allows, and nothing else (403, BBT550); a repository token its repository
# only; Bearer and Basic with x-token-auth; r->user and the access log name
# the token, not a person; revocation through the cache; the CLI's
# create, list, update, revoke, audit and project commands, and what they
# refuse.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use BBT::Env qw(parse_token);
use BBT::Assert;
use BBT::Cache qw(until_status);

my $env = BBT::Env->new->start;
$env->make_repo('PROJ', 'one');
$env->make_repo('PROJ', 'two');
$env->make_repo('OTHER', 'thing');
my $plain = sub { "http://127.0.0.1:" . $env->port . "/scm/$_[0]/$_[1].git" };
my $bearer = sub { ('-c', "http.extraHeader=Authorization: Bearer $_[0]") };
my $up = sub { "/scm/$_[0]/$_[1].git/info/refs?service=git-upload-pack" };
my $rp = sub { "/scm/$_[0]/$_[1].git/info/refs?service=git-receive-pack" };

# create --project/--repo; returns (token, id)
sub scope_token {
    my ($opt, $what, $name, @perms) = @_;
    my $out = $env->cli_ok('create', $opt, $what, '--name', $name, map { ('--perm', $_) } @perms);
    chomp $out;
    my $p = parse_token($out) or die "no token printed: $out";
    return ($out, $p->{id});
}

# Clone with @pre, commit, push: whether the push reached the repository.
sub clone_push {
    my ($label, $key, $slug, $url, @pre) = @_;
    my $w = $env->workdir($label);
    $env->git_is("$label: clone $key/$slug", 1, @pre, 'clone', '-q', $url, $w) or return 0;
    my $c = $env->commit_file($w, "$label.txt", "$label\n");
    $env->git_is("$label: push to $key/$slug", 1, { cwd => $w }, @pre, 'push', '-q', 'origin', 'main')
        or return 0;
    return is($env->repo_head($key, $slug), $c, "$label: the push reached $key/$slug");
}

subtest 'CLI: what create refuses' => sub {
    $env->cli_is('--project and --repo', ['create', '--project', 'PROJ', '--repo', 'PROJ/one', '--name', 'x'], 2);
    $env->cli_is('a NAME and --project', ['create', 'alice', '--project', 'PROJ', '--name', 'x'], 2);
    $env->cli_is('--project KEY/slug', ['create', '--project', 'PROJ/one', '--name', 'x'], 1,
                 stderr => qr/--project takes a project KEY/);
    $env->cli_is('--repo KEY', ['create', '--repo', 'PROJ', '--name', 'x'], 1,
                 stderr => qr/--repo takes a repository/);
    $env->cli_is('a repository token with a project permission',
                 ['create', '--repo', 'PROJ/one', '--name', 'x', '--perm', 'PROJECT_READ'], 1,
                 stderr => qr/no project permission/);
    $env->cli_is('a bad key', ['create', '--project', '1bad', '--name', 'x'], 1);
    is($env->psql('SELECT count(*) FROM bbtoken_tokens'), 0, 'nothing was created');
};

my ($pw, $pw_id) = scope_token('--project', 'proj', 'ci write', 'PROJECT_WRITE');
my ($pr, $pr_id) = scope_token('--project', 'PROJ', 'ci read', 'PROJECT_READ');
my ($rw, $rw_id) = scope_token('--repo', 'proj/one', 'deploy', 'REPO_WRITE');

subtest 'CLI: the rows and list' => sub {
    is($env->psql("SELECT concat_ws(' ', user_id IS NULL, project_key, repo_slug, project_perm, repo_perm)"
                  . " FROM bbtoken_tokens WHERE id = '$rw_id'"),
       't PROJ one REPO_WRITE', 'the repository token: no owner, no project level');
    is($env->psql("SELECT concat_ws(' ', user_id IS NULL, project_key, repo_slug IS NULL, project_perm, repo_perm)"
                  . " FROM bbtoken_tokens WHERE id = '$pw_id'"),
       't PROJ t PROJECT_WRITE REPO_WRITE', 'the project token (key canonicalized)');
    my $l = $env->cli_json('list', '--project', 'PROJ');
    is_deeply([map { $_->{id} } @$l], [$pw_id, $pr_id], 'list --project: the project\'s own tokens, oldest first');
    is_deeply($l->[0]{project}, { key => 'PROJ' }, 'project {key}');
    ok(!exists $l->[0]{user}, 'no user');
    is_deeply($l->[0]{permissions}, ['PROJECT_WRITE', 'REPO_WRITE'], 'permissions');
    $l = $env->cli_json('list', '--repo', 'PROJ/one');
    is(scalar @$l, 1, 'list --repo: one token');
    is_deeply($l->[0]{repository}, { slug => 'one', project => { key => 'PROJ' } }, 'repository {slug, project}');
    is_deeply($l->[0]{permissions}, ['REPO_WRITE'], 'a repository token\'s one permission');
    my $t = $env->cli_is('table', ['list', '--repo', 'PROJ/one'], 0);
    like($t, qr/^\Q$rw_id\E\s+deploy\s+REPO_WRITE\s/m, 'the table shows REPO_WRITE alone');
    $env->cli_is('same name in the project', ['create', '--project', 'PROJ', '--name', 'ci read'], 1,
                 stderr => qr/project PROJ already has a token named 'ci read'/);
    my ($x) = scope_token('--repo', 'PROJ/two', 'ci read');
    ok($x, 'the same name for another holder (PROJ/two) is fine');
    $env->cli_ok('revoke', '--repo', 'PROJ/two');
};

subtest 'a project token: every repository of its project, nothing else' => sub {
    clone_push('pw-one', 'PROJ', 'one', $plain->('PROJ', 'one'), $bearer->($pw));
    clone_push('pw-two', 'PROJ', 'two', $env->clone_url('x-token-auth', $pw, 'PROJ', 'two'));
    my $mark = log_mark($env->error_log_path);
    is_403($env->get($up->('OTHER', 'thing'), { Authorization => $env->bearer($pw) }),
           'OTHER/thing with the PROJ token');
    like(join("\n", log_lines_since($env->error_log_path, $mark)),
         qr/BBT550: token \Q$pw_id\E of project:PROJ: GET .* outside the token's project PROJ/,
         'BBT550 logged, naming the token by id');
    $env->git_is('clone OTHER/thing', 0, $bearer->($pw), 'clone', '-q', $plain->('OTHER', 'thing'),
                 $env->workdir('pw-other'));
};

subtest 'a project token respects its permission' => sub {
    my $w = $env->workdir('pr');
    $env->git_is('PROJECT_READ token clones PROJ/two', 1, $bearer->($pr), 'clone', '-q', $plain->('PROJ', 'two'), $w)
        or return;
    my $before = $env->repo_head('PROJ', 'two');
    $env->commit_file($w, 'ro.txt', "ro\n");
    $env->git_is('its push is refused', 0, { cwd => $w }, $bearer->($pr), 'push', '-q', 'origin', 'main');
    is($env->repo_head('PROJ', 'two'), $before, 'the repository is unchanged');
    is_403($env->get($rp->('PROJ', 'two'), { Authorization => $env->bearer($pr) }),
           'receive-pack advertisement: 403, not 401');
};

subtest 'a repository token: its repository only' => sub {
    clone_push('rw-one', 'PROJ', 'one', $env->clone_url('x-token-auth', $rw, 'PROJ', 'one'));
    for my $t (['PROJ', 'two'], ['OTHER', 'thing']) {
        my $mark = log_mark($env->error_log_path);
        is_403($env->get($up->(@$t), { Authorization => $env->bearer($rw) }), "$t->[0]/$t->[1]");
        like(join("\n", log_lines_since($env->error_log_path, $mark)),
             qr/BBT550: token \Q$rw_id\E of repo:PROJ\/one: .*outside the token's repository PROJ\/one/,
             "$t->[0]/$t->[1]: BBT550");
    }
    is_403($env->get('/scm/PROJ/one.git/../two.git/info/refs?service=git-upload-pack',
                     { Authorization => $env->bearer($rw) }), 'a dot-dot path to PROJ/two');
};

subtest 'Basic: x-token-auth in any case; any other user name is refused' => sub {
    is($env->get($up->('PROJ', 'one'), { Authorization => $env->basic('X-Token-Auth', $rw) })->{status}, 200,
       'X-Token-Auth');
    $env->user_add('alice', '--admin');
    is_401($env->get($up->('PROJ', 'one'), { Authorization => $env->basic('alice', $rw) }), 1,
           'a person\'s name (a global admin\'s) with a repository token');
};

subtest 'r->user: the token, for the access log and the backend' => sub {
    for my $c (['project:PROJ', $pw], ['repo:PROJ/one', $rw]) {
        my ($who, $tok) = @$c;
        for my $h ($env->bearer($tok), $env->basic('x-token-auth', $tok)) {
            my ($st, $v) = $env->env_cgi('PROJ/one.git/info/refs?service=git-upload-pack',
                                         { Authorization => $h });
            is($st, 200, "$who: /env answers");
            is($v->{REMOTE_USER}, $who, "$who: REMOTE_USER");
        }
    }
    my @l = split /\n/, $env->access_log_text;
    ok((grep {m{^127\.0\.0\.1 project:PROJ "POST /scm/PROJ/two\.git/git-receive-pack HTTP/1\.[01]" 200 \Q$pw_id\E$}} @l),
       'access log: the project token\'s push');
    ok((grep {m{^127\.0\.0\.1 repo:PROJ/one "POST /scm/PROJ/one\.git/git-receive-pack HTTP/1\.[01]" 200 \Q$rw_id\E$}} @l),
       'access log: the repository token\'s push');
};

subtest 'an internal redirect cannot carry a token out of its scope' => sub {
    # The stand-in CGI answers .../redirect-to-push... with a local Location
    # to /env/PROJ/repo.git's push advertisement, which httpd follows
    # without a new authentication: the module checks every URI.
    my ($other) = scope_token('--project', 'OTHER', 'other admin', 'PROJECT_ADMIN');
    my $src = '/env/OTHER/redirect-to-push.git/info/refs?service=git-upload-pack';
    my $mark = log_mark($env->error_log_path);
    my $r = $env->get($src, { Authorization => $env->bearer($other) });
    ok($r->{status} != 200 || $r->{content} !~ /QUERY_STRING=service=git-receive-pack/,
       'the OTHER token does not reach PROJ through the redirect') or diag res_summary($r);
    is($r->{status}, 403, '  refused with 403') or diag res_summary($r);
    like(join("\n", log_lines_since($env->error_log_path, $mark)), qr/BBT550: .* is on PROJ/, '  BBT550');
    $r = $env->get('/env/PROJ/redirect-to-push.git/info/refs?service=git-upload-pack',
                   { Authorization => $env->bearer($pw) });
    ok($r->{status} == 200 && $r->{content} =~ /QUERY_STRING=service=git-receive-pack/,
       'control: the PROJ token follows it') or diag res_summary($r);
    $env->cli_ok('revoke', '--project', 'OTHER');
};

subtest 'the policy counts per project and per repository' => sub {
    $env->cli_ok('policy', '--max-tokens', 2);
    $env->cli_is('a third live token of PROJ', ['create', '--project', 'PROJ', '--name', 'third'], 1,
                 stderr => qr/project PROJ already has 2 live tokens/);
    my ($a) = scope_token('--repo', 'PROJ/two', 'first');
    my ($b) = scope_token('--repo', 'PROJ/two', 'second');
    $env->cli_is('a third of PROJ/two', ['create', '--repo', 'PROJ/two', '--name', 'third'], 1,
                 stderr => qr/repository PROJ\/two already has 2 live tokens/);
    $env->cli_ok('revoke', '--repo', 'PROJ/two');
    $env->cli_ok('policy', '--max-tokens', 100);
};

subtest 'no person stops them: grants and users do not matter' => sub {
    $env->cli_ok('user', 'disable', 'alice');
    $env->psql("DELETE FROM bbtoken_users WHERE name = 'alice'");
    is($env->get($up->('PROJ', 'one'), { Authorization => $env->bearer($pw) })->{status}, 200,
       'the project token still works with no user at all');
};

subtest 'CLI: update, audit, revoke (through the cache)' => sub {
    $env->cli_is('a project permission for the repository token', ['update', $rw_id, '--perm', 'PROJECT_READ'], 1,
                 stderr => qr/no project permission/);
    $env->cli_is('REPO_READ for the repository token', ['update', $rw_id, '--perm', 'REPO_READ'], 0);
    my ($ok, $n, $seen) = until_status($env, $rp->('PROJ', 'one'), { Authorization => $env->bearer($rw) }, 403);
    ok($ok, 'lowered to REPO_READ: its push advertisement is refused') or diag $seen;
    my $a = $env->cli_json('audit', '--repo', 'PROJ/one');
    is_deeply([map { $_->{event} } @$a], ['created', 'new_address', 'permissions_changed'],
              'audit --repo: its records (its first use from 127.0.0.0/24 too)');
    is($a->[0]{user}, 'repo:PROJ/one', 'the record names the repository');
    is($a->[1]{user}, 'repo:PROJ/one', 'so does the new-address record');
    is($env->get($up->('PROJ', 'one'), { Authorization => $env->bearer($rw) })->{status}, 200, 'still reads');
    $env->cli_is('revoke --project', ['revoke', '--project', 'PROJ'], 0, stdout => qr/^revoked 2 tokens of project PROJ$/);
    ($ok, $n, $seen) = until_status($env, $up->('PROJ', 'one'), { Authorization => $env->bearer($pw) }, 401);
    ok($ok, 'the revoked project token is refused') or diag $seen;
    is($env->get($up->('PROJ', 'one'), { Authorization => $env->bearer($rw) })->{status}, 200,
       'the repository\'s token is not the project\'s: still works');
    $env->cli_is('revoke ID', ['revoke', $rw_id], 0);
    ($ok, $n, $seen) = until_status($env, $up->('PROJ', 'one'), { Authorization => $env->bearer($rw) }, 401);
    ok($ok, 'the revoked repository token is refused') or diag $seen;
    is_deeply($env->cli_json('list', '--project', 'PROJ'), [], 'list --project: none left');
};

subtest 'CLI: expiring shows them, with their holder' => sub {
    my ($t, $id) = scope_token('--repo', 'PROJ/two', 'short-lived', 'REPO_READ');
    $env->psql("SET session_replication_role = replica; UPDATE bbtoken_tokens SET expires_at = now() + "
               . "interval '2 days' WHERE id = '$id'");
    my ($e) = grep { $_->{id} eq $id } @{ $env->cli_json('expiring') };
    ok($e, 'listed') or return;
    is_deeply($e->{repository}, { slug => 'two', project => { key => 'PROJ' } }, 'repository {slug, project}');
    ok(!exists $e->{user}, 'no user');
    is_deeply($e->{permissions}, ['REPO_READ'], 'its one permission');
    like(scalar $env->cli_ok('expiring'), qr/repo:PROJ\/two\s+\Q$id\E\s+short-lived/, 'the table names it');
    $env->cli_ok('revoke', $id);
};

subtest 'CLI: the project setting' => sub {
    is_deeply($env->cli_json('project', 'proj'), { key => 'PROJ', repoAdminsManageTokens => JSON::PP::true },
              'default: yes');
    $env->cli_is('set no', ['project', 'PROJ', '--repo-admins-manage-tokens', 'no'], 0,
                 stdout => qr/^repo-admins-manage-tokens: no$/m);
    $env->cli_is('maybe: a bad value, as --kind bogus is', ['project', 'PROJ', '--repo-admins-manage-tokens', 'maybe'], 1,
                 stderr => qr/takes yes or no, not maybe/);
    $env->cli_is('a repository', ['project', 'PROJ/one'], 1);
    my $a = $env->cli_json('audit', '--project', 'PROJ');
    ok((grep { $_->{event} eq 'project_changed' && $_->{detail} =~ /may not/ } @$a), 'audited');
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;

done_testing;
