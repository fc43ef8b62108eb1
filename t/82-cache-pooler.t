# The cache through a session-pooling proxy between httpd and PostgreSQL
# (README: session pooling is fine), which gives libpq a cancel key of its
# own, so PQbackendPID is not the pid a notification carries
# (t/keeper/keyproxy.pl stands in for PgBouncer in session mode, so this
# runs without it; t/82-cache-pooler-pgbouncer runs PgBouncer).  The
# listener asks its session for its backend's pid: its heartbeats count,
# tokens are answered from the cache, and a revocation made on another
# server reaches this one's cache through the proxy.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Cache qw(served_from_cache until_status wait_log log_since);
use BBT::Util qw(free_port port_open);
use Time::HiRes qw(sleep time);

my $a = BBT::Env->new->start;
my $pport = free_port();
my $proxy = fork // die "fork: $!";
if (!$proxy) {
    exec 'perl', "$FindBin::Bin/keeper/keyproxy.pl", $pport, $a->{pgport} or die "keyproxy: $!";
}
my $until = time + 30;
sleep 0.05 until port_open($pport) || time > $until;
my $b = BBT::Env->new(pg_from => $a, dbd_ports => [$pport], dbd_conninfo => 'sslmode=disable gssencmode=disable')->start;
$b->make_repo('PROJ', 'repo');
$a->user_add('alice');
$a->grant('alice', 'PROJECT_WRITE', 'PROJ');
my ($tok, $id) = $a->token_create('alice', name => 'pooled');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

is($b->get($UP, auth_bearer($tok))->{status}, 200, 'served through the proxy');
ok(wait_log($b, 0, qr/BBT309: /), 'the listener hears PostgreSQL through it (BBT309)');
ok(served_from_cache($b, $UP, auth_bearer($tok), $id), 'the token is answered from the cache');
$a->cli_ok('revoke', $id);
my ($ok, $tries, $seen) = until_status($b, $UP, auth_bearer($tok), 401);
ok($ok, 'revoked with the CLI: refused through the proxy') or diag "after $tries: $seen";
my @lost = log_since($b, 0) =~ /(BBT307: [^\n]*)/g;
is(scalar(@lost), 0, 'the listener never lost its connection') or diag join "\n", @lost;
is(scalar($b->crash_lines), 0, 'no httpd child crashed');
$b->httpd_stop(graceful => 1);
kill 'TERM', $proxy;
waitpid $proxy, 0;
done_testing;
