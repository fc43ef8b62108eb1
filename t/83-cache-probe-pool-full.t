# The listener's probe (a NOTIFY from a pooled connection every ten
# seconds) takes a place among the module's counted connections without
# waiting: with the pool full (DBDMax 1, its one connection held by
# lookups that wait on a lock) it is not sent, and tried again a second
# later.  It never joins mod_dbd's endless wait for a connection, which
# held the listener's thread, stopped the heartbeat, and sent a cached
# token to the database (503) while it lasted.  For 15 s, longer than the
# probe's interval, a cached token is answered every time.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use POSIX ();
use BBT::Env qw(auth_bearer forge_token);
use BBT::Cache qw(served_from_cache wait_log);
use BBT::Util qw(one_child_mpm);
use Time::HiRes qw(sleep time);

my $env = BBT::Env->new(mpm => 'event', mpm_conf => one_child_mpm(8),
                        extra_conf => "DBDMax 1\nDBDKeep 1\nDBDMin 1\n")->start;
ok(wait_log($env, 0, qr/BBT309: /), 'the listener is up');
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my ($tok, $id) = $env->token_create('alice', name => 't');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
# The token's creation heard first: an entry made from a lookup that began
# before its notification came is believed only until it comes, and the
# request after it would wait on the lock below (503).
BBT::Cache::settle();
ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'the token is answered from the cache');
my $locker = fork // die "fork: $!";
if (!$locker) {
    $env->psql('BEGIN; LOCK TABLE bbtoken_lookup IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(40); COMMIT');
    POSIX::_exit(0);
}
ok($env->pg_wait_backend('%', "query LIKE '%pg_sleep(40)%'"), 'a session holds the lookup\'s table');
# Unknown tokens: each lookup takes the pool's one connection and waits.
my @busy;
for my $k (1 .. 2) {
    my $p = fork // die "fork: $!";
    if (!$p) {
        my $end = time + 20;
        my $ua = HTTP::Tiny->new(timeout => 30);
        $ua->get($env->url($UP), { headers => auth_bearer(forge_token(sprintf '%012d', 42 + $k)) })
            while time < $end;
        POSIX::_exit(0);
    }
    push @busy, $p;
}
ok($env->pg_wait_blocked('%bbtoken_lookup%'), 'a lookup waits on the lock, holding the pool\'s connection');
my (@st, $t0);
$t0 = time;
while (time - $t0 < 15) {
    push @st, $env->get($UP, auth_bearer($tok))->{status};
    sleep 0.3;
}
ok(!grep({ $_ != 200 } @st), 'the cached token is answered throughout') or diag "@st";
kill 'KILL', @busy, $locker;
waitpid $_, 0 for @busy, $locker;
$env->psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
           . " WHERE query LIKE '%pg_sleep(40)%' AND pid <> pg_backend_pid()");
done_testing;
