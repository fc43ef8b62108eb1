# The token cache's listener connects again while every token request
# reads the database, and the cache is believed again while they go on.
# Once it has lost its connection the cache is not believed, every request
# needs a pooled connection, and threads wait for a place among the
# module's nearly all the time.  The listener takes such a place twice
# before the cache is believed: to learn the pooled session, and to send
# its probe (bbt_lprobe.h), without which no heartbeat is published.  Both
# queue for a place with the requests (briefly) and, given none, try again
# soon.  They used to ask without waiting, which is never given a place a
# waiting thread is owed: the read backed off each time up to 8 seconds,
# and under such a load the listener stayed down as long as the load
# lasted; then the probe, tried every second, was refused just as often,
# and the listener, connected, held its heartbeat back and the cache
# unused for as long.  BBT309 "again" is said once the cache is believed,
# with the first heartbeat, and a request is answered from the cache after
# it while the load goes on.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use POSIX ();
use Time::HiRes qw(sleep time);
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Cache qw(wait_log log_mark log_since);

plan skip_all => 'one child with threads: the event or worker MPM' if ($ENV{BBT_MPM} // '') eq 'prefork';

my $CLIENTS = 16;
my $env = BBT::Env->new(extra_conf => "$BBT::Env::DUMB_CONF\nDBDMin 0\nDBDKeep 1\nDBDMax 1\nBBTokenDBWait 1\n"
                                      . "BBTokenLastUseInterval 86400\n",
                        mpm_conf => BBT::Util::one_child_mpm($CLIENTS))->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $U = '/dumb/PROJ/repo.git/HEAD';
my ($tok, $id) = $env->token_create('alice', name => 'ci');
ok(wait_log($env, 0, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up');

# Each lookup holds the pool's one connection a few milliseconds (a policy
# that sleeps; the tables' owner is not subject to it): the requests, not
# the machine's cores, keep it busy, and some thread always waits for a
# place, as under a real load.
$env->psql("ALTER TABLE bbtoken_lookup ENABLE ROW LEVEL SECURITY; CREATE POLICY slow ON bbtoken_lookup"
           . " USING (pg_sleep(0.005) IS NOT NULL)");

# Clients asking with the token without a pause, until stopped (at most
# five minutes): ab (apache2-utils, which apache2 brings), one process
# keeping them all busy as no pool of perl clients on two cores would.
my ($ab) = grep { -x } map {"$_/ab"} split /:/, "$ENV{PATH}:/usr/bin:/usr/sbin";
BAIL_OUT('no ab (apache2-utils, which apache2 brings)') unless $ab;
my $load = fork // die "fork: $!";
if (!$load) {
    open STDOUT, '>', '/dev/null';
    open STDERR, '>', '/dev/null';
    { exec($ab, '-q', '-k', '-c', $CLIENTS, '-t', 300, '-n', 10_000_000, '-H', "Authorization: Bearer $tok", $env->url($U)) }
    POSIX::_exit(127);
}
sleep 2;
my $mark = log_mark($env);
my $pid = $env->psql("SELECT pid FROM pg_stat_activity WHERE application_name = 'mod_bbtoken listener'");
like($pid, qr/^\d+$/, "the listener's backend: $pid");
is($env->psql("SELECT pg_terminate_backend($pid)"), 't', 'terminated, under load');

# The log, read as it grows (each request writes its lines at debug):
# whether BBT309 "again" has come, and a token answered from the cache
# after it.
my ($again, $cached, $at, $rest) = (0, 0, $mark, '');
my $deadline = time + 90;
open my $lh, '<', $env->error_log_path or die "error log: $!";
while (!$cached && time < $deadline) {
    seek $lh, $at, 0;
    my $got = read($lh, my $buf, 1 << 20) // 0;
    $at += $got;
    $buf = $rest . $buf;
    $rest = $buf =~ s/([^\n]*)\z// ? $1 : '';
    for my $line (split /\n/, $buf) {
        if (!$again) {
            $again = $line =~ /BBT309: the token cache's listener hears PostgreSQL again/;
        } elsif ($line =~ /BBT037: token \Q$id\E .*\(from the cache\)/) {
            $cached = 1;
            last;
        }
    }
    sleep 0.05 unless $got;
}
close $lh;
ok(wait_log($env, $mark, qr/BBT307: the token cache's listener lost its connection/), 'the listener says so');
ok($again, 'it hears PostgreSQL again while the load goes on');
ok($cached, '  and the cache answers the token after that');
is(waitpid($load, POSIX::WNOHANG()), 0, '  (the load still going then)');
kill 'TERM', $load;
waitpid($load, 0);
unlike(log_since($env, $mark), qr/exit signal|BBT313/, 'no child died, none left its listener behind');

done_testing;
