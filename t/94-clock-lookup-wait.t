# A token that expires while its lookup waits (behind a lock, for a pooled
# connection) is refused: its expiry is judged by the time the answer came
# back, not by the time the request asked.  Judged by the earlier time, a
# request that waited behind a migration's lock, or for a connection while
# the pool was busy, was let in for as long as it had waited past the
# token's expiry (here a second and more), and the cache then held no
# stale answer: only that request was wrong.  The same goes for the
# statement that asks the level of an owner with more grants than a level
# map holds, which comes after the lookup and may wait behind a lock on
# the grants.  Nothing is timed: the statement is held by a lock this test
# takes, and let go only once PostgreSQL's clock is past the expiry.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(sleep);
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Cache qw(log_mark log_since wait_log);

# No statement_timeout: the lookup waits for the lock as long as it is held.
my $env = BBT::Env->new(dbd_options => '')->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
ok(wait_log($env, 0, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up');

# bob's level is asked of the grant tables: his lookup row has no map.
$env->user_add('bob');
$env->grant('bob', 'PROJECT_WRITE', 'PROJ');
$env->psql("INSERT INTO bbtoken_repo_grants (user_id, project_key, repo_slug, permission)"
           . " SELECT u.id, 'MANY', 'r' || n, 'REPO_READ' FROM bbtoken_users u,"
           . " generate_series(1, bbtoken_lookup_grants_max() + 5) n WHERE u.name = 'bob'");

# A token of $user that expires in three seconds, asked for while $table
# is locked: once PostgreSQL's clock is past its expiry the lock goes, and
# the request must be refused as expired.
sub expires_while_waiting {
    my ($user, $table, $name) = @_;
    my ($tok, $id) = $env->token_insert($user, name => $name, expires => "now() + interval '3 seconds'");
    $env->lock_tables($table);
    my $mark = log_mark($env);
    my $done = $env->get_bg($UP, auth_bearer($tok));
    my $waits = 0;
    for (1 .. 600) { last if ($waits = $env->waiting_on_lock('bbtoken_httpd')) >= 1; sleep 0.1 }
    ok($waits >= 1, "the request waits for the lock on $table");
    # PostgreSQL's clock past the expiry, and then some.
    my $past = 0;
    for (1 .. 600) {
        last if ($past = $env->psql("SELECT now() > expires_at + interval '0.5 seconds'"
                                    . " FROM bbtoken_tokens WHERE id = '$id'") eq 't');
        sleep 0.1;
    }
    ok($past, 'the token has expired meanwhile');
    $env->unlock_tables;
    is($done->(), 401, 'answered once the lock is gone: refused, expired');
    like(log_since($env, $mark), qr/BBT035: token \Q$id\E refused: token expired/, 'the module says it expired');
    is_401($env->get($UP, auth_bearer($tok)), 1, 'and stays refused');
    return $id;
}

for my $mode ('on', 'off') {
    subtest "BBTokenCache $mode: a token that expires while its lookup waits" => sub {
        $env->httpd_restart(graceful => 1, extra_conf => "BBTokenCache $mode\n") if $mode eq 'off';
        # Every child's connections made and statements prepared, so that
        # the request below waits for the lock alone.
        my $warm = $env->token_create('alice', name => "warm $mode");
        my @st = BBT::Util::in_children(6, sub {
            HTTP::Tiny->new(timeout => 30)->get($env->url($UP), { headers => { Authorization => "Bearer $warm" } })
                ->{status} == 200 ? 0 : 1 });
        is(scalar(grep { $_ } @st), 0, 'warming up: six requests at once, 200');
        expires_while_waiting('alice', 'bbtoken_lookup', "short $mode");
    };
    subtest "BBTokenCache $mode: a token that expires while its owner's level is asked" => sub {
        my $id = expires_while_waiting('bob', 'bbtoken_repo_grants', "short level $mode");
        is($env->psql("SELECT count(*) FROM bbtoken_lookup WHERE id = '$id' AND levels IS NULL"), 1,
           "bob's token has no level map: his level was asked");
    };
}

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
