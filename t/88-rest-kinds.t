# The access-tokens REST API for a project's and a repository's tokens:
# Bitbucket's paths projects/{key} and projects/{key}/repos/{slug} (PUT,
# GET list, GET, POST, DELETE) with the personal endpoints' shapes; who may
# manage them (the project's admins, a repository's admins unless the
# project says no; nobody else), as the API role's functions decide; a
# token made over REST working with git, and after its creator is disabled
# and deleted; what it may not be given; the policy's maximum expiry, given
# to one asked without an expiry.  No token is logged.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use BBT::Assert;
use BBT::Rest qw(rest_env);

my @people = qw(padmin radmin writer root carol);
my $env = rest_env(passwords => [map { ($_ => "$_-Pa55-word") } @people],
                   repos => [[PROJ => 'one'], [PROJ => 'two'], [OTHER => 'thing']],
                   users => [qw(padmin radmin writer carol), [root => '--admin']],
                   grants => [[padmin => PROJECT_ADMIN => 'PROJ'], [radmin => REPO_ADMIN => 'PROJ/one'],
                              [writer => PROJECT_WRITE => 'PROJ']]);

my $P = '/rest/access-tokens/1.0/projects';
sub call { my ($as, $method, $path, %o) = @_; return $env->rest($method, $path, as => $as, %o) }

