# The token cache's listener connects again while every token request
# reads the database.  Once it has lost its connection the cache is not
# believed, every request needs a pooled connection, and threads wait for
# a place among the module's nearly all the time; the listener, which
# learns the pooled session through one of them, queues for a place with
# them (briefly) and, given none, tries again a tenth of a second later.
# It used to ask without waiting, which is never given a place a waiting
# thread is owed, and back off each time up to 8 seconds: under such a
# load it stayed down, and the cache unused, as long as the load lasted.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use POSIX ();
use Time::HiRes qw(sleep);
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
my $tok = $env->token_create('alice', name => 'ci');
ok(wait_log($env, 0, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up');

# Clients asking with the token without a pause, until stopped (at most
# two minutes): ab (apache2-utils, which apache2 brings), one process
# keeping them all busy as no pool of perl clients on two cores would.
my ($ab) = grep { -x } map {"$_/ab"} split /:/, "$ENV{PATH}:/usr/bin:/usr/sbin";
BAIL_OUT('no ab (apache2-utils, which apache2 brings)') unless $ab;
my $load = fork // die "fork: $!";
if (!$load) {
    open STDOUT, '>', '/dev/null';
    open STDERR, '>', '/dev/null';
    exec($ab, '-q', '-k', '-c', $CLIENTS, '-t', 120, '-n', 10_000_000, '-H', "Authorization: Bearer $tok", $env->url($U));
    POSIX::_exit(127);
}
sleep 2;
my $mark = log_mark($env);
my $pid = $env->psql("SELECT pid FROM pg_stat_activity WHERE application_name = 'mod_bbtoken listener'");
like($pid, qr/^\d+$/, "the listener's backend: $pid");
is($env->psql("SELECT pg_terminate_backend($pid)"), 't', 'terminated, under load');
ok(wait_log($env, $mark, qr/BBT307: the token cache's listener lost its connection/), 'the listener says so');
ok(wait_log($env, $mark, qr/BBT309: the token cache's listener hears PostgreSQL again/, 60),
   'it hears PostgreSQL again while the load goes on');
is(waitpid($load, POSIX::WNOHANG()), 0, '  (the load still going then)');
kill 'TERM', $load;
waitpid($load, 0);
unlike(log_since($env, $mark), qr/exit signal|BBT313/, 'no child died, none left its listener behind');

done_testing;
