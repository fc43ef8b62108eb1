# A request waits for a new database connection at most BBTokenDBWait and
# then one connect_timeout, however many of the child's threads need one.
# apr-util's pool makes a connection while it holds the pool's lock, so
# threads that find no idle connection connected one after another, each
# up to connect_timeout, and the last of DBDMax waited DBDMax times that.
# Here the database was up all along; only its postmaster stops answering
# new connections (SIGSTOP: a host that takes the TCP connection and says
# nothing), the backends of the pooled connections run on.  Now one thread
# of the child asks the pool at a time, the others wait for their turn
# within BBTokenDBWait and are answered 503 (BBT360).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(time sleep);
use BBT::Env;
use BBT::Assert;

plan skip_all => 'one child with threads: the event or worker MPM' if ($ENV{BBT_MPM} // '') eq 'prefork';

my $N = 10;                 # requests at once, DBDMax (mod_dbd's default)
my ($CONNECT, $WAIT) = (2, 2);    # the harness's connect_timeout, BBTokenDBWait
my $env = BBT::Env->new(
    extra_conf => "$BBT::Env::DUMB_CONF\nBBTokenCache off\nBBTokenDBWait $WAIT\n",
    mpm_conf   => BBT::Util::one_child_mpm(2 * $N),
)->start;
like(BBT::Util::slurp($env->dir . '/httpd.conf'), qr/connect_timeout=$CONNECT\b/, "DBDParams' connect_timeout is $CONNECT");
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $U = '/dumb/PROJ/repo.git/HEAD';
my $tok = $env->token_create('alice', name => 'ci');
is($env->get($U, { Authorization => "Bearer $tok" })->{status}, 200, 'served; the pool holds a connection');

# The pooled connection busy (a migration holds bbtoken_lookup for 3 s):
# the other requests need connections of their own.
my $hold = $env->pg_session('migration');
$hold->send('BEGIN; LOCK TABLE bbtoken_lookup IN ACCESS EXCLUSIVE MODE;');
ok($hold->done, 'bbtoken_lookup held');
my ($pm) = split /\n/, BBT::Util::slurp("$env->{pgdata}/postmaster.pid");
my $stopped = kill 'STOP', $pm;
END { kill 'CONT', $pm if $stopped }
my $mark = log_mark($env->error_log_path);
my $t0 = time;
my @w = map {
    BBT::Util::in_background($env->dir . '/run', sub {
        my $r = HTTP::Tiny->new(timeout => 60, keep_alive => 0)
            ->get($env->url($U), { headers => { Authorization => "Bearer $tok" } });
        my $ra = $r->{headers}{'retry-after'} // '';
        return sprintf '%d%s %.1f', $r->{status}, ($r->{status} == 503 && $ra =~ /^\d+$/ ? '+RA' : ''),
            time - $t0;
    });
} 1 .. $N;
sleep 3;
$hold->send('ROLLBACK;');
my @r = map { [split / /] } map { $_->() } @w;
kill 'CONT', $pm;
$stopped = 0;
ok($hold->done, 'the lock released');
$hold->finish;
diag 'answers (status, seconds): ' . join ', ', map {"@$_"} @r;

is_deeply([grep { $_->[0] !~ /^(200|503\+RA)$/ } @r], [], 'every request answered: 200, or 503 with Retry-After');
ok((grep { $_->[0] eq '200' } @r), 'the request on the pooled connection is served');
# Counted, not timed: before, each request that found no idle connection
# connected in its turn inside the pool, each its own connect_timeout,
# and none said BBT360.  Now one connects at a time and the others give
# up when their BBTokenDBWait ends (or once the thread holding the turn
# then has held it for a second): the first connects, and one whose wait
# had not ended when its connect_timeout did may take the turn it left
# (more on a machine slow to send the requests), the others say BBT360.
my @log = log_lines_since($env->error_log_path, $mark);
my $turns = grep { /BBT360: no database connection within $WAIT s \(BBTokenDBWait\): other requests of this child held the turn to take a connection from mod_dbd's pool past that wait \(one for longer than 1 s/ } @log;
cmp_ok($turns, '>=', int(($N - 1) / 2), "of the @{[$N - 1]} requests needing a new connection, most waited for their turn and said so (BBT360)")
    or diag join "\n", @log;
is($env->get($U, { Authorization => "Bearer $tok" })->{status}, 200, 'served again once the database answers');
done_testing;
