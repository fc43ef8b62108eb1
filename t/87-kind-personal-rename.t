# A personal project's token is judged by one user: the token's row is
# read first, its project's owner (found by the slug of ~name) after it,
# and a rename of the owner and a new user given the name, committed in
# between, revoke the token (migrations 21 and 53) and give the slug to
# someone else.  The owner is found in the same snapshot as whether the
# token is still live, so a token refused before (its owner bob disabled)
# and after (revoked) is never let in between by the new bob's being
# active.  A session holds bbtoken_users (LOCK TABLE ... IN ACCESS
# EXCLUSIVE MODE) while it renames bob to bob2 and makes a new bob; a
# request with a token of ~bob, sent meanwhile, waits on that lock
# (pg_locks says so, no sleep decides anything) and is refused once it
# commits.  Read apart, the owner was the new bob and the token live:
# 200.  With the cache on (the token not in it yet) and with BBTokenCache
# off.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer parse_token);
use BBT::Assert;
use BBT::Cache qw(log_since until_answer);
use BBT::Util qw(in_background);

my $path = '/rest/api/latest/projects/~bob/repos/repo';

sub race {
    my ($cache) = @_;
    my $extra = ($cache ? '' : "BBTokenCache off\n") . <<'EOC';
ScriptAlias /rest/ "@DIR@/cgi-bin/env.cgi/"
<Location /rest>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes bitbucket-rest
    Require bbtoken
</Location>
EOC
    my $env = BBT::Env->new(extra_conf => $extra)->start;
    $env->user_add('bob');
    my %tok;
    for my $name (qw(seen unseen)) {
        my $out = $env->cli_ok('create', '--project', '~bob', '--name', $name,
                               '--perm', 'PROJECT_READ');
        chomp $out;
        my $p = parse_token($out) or die "no token printed: $out";
        $tok{$name} = [$out, $p->{id}];
    }
    # (status, REMOTE_USER or '-') of a GET with token $name.
    my $get = sub {
        my ($res, $v) = $env->cgi_call('GET', $path, auth_bearer($tok{ $_[0] }[0]));
        return join ' ', $res->{status}, $v->{REMOTE_USER} // '-';
    };
    is($get->('seen'), '200 project:~bob', 'a token of ~bob reads while bob is active');
    $env->cli_ok('user', 'disable', 'bob');
    # The cache learns of the change within its bound, not at once.
    my ($ok, $n, $seen) = until_answer(sub { $get->('seen') eq '401 -' ? 1 : 0 }, 1);
    ok($ok, 'and is refused once bob is disabled') or diag "$n tries";

    my $s = $env->pg_session('rename');
    $s->send("BEGIN; LOCK TABLE bbtoken_users IN ACCESS EXCLUSIVE MODE;"
             . " UPDATE bbtoken_users SET name = 'bob2' WHERE name = 'bob';"
             . " INSERT INTO bbtoken_users (name) VALUES ('bob');");
    ok($s->done, 'a session renames the disabled bob to bob2 and makes a new, active bob, uncommitted');
    my $mark = BBT::Cache::log_mark($env);
    my $during = in_background($env->dir . '/run', sub { $get->('unseen') });
    ok($env->pg_wait_table_waiters('bbtoken_users'), 'another token of ~bob, read meanwhile, waits on bbtoken_users');
    $s->send('COMMIT;');
    ok($s->done, 'the rename commits');
    unlike($s->finish, qr/ERROR/, '  without an error');
    is($during->(), '401 -', 'the token is refused: revoked with the rename');
    my $id = $tok{unseen}[1];
    like(log_since($env, $mark), qr/BBT035: token \Q$id\E refused: token revoked/,
         '  as revoked (BBT035)');
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE project_key = '~bob' AND revoked_at IS NULL"),
       0, 'no token of ~bob is live');
    is($get->('unseen'), '401 -', 'nor is it let in afterwards');
    is(scalar($env->crash_lines), 0, 'no httpd child crashed');
}

subtest 'with the cache' => sub { race(1) };
subtest 'with BBTokenCache off' => sub { race(0) };

done_testing;