sub is_error {
    my ($res, $status, $re, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $e = ref $res->{json} eq 'HASH' && ref $res->{json}{errors} eq 'ARRAY' ? $res->{json}{errors}[0] : undef;
    my $ok = $res->{status} == $status && $e && defined $e->{message} && $e->{message} =~ $re
        && defined $e->{exceptionName};
    ok($ok, "$name: $status") or diag res_summary($res);
    return $ok;
}

my %made;
subtest 'a project\'s token: create, list, get, update, revoke' => sub {
    my $res = call(padmin => PUT => "$P/proj", json => { name => 'ci', permissions => ['PROJECT_WRITE'],
                                                        expiryDays => 30 });
    is_ok_res($res, 'PUT projects/proj (the key in any case)') or return;
    my $t = $res->{json};
    like($t->{id} // '', qr/^\d{12}\z/, 'id');
    like($t->{token} // '', qr/^BBDC-[A-Za-z0-9+\/]{44}\z/, 'the raw token, once');
    is_deeply($t->{permissions}, ['PROJECT_WRITE', 'REPO_WRITE'], 'permissions: PROJECT_WRITE gives REPO_WRITE');
    is($t->{expiryDays}, 30, 'expiryDays');
    is($t->{project}{key}, 'PROJ', 'project.key');
    like($t->{project}{links}{self}[0]{href} // '', qr{^http://127\.0\.0\.1:\d+/projects/PROJ\z}, 'project.links.self');
    ok(!exists $t->{user}, 'no user: it belongs to no person');
    $made{ci} = $t;
    is($env->psql("SELECT concat_ws(' ', source, actor, user_name) FROM bbtoken_audit"
                  . " WHERE event = 'created' AND token_id = '$t->{id}'"),
       'http padmin project:PROJ', 'audited: by padmin, about project:PROJ');

    $res = call(padmin => GET => "/rest/access-tokens/latest/projects/PROJ");
    is_ok_res($res, 'GET the list (latest)');
    is($res->{json}{size}, 1, 'size 1');
    is_deeply([map { $_->{id} } @{ $res->{json}{values} || [] }], [$t->{id}], 'the token, without its raw value')
        and ok(!exists $res->{json}{values}[0]{token}, 'no raw token in a list');
    $res = call(padmin => GET => "$P/PROJ/$t->{id}");
    is_ok_res($res, 'GET one');
    is($res->{json}{name}, 'ci', 'its name');
    $res = call(padmin => POST => "$P/PROJ/$t->{id}", json => { name => 'ci 2' });
    is_ok_res($res, 'POST a new name');
    is_deeply($res->{json}{permissions}, ['PROJECT_WRITE', 'REPO_WRITE'], 'permissions unchanged');
    $res = call(padmin => POST => "$P/PROJ/$t->{id}", json => { permissions => ['PROJECT_READ'] });
    is_ok_res($res, 'POST permissions');
    is_deeply($res->{json}{permissions}, ['PROJECT_READ', 'REPO_READ'], 'now PROJECT_READ, REPO_READ');
    is($res->{json}{name}, 'ci 2', 'name unchanged');
    is_error(call(padmin => GET => "$P/OTHER/$t->{id}"), 401, qr/not permitted/,
             'padmin on OTHER: not permitted');
    is_error(call(root => GET => "$P/OTHER/$t->{id}"), 404, qr/No access token \d+ exists for project OTHER/,
             'the id under another project');
    is_error(call(padmin => GET => "$P/PROJ/repos/one/$t->{id}"), 404, qr/repository PROJ\/one/,
             'the project\'s id under one of its repositories');
    my $st = call(padmin => DELETE => "$P/PROJ/$t->{id}", headers => { 'Content-Type' => 'application/json' });
    is($st->{status}, 204, 'DELETE: 204') or diag res_summary($st);
    is_error(call(padmin => GET => "$P/PROJ/$t->{id}"), 404, qr/No access token/, 'revoked: gone');
    is_error(call(padmin => DELETE => "$P/PROJ/$t->{id}"), 404, qr/no such token/i, 'DELETE again');
};

subtest 'a repository\'s token' => sub {
    my $res = call(padmin => PUT => "$P/PROJ/repos/one", json => { name => 'deploy', permissions => ['REPO_WRITE'] });
    is_ok_res($res, 'the project admin creates one for PROJ/one') or return;
    my $t = $res->{json};
    is_deeply($t->{permissions}, ['REPO_WRITE'], 'one permission, no project level');
    is($t->{repository}{slug}, 'one', 'repository.slug');
    is($t->{repository}{project}{key}, 'PROJ', 'repository.project.key');
    ok(!exists $t->{user} && !exists $t->{project}, 'no user, no project member');
    $made{deploy} = $t;
    is_error(call(padmin => PUT => "$P/PROJ/repos/one", json => { name => 'x', permissions => ['PROJECT_READ'] }),
             400, qr/no project permission/, 'a project permission for a repository token');
    is_error(call(padmin => PUT => "$P/PROJ/repos/one", json => { name => 'x',
                                                                 permissions => ['REPO_READ', 'PROJECT_ADMIN'] }),
             400, qr/no project permission/, 'PROJECT_ADMIN beside REPO_READ');
    is_error(call(padmin => POST => "$P/PROJ/repos/one/$t->{id}", json => { permissions => ['PROJECT_WRITE'] }),
             400, qr/no project permission/, 'nor by update');
    is_error(call(padmin => PUT => "$P/PROJ/repos/one", json => { name => 'deploy', permissions => ['REPO_READ'] }),
             400, qr/already has a token named 'deploy'/, 'a name taken in the repository');
    is_ok_res(call(padmin => PUT => "$P/PROJ/repos/two", json => { name => 'deploy', permissions => ['REPO_READ'] }),
              'the same name in another repository');
    $res = call(padmin => POST => "$P/PROJ/repos/one/$t->{id}", json => { name => 'deploy 2' });
    is_ok_res($res, 'renamed');
    is_deeply($res->{json}{permissions}, ['REPO_WRITE'], 'still REPO_WRITE alone');
    is_error(call(padmin => GET => "$P/PROJ/repos/two/$t->{id}"), 404, qr/repository PROJ\/two/,
             'the id under another repository');
    is_error(call(padmin => GET => "$P/PROJ/$t->{id}"), 404, qr/project PROJ/, 'the id under the project');
};

subtest 'who may manage them' => sub {
    my $body = { name => 'who', permissions => ['REPO_READ'] };
    is_ok_res(call(radmin => PUT => "$P/PROJ/repos/one", json => $body), 'a REPO_ADMIN: its repository');
    is_ok_res(call(radmin => GET => "$P/PROJ/repos/one"), '  and lists them');
    is_error(call(radmin => PUT => "$P/PROJ/repos/two", json => $body), 401,
             qr/not permitted to manage the access tokens of repository PROJ\/two/, '  not another repository');
    is_error(call(radmin => PUT => "$P/PROJ", json => { name => 'who', permissions => ['PROJECT_READ'] }), 401,
             qr/not permitted to manage the access tokens of project PROJ/, '  not the project\'s');
    is_error(call(writer => GET => "$P/PROJ"), 401, qr/not permitted/, 'PROJECT_WRITE: not the project\'s');
    is_error(call(writer => PUT => "$P/PROJ/repos/one", json => $body), 401, qr/not permitted/,
             'PROJECT_WRITE: not a repository\'s either');
    is_ok_res(call(root => PUT => "$P/OTHER", json => { name => 'who', permissions => ['PROJECT_READ'] }),
              'a global admin: any project');
    is_ok_res(call(carol => PUT => "$P/~carol", json => { name => 'who', permissions => ['PROJECT_READ'] }),
              'carol: her personal project');
    is_error(call(carol => GET => "$P/~padmin"), 401, qr/not permitted/, 'carol: not another\'s');

    $env->cli_ok('project', 'PROJ', '--repo-admins-manage-tokens', 'no');
    is_error(call(radmin => GET => "$P/PROJ/repos/one"), 401, qr/project PROJ lets only its admins manage them/,
             'the project says no: the REPO_ADMIN is refused, told why');
    is_error(call(radmin => PUT => "$P/PROJ/repos/one", json => { name => 'who 2', permissions => ['REPO_READ'] }),
             401, qr/lets only its admins/, '  cannot create');
    is_error(call(radmin => DELETE => "$P/PROJ/repos/one/$made{deploy}{id}"), 401, qr/lets only its admins/,
             '  cannot revoke');
    is_ok_res(call(padmin => GET => "$P/PROJ/repos/one"), 'the project admin still may');
    $env->cli_ok('project', 'PROJ', '--repo-admins-manage-tokens', 'yes');
    is_ok_res(call(radmin => GET => "$P/PROJ/repos/one"), 'yes again: the REPO_ADMIN may');
};

subtest 'made over REST, it works with git, with no person behind it' => sub {
    my $res = call(padmin => PUT => "$P/PROJ", json => { name => 'pipeline', permissions => ['PROJECT_READ'] });
    is_ok_res($res, 'padmin makes a PROJECT_READ token') or return;
    my $tok = $res->{json}{token};
    my @bearer = ('-c', "http.extraHeader=Authorization: Bearer $tok");
    my $url = "http://127.0.0.1:" . $env->port . "/scm/PROJ/two.git";
    $env->git_is('clone PROJ/two (Bearer)', 1, @bearer, 'clone', '-q', $url, $env->workdir('p1'));
    $env->cli_ok('user', 'disable', 'padmin');
    $env->psql("DELETE FROM bbtoken_users WHERE name = 'padmin'");
    is($env->psql("SELECT count(*) FROM bbtoken_users WHERE name = 'padmin'"), 0, 'padmin is deleted');
    my $w = $env->workdir('p2');
    $env->git_is('still clones PROJ/one (Basic, x-token-auth)', 1, 'clone', '-q',
                 $env->clone_url('x-token-auth', $tok, 'PROJ', 'one'), $w) or return;
    my $before = $env->repo_head('PROJ', 'one');
    $env->commit_file($w, 'no.txt', "no\n");
    $env->git_is('but cannot push: PROJECT_READ', 0, { cwd => $w }, 'push', '-q', 'origin', 'main');
    is($env->repo_head('PROJ', 'one'), $before, 'the repository is unchanged');
    is_403($env->get('/scm/OTHER/thing.git/info/refs?service=git-upload-pack',
                     { Authorization => "Bearer $tok" }), 'nor reach OTHER');
    my $one = call(root => GET => "$P/PROJ/$res->{json}{id}");
    ok(defined $one->{json}{lastAuthenticated} && abs($one->{json}{lastAuthenticated} / 1000 - time) < 120,
       'its last use is recorded (lastAuthenticated: now)') or diag res_summary($one);
    is(call(root => GET => "$P/PROJ", auth => "Bearer $tok")->{status}, 401,
       'the token itself cannot manage tokens (401)');
    my $st = call(root => DELETE => "$P/PROJ/$res->{json}{id}");
    is($st->{status}, 204, 'a global admin revokes it (a DELETE without a JSON Content-Type)')
        or diag res_summary($st);
    is($env->get('/scm/PROJ/one.git/info/refs?service=git-upload-pack',
                 { Authorization => "Bearer $tok" })->{status}, 401, 'refused at once on this server');
};

# A maximum set without --expiry-required bounds these tokens too: one
# asked without expiryDays gets the maximum.
subtest 'a maximum expiry alone: a project\'s and a repository\'s token get it' => sub {
    $env->cli_ok('policy', '--max-expiry-days', '12');
    for my $c (["$P/PROJ", ['PROJECT_READ'], 'a project\'s'], ["$P/PROJ/repos/two", ['REPO_READ'], 'a repository\'s']) {
        my ($path, $perms, $what) = @$c;
        my $res = call(root => PUT => $path, json => { name => 'capped', permissions => $perms });
        is_ok_res($res, "$what token without expiryDays") or next;
        is($res->{json}{expiryDays}, 12, '  expiryDays 12, the maximum');
        is($env->psql("SELECT round(extract(epoch FROM expires_at - created_at) / 86400) FROM bbtoken_tokens"
                      . " WHERE id = '$res->{json}{id}'"), 12, '  and so in the database');
        is_error(call(root => PUT => $path, json => { name => 'long', permissions => $perms, expiryDays => 13 }),
                 400, qr/at most 12 days/, "  $what token of 13 days: refused");
    }
    $env->cli_ok('policy', '--max-expiry-days', 'none');
};

subtest 'log lines' => sub {
    my $log = $env->error_log_text;
    like($log, qr/BBT210: access-tokens API: padmin created token \d{12} of project PROJ/, 'BBT210');
    like($log, qr/BBT211: access-tokens API: root revoked token \d{12} of project PROJ/, 'BBT211');
    my @leaked = grep { my $t = $_; $log =~ /\Q$t\E/ || $env->access_log_text =~ /\Q$t\E/ } $env->rest_tokens;
    is(scalar @leaked, 0, 'no raw token in the logs (' . scalar($env->rest_tokens) . ' checked)');
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;

done_testing;
