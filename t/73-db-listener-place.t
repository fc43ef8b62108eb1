# The token cache's listener takes a pooled connection to learn the
# database's session (when it connects again) as a request would: from a
# place among the module's own, never from mod_dbd's queue.  Here the
# child's one pooled connection (DBDMax 1) is held by a request waiting for
# a lock when the listener loses its own connection: it says the pool has
# no connection for it and tries again later, hearing PostgreSQL again
# once the request is done.  It used to wait in mod_dbd's queue for as
# long as the request held the connection (without a statement_timeout,
# for good), and a child's exit waits for the listener's thread.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(sleep);
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Cache qw(wait_log log_mark);

plan skip_all => 'one child with threads: the event or worker MPM' if ($ENV{BBT_MPM} // '') eq 'prefork';

# No statement_timeout: the request's lookup waits for the lock as long as
# it is held.
my $env = BBT::Env->new(extra_conf => "DBDMin 0\nDBDKeep 1\nDBDMax 1\nBBTokenDBWait 1\n",
                        mpm_conf => BBT::Util::one_child_mpm(8), dbd_options => '')->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $tok = $env->token_create('alice', name => 'ci');
ok(wait_log($env, 0, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up');

# The one pooled connection held: a token the cache has not seen, its
# lookup behind a lock on bbtoken_lookup.
$env->lock_tables('bbtoken_lookup');
my $holder = fork // die "fork: $!";
if (!$holder) {
    my $r = HTTP::Tiny->new(timeout => 120, keep_alive => 0)->get($env->url($UP), { headers => auth_bearer($tok) });
    POSIX::_exit($r->{status} == 200 ? 0 : 1);
}
my $n = 0;
for (1 .. 200) { last if ($n = $env->waiting_on_lock('bbtoken_httpd')) >= 1; sleep 0.05 }
is($n, 1, "a request holds the child's one pooled connection, waiting for the lock");

my $mark = log_mark($env);
my $pid = $env->psql("SELECT pid FROM pg_stat_activity WHERE application_name = 'mod_bbtoken listener'");
like($pid, qr/^\d+$/, "the listener's backend: $pid");
is($env->psql("SELECT pg_terminate_backend($pid)"), 't', 'terminated');
ok(wait_log($env, $mark, qr/BBT307: the token cache's listener lost its connection/), 'the listener says so');
ok(wait_log($env, $mark, qr/BBT308: the token cache's listener cannot reach PostgreSQL \(every pooled connection is in use\)/),
   'it finds no place for a pooled connection, and says so, rather than waiting in the pool');
is($env->waiting_on_lock('bbtoken_httpd'), 1, 'the request still waits for the lock meanwhile');

$env->unlock_tables;
waitpid($holder, 0);
is($?, 0, 'the lock gone, the request is served (200)');
ok(wait_log($env, $mark, qr/BBT309: the token cache's listener hears PostgreSQL again/), 'and the listener hears PostgreSQL again');
is($env->get($UP, auth_bearer($tok))->{status}, 200, 'the token is served');

done_testing;
