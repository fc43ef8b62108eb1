# A personal token's second target (the project a fork's body names, or
# for a fork without one the personal project of the name the token was
# read with) is decided by its owner's live level there, asked by the
# owner's id as the level on the path's target is, never by that name: a
# rename may have given the name to another user by then.  A session
# holds bbtoken_users (LOCK TABLE ... IN ACCESS EXCLUSIVE MODE) while it
# renames bob to bob2 and makes a new bob, PROJECT_ADMIN in OTHER; two
# forks with bob's token, sent meanwhile, wait on that lock (pg_locks says
# so, no sleep decides anything), and once it commits both are refused:
# bob2, the token's owner, has nothing in OTHER, and ~bob is no longer his
# (the backend, told REMOTE_USER bob, would fork into the new bob's).
# Asked by name, both went to the new bob and were let through (200).
# With the token's entry read from the cache, and with BBTokenCache off.
# From the cache, the entry is judged again once the level has come: the
# rename heard by then, the token is read again, as bob2's, and the fork
# without a project goes to ~bob2, told REMOTE_USER bob2 (200), which is
# no longer the new bob's; heard later, it is refused as above.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Cache qw(log_mark log_since served_from_cache until_answer);
use BBT::Util qw(in_background);

my $repo = '/rest/api/latest/projects/PROJ/repos/repo';
my $into_other = '{"name":"f","project":{"key":"OTHER"}}';
my $into_own = '{"name":"f"}';

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
    $env->grant('bob', 'PROJECT_ADMIN', 'PROJ');
    my ($tok, $id) = $env->token_create('bob', name => 'full');

    # (status, REMOTE_USER or '-') of a fork of PROJ/repo (or of $path)
    # with token $t and body $body.
    my $fork = sub {
        my ($t, $body, $path) = @_;
        my $h = auth_bearer($t);
        $h->{'Content-Type'} = 'application/json';
        my ($res, $v) = $env->cgi_call('POST', $path // $repo, $h, $body);
        return ($res->{status}, $v->{REMOTE_USER} // '-');
    };

    is(($fork->($tok, $into_other))[0], 403, 'bob may not fork into OTHER');
    is(join(' ', $fork->($tok, $into_own)), '200 bob', 'bob forks into his own ~bob');
    ok(served_from_cache($env, $repo, auth_bearer($tok), $id), 'the token is in the cache')
        if $cache;

    my $s = $env->pg_session('rename');
    $s->send("BEGIN; LOCK TABLE bbtoken_users IN ACCESS EXCLUSIVE MODE;"
             . " UPDATE bbtoken_users SET name = 'bob2' WHERE name = 'bob';"
             . " INSERT INTO bbtoken_users (name) VALUES ('bob');"
             . " INSERT INTO bbtoken_project_grants (user_id, project_key, permission)"
             . " SELECT id, 'OTHER', 'PROJECT_ADMIN' FROM bbtoken_users WHERE name = 'bob';");
    ok($s->done, 'a session renames bob to bob2 and makes a new bob, admin of OTHER, uncommitted');
    my $mark = log_mark($env);
    my $other = in_background($env->dir . '/run', sub { join ' ', $fork->($tok, $into_other) });
    ok($env->pg_wait_table_waiters('bbtoken_users', 1), 'a fork into OTHER with bob\'s token waits on bbtoken_users');
    my $own = in_background($env->dir . '/run', sub { join ' ', $fork->($tok, $into_own) });
    ok($env->pg_wait_table_waiters('bbtoken_users', 2), 'and a fork without a project');
    $s->send('COMMIT;');
    ok($s->done, 'the rename commits');
    unlike($s->finish, qr/ERROR/, '  without an error');

    is($other->(), '403 -', 'the fork into OTHER is refused: the token\'s owner has nothing there');
    my $own_st = $own->();
    if ($cache && $own_st eq '200 bob2') {
        pass('the fork without a project, the rename heard, is bob2\'s into ~bob2 (REMOTE_USER bob2)');
    } else {
        is($own_st, '403 -', 'the fork into ~bob is refused: the new bob\'s personal project');
    }
    my $log = log_since($env, $mark);
    if ($cache) {
        is(scalar(() = $log =~ /BBT318: token \Q$id\E answered from the cache: its owner's level on the second target/mg), 2,
           '  both read the token from the cache, with the name bob, and asked the level on the second target')
            or diag $log;
    } else {
        is(scalar(() = $log =~ /BBT037: token \Q$id\E of bob authenticated for \Q$repo\E$/mg), 2,
           '  both read the token with the name bob')
            or diag $log;
    }
    like($log, qr/BBT051: .* needs REPO_CREATE on OTHER .*the owner lacks it/,
         '  the owner lacks REPO_CREATE on OTHER (BBT051)');
    like($log, qr/BBT051: .* needs REPO_CREATE on ~bob .*the owner lacks it/,
         '  and on ~bob') if $own_st eq '403 -';

    is($env->psql("SELECT string_agg(u.name || ':' || g.project_key || ':' || g.permission, ' '"
                  . " ORDER BY u.id) FROM bbtoken_project_grants g"
                  . " JOIN bbtoken_users u ON u.id = g.user_id"),
       'bob2:PROJ:PROJECT_ADMIN bob:OTHER:PROJECT_ADMIN', 'the grants are as renamed');
    is(($fork->($tok, $into_other))[0], 403, 'bob2\'s token still may not fork into OTHER');
    my ($ok, $n, $seen) = until_answer(sub { join(' ', $fork->($tok, $into_own)) eq '200 bob2' ? 1 : 0 }, 1);
    ok($ok, 'bob2\'s token forks into ~bob2, REMOTE_USER bob2, once the rename is read')
        or diag "$n tries";
    my $new = $env->token_create('bob', name => 'new');
    is(join(' ', $fork->($new, $into_other, '/rest/api/latest/projects/OTHER/repos/repo')), '200 bob',
       'the new bob\'s own token forks within OTHER: the grant the rename made is there');
    is(scalar($env->crash_lines), 0, 'no httpd child crashed');
}

subtest 'with the cache' => sub { race(1) };
subtest 'with BBTokenCache off' => sub { race(0) };

done_testing;
