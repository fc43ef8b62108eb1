# The cache through a transaction-pooling proxy (PgBouncer,
# pool_mode=transaction), which the README says not to use: the proxy
# links the listener's client to a server connection only for its
# transactions and drops a notification that arrives between them, so a
# revocation could go unheard while the listener's own heartbeat, sent and
# heard in its own transaction, still comes back.  The listener's probe,
# NOTIFY from another session (a pooled connection), never comes back
# there: the listener says so (BBT712), no token is answered from the
# cache, and a revoked token is never served.  (A pooled session's
# prepared statement may be run on a server connection it was not
# prepared on there too: a request may get 503, never 200 for a revoked
# token.)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::PgBouncer;
use BBT::Cache qw(served_from_cache wait_log log_mark log_since);
use BBT::Util qw(slurp spew);
use Time::HiRes qw(sleep time);

plan skip_all => BBT::PgBouncer::missing() if BBT::PgBouncer::missing();
my $a = BBT::Env->new(httpd => 0)->start;
my $pgb = BBT::PgBouncer->start($a, pool_mode => 'transaction', default_pool_size => 3);
my $pport = $pgb->port;
ok($pgb->listening, 'PgBouncer listens');
my $b = BBT::Env->new(pg_from => $a, dbd_ports => [$pport], dbd_options => '')->start;
$b->make_repo('PROJ', 'repo');
$a->user_add('alice');
$a->grant('alice', 'PROJECT_WRITE', 'PROJ');
my ($tok, $id) = $a->token_create('alice', name => 'pooled');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

ok(wait_log($b, 0, qr/BBT712: the token cache's listener does not hear other sessions' notifications/),
   'the listener says it does not hear other sessions (BBT712)');
# It connects again every ten seconds and is no more in service for it: no
# notice that it hears PostgreSQL again while BBT712 stands.  A token is
# asked for all along, from then until that next connection's probe too is
# found late: through the whole of a connection, from its LISTEN to the
# verdict on its probe, where the cache could be believed, no token is
# answered from the cache.
{
    my $mark = log_mark($b);
    my $deadline = time + 45;
    my $cycle = qr/BBT309: .*BBT712: /s;
    my ($since, $through) = ('', 0);
    while (time < $deadline) {
        $b->get($UP, auth_bearer($tok));
        $since = log_since($b, $mark);
        last if ($through = $since =~ $cycle);
        sleep 0.05;
    }
    ok($since =~ /BBT309: /, 'the listener connects again');
    my @again = grep { /BBT309: / } split /\n/, $since;
    like($again[0] // '', qr/\[bbtoken:debug\] .*BBT309: the token cache's listener hears PostgreSQL again/,
         '  said at debug, BBT712 standing');
    ok($through, '  and its probe is found late too (BBT712)') or diag $since;
    my @hits = grep { /BBT037: token \Q$id\E .*\(from the cache\)/ } split /\n/, log_since($b, $mark);
    is(scalar @hits, 0, 'no token is answered from the cache meanwhile') or diag join "\n", @hits;
}
$a->cli_ok('revoke', $id);
my @st = map { $b->get($UP, auth_bearer($tok))->{status} } 1 .. 20;
ok(!grep({ $_ == 200 } @st), 'the revoked token is never served') or diag "@st";
ok(scalar(grep { $_ == 401 } @st), '  refused (401) where the pooled session could ask') or diag "@st";

# A probe must come back to an idle listener: one that commits while the
# listener's heartbeat transaction is open is delivered at its end, the
# proxy then linking the listener to that server connection, and would
# prove nothing.  A session locking bbtoken_schema (which the heartbeat
# reads) for 1.5 s at a time holds heartbeats open across the probe that
# follows each LISTEN; no token is answered from the cache all the same.
subtest 'a probe heard inside the listener\'s own transaction counts for nothing' => sub {
    my ($tok2, $id2) = $a->token_create('alice', name => 'pooled 2');
    my $f = "$a->{dir}/lock.sql";
    spew($f, join '', map { "BEGIN; LOCK TABLE bbtoken_schema IN ACCESS EXCLUSIVE MODE;"
                                . " SELECT pg_sleep(1.5); COMMIT;\n" } 1 .. 40);
    my $mark = log_mark($b);
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        exec("$BBT::Env::PGBIN/psql", '-X', '-q', '-h', '127.0.0.1', '-p', $a->{pgport}, '-U', 'postgres',
             '-d', 'bbtoken', '-f', $f) or die "psql: $!";
    }
    ok(wait_log($b, $mark, qr/BBT309: /, 40), 'the listener connects again under the locks');
    # Long enough for the probe after that LISTEN to go out while a
    # heartbeat waits on the lock, and come back with it.
    sleep 1.6;
    kill 'TERM', $pid;
    waitpid $pid, 0;
    $a->psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
             . " WHERE query LIKE '%pg_sleep(1.5)%' AND pid <> pg_backend_pid()");
    ok(!served_from_cache($b, $UP, auth_bearer($tok2), $id2, 8), 'no token is answered from the cache');
};

$b->httpd_stop;
$pgb->stop;
done_testing;
