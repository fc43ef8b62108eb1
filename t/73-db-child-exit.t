# A prefork child stopped in the middle of a request's query.  prefork's
# SIGTERM handler destroys the child's pool wherever the request was;
# apr_reslist's cleanup then finds mod_dbd's connection still out and
# aborts the child (assert ntotal == 0), unless the module has given it
# back first.  Made certain: the lookup waits on a lock the test holds
# (its statement_timeout is 5 s), and httpd is stopped while it does.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(sleep time);
use BBT::Env qw(auth_bearer forge_token);
use BBT::Cache;

my $env = BBT::Env->new(mpm => 'prefork')->start;
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

# The lookup's table locked for a while, in a session of its own.
my $locker = fork;
die "fork: $!" unless defined $locker;
if (!$locker) {
    $env->psql('BEGIN; LOCK TABLE bbtoken_lookup IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60); COMMIT');
    POSIX::_exit(0);
}
my $deadline = time + $BBT::Cache::LIMIT;
sleep 0.05 while time < $deadline
    && !$env->psql("SELECT count(*) FROM pg_locks WHERE relation = 'bbtoken_lookup'::regclass AND granted");

my $client = fork;
die "fork: $!" unless defined $client;
if (!$client) {
    HTTP::Tiny->new(timeout => 30)->get($env->url($UP), { headers => auth_bearer(forge_token('000000000042')) });
    POSIX::_exit(0);
}
my $waiting = 0;
$deadline = time + $BBT::Cache::LIMIT;
while (!$waiting && time < $deadline) {
    $waiting = $env->psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'bbtoken_httpd' "
                          . "AND wait_event_type = 'Lock' AND query LIKE '%bbtoken_lookup%'");
    sleep 0.05 unless $waiting;
}
ok($waiting, "a request's lookup waits on the lock");
$env->httpd_stop;
is(scalar($env->crash_lines), 0, 'the child stopped in its query exited without crashing')
    or diag join "\n", $env->crash_lines;
$env->psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
           . "WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()");
kill 'KILL', $client, $locker;
waitpid $_, 0 for $client, $locker;
done_testing;
