# A token that expires while its lookup waits (behind a lock, for a pooled
# connection) is refused: its expiry is judged by the time the answer came
# back, not by the time the request asked.  Judged by the earlier time, a
# request that waited behind a migration's lock, or for a connection while
# the pool was busy, was let in for as long as it had waited past the
# token's expiry (here a second and more), and the cache then held no
# stale answer: only that request was wrong.  Nothing is timed: the lookup
# is held by a lock this test takes, and let go only once PostgreSQL's
# clock is past the expiry.
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

for my $mode ('on', 'off') {
    subtest "BBTokenCache $mode: a token that expires while its lookup waits" => sub {
        $env->httpd_restart(extra_conf => "BBTokenCache $mode\n") if $mode eq 'off';
        # Every child's connections made and statements prepared, so that
        # the request below waits for the lock alone.
        my $warm = $env->token_create('alice', name => "warm $mode");
        my @st = BBT::Util::in_children(6, sub {
            HTTP::Tiny->new(timeout => 30)->get($env->url($UP), { headers => { Authorization => "Bearer $warm" } })
                ->{status} == 200 ? 0 : 1 });
        is(scalar(grep { $_ } @st), 0, 'warming up: six requests at once, 200');

        my ($tok, $id) = $env->token_insert('alice', name => "short $mode",
                                            expires => "now() + interval '3 seconds'");
        $env->lock_tables('bbtoken_lookup');
        my $mark = log_mark($env);
        my $done = $env->get_bg($UP, auth_bearer($tok));
        my $waits = 0;
        for (1 .. 600) { last if ($waits = $env->waiting_on_lock('bbtoken_httpd')) >= 1; sleep 0.1 }
        ok($waits >= 1, 'its lookup waits for the lock');
        # PostgreSQL's clock past the expiry, and then some.
        my $past = 0;
        for (1 .. 600) {
            last if ($past = $env->psql("SELECT now() > expires_at + interval '0.5 seconds'"
                                        . " FROM bbtoken_tokens WHERE id = '$id'") eq 't');
            sleep 0.1;
        }
        ok($past, 'the token has expired meanwhile');
        $env->unlock_tables;
        is($done->(), 401, 'the lookup answers once the lock is gone: refused, expired');
        like(log_since($env, $mark), qr/BBT035: token \Q$id\E refused: token expired/,
             'the module says it expired');
        is_401($env->get($UP, auth_bearer($tok)), 1, 'and stays refused');
    };
}

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
