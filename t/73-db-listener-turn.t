# The token cache's listener, connecting again, learns the pooled session
# through a connection of mod_dbd's pool, asked for in its turn, one
# thread of the child at a time (bbt_dbgate.h), and waits for that turn
# only while the thread that holds it has held it for less than 100 ms.
# Here a request holds the turn as long as the test likes: making a new
# connection, its DBDInitSQL waits for a lock (the pool's one connection
# is busy, another request's lookup waiting behind a lock too).  The
# child's own threads busy in the pool are no outage: the listener tries
# again a tenth of a second later, for as long as the turn is held, and
# is back as soon as it is given up.  It used to take this for a failure
# to connect, and back off each time, up to 8 s: a turn held a while kept
# the cache unused for seconds after it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use POSIX ();
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Cache qw(wait_log wait_lines log_mark log_since);

plan skip_all => 'one child with threads: the event or worker MPM' if ($ENV{BBT_MPM} // '') eq 'prefork';

# No statement_timeout: what waits for a lock waits as long as it is held.
my $env = BBT::Env->new(httpd => 0, dbd_options => '', mpm_conf => BBT::Util::one_child_mpm(8))->start;
$env->psql('CREATE TABLE bbt_turn (x int); GRANT SELECT ON bbt_turn TO PUBLIC');
$env->{extra_conf} = "DBDMin 1\nDBDKeep 1\nDBDMax 3\nBBTokenDBWait 1\nDBDInitSQL \"SELECT count(*) FROM bbt_turn\"\n";
$env->httpd_start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my @tok = map { scalar $env->token_create('alice', name => "t$_") } 1 .. 2;
ok(wait_log($env, 0, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up');

# Two tokens the cache has not seen: one lookup takes the pool's
# connection and waits behind the lock on bbtoken_lookup, the other makes
# a connection, in its turn, and waits behind the lock on bbt_turn.
$env->lock_tables('bbtoken_lookup', 'bbt_turn');
my @req;
for my $t (@tok) {
    my $p = fork // die "fork: $!";
    if (!$p) {
        my $r = HTTP::Tiny->new(timeout => 120, keep_alive => 0)->get($env->url($UP), { headers => auth_bearer($t) });
        POSIX::_exit($r->{status} == 200 ? 0 : 1);
    }
    push @req, $p;
}
ok($env->pg_wait_blocked('%bbt_turn%'), "a request's new connection waits in its DBDInitSQL, holding the turn");

my $mark = log_mark($env);
my $pid = $env->psql("SELECT pid FROM pg_stat_activity WHERE application_name = 'mod_bbtoken listener'");
like($pid, qr/^\d+$/, "the listener's backend: $pid");
is($env->psql("SELECT pg_terminate_backend($pid)"), 't', 'terminated');
ok(wait_log($env, $mark, qr/BBT307: the token cache's listener lost its connection/), 'the listener says so');
# Counted, with a generous limit: backing off, it tried about eight
# times a minute; trying again soon, many times a second.
my $TRIES = 15;
my $turn = qr/BBT308: the token cache's listener cannot reach PostgreSQL \(another thread of this child was taking a connection from mod_dbd's pool for longer than 100 ms\)/;
my @l = wait_lines($env->error_log_path, $mark, sub { grep({ /$turn/ } @_) >= $TRIES }, 60);
cmp_ok(scalar(grep { /$turn/ } @l), '>=', $TRIES, "it tries again and again while the turn is held (BBT308, at least $TRIES times)");
unlike(join("\n", @l), qr/BBT309: /, '  and does not hear PostgreSQL meanwhile');

$env->unlock_tables;
for my $p (@req) {
    waitpid($p, 0);
    is($?, 0, 'the locks gone, the request is served (200)');
}
ok(wait_log($env, $mark, qr/BBT309: the token cache's listener hears PostgreSQL again/), 'the listener hears PostgreSQL again');
unlike(log_since($env, $mark), qr/exit signal|BBT313/, 'no child died');

done_testing;
