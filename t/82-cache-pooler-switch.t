#!/usr/bin/perl
# The listener's probe must come back on each of the listener's
# connections, not once in its life.  httpd reads the database through a
# PgBouncer in session mode: the cache is believed.  The PgBouncer is then
# replaced, on the same port, by one in transaction mode (which the README
# says not to use: it drops a notification that reaches the listener's
# server connection between its transactions).  The listener loses its
# connection and connects again, through the new one, where its own
# heartbeat still comes back (one server connection: the same backend
# every time) but another session's notification, its probe's, never
# does.  A probe that came back on the earlier connection proves nothing
# of this one: the cache must not be believed on it, no token answered
# from it and no BBT309 at notice, until the probe is found late (BBT712).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use BBT::Env qw(auth_bearer);
use BBT::PgBouncer;
use BBT::Cache qw(served_from_cache wait_log log_mark log_since settle);
use BBT::Util qw(port_open);

plan skip_all => BBT::PgBouncer::missing() if BBT::PgBouncer::missing();

my $a = BBT::Env->new(httpd => 0)->start;
my $pgb = BBT::PgBouncer->start($a, pool_mode => 'session');
my $pport = $pgb->port;
ok($pgb->listening, 'PgBouncer (session mode) listens');
my $b = BBT::Env->new(pg_from => $a, dbd_ports => [$pport], dbd_options => '')->start;
$b->make_repo('PROJ', 'repo');
$a->user_add('alice');
$a->grant('alice', 'PROJECT_WRITE', 'PROJ');
my ($tok, $id) = $a->token_create('alice', name => 'pooled');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
ok(wait_log($b, 0, qr/\[bbtoken:notice\] .*BBT309: the token cache's listener hears PostgreSQL/),
   'the listener is in service through PgBouncer in session mode');
settle();
ok(served_from_cache($b, $UP, auth_bearer($tok), $id), 'a token is answered from the cache');

# The same port, transaction mode, one server connection.
my $mark = log_mark($b);
$pgb->stop;
my $until = time + $BBT::Cache::LIMIT;
sleep 0.05 while port_open($pport) && time < $until;
ok(!port_open($pport), 'the session-mode PgBouncer is gone');
my $pgb2 = BBT::PgBouncer->start($a, listen_port => $pport, pool_mode => 'transaction', default_pool_size => 1);
ok($pgb2->listening, 'a transaction-mode PgBouncer listens on the same port');
ok(wait_log($b, $mark, qr/BBT307: the token cache's listener lost its connection/), 'the listener lost its connection');

# Through the listener's next connection, from its LISTEN until its probe
# is found late (BBT712), every request asks; none may be answered from
# the cache.
my $deadline = time + 45;
my $since = '';
while (time < $deadline) {
    $b->get($UP, auth_bearer($tok));
    $since = log_since($b, $mark);
    last if $since =~ /BBT712: /;
    sleep 0.05;
}
like($since, qr/BBT712: the token cache's listener does not hear other sessions' notifications/,
     'the probe never comes back on the new connection (BBT712)');
unlike($since, qr/\[bbtoken:notice\] .*BBT309: /, 'the listener is not said to be in service (no BBT309 at notice)');
my @hits = grep { /BBT037: token \Q$id\E .*\(from the cache\)/ } split /\n/, $since;
is(scalar @hits, 0, 'no token is answered from the cache on that connection')
    or diag join "\n", @hits[0 .. ($#hits < 3 ? $#hits : 3)];
$pgb2->stop;
done_testing;
