# What httpd makes of a database that aborts one of its transactions to let
# a concurrent one go on (40P01 deadlock detected), and of a token row
# another transaction holds: the API runs the aborted change again and
# answers as if nothing had happened (never 500 or 503 for it, never 401),
# and a request whose token's last use is due is answered without waiting
# for the other transaction.  Deterministic: a psql session holds the rows,
# and pg_stat_activity says who waits.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Rest qw(rest_env);
use BBT::Cache qw(until_status);

# The holder's own deadlock_timeout is long, so PostgreSQL's check in the
# httpd backend, which waited first, is the one that finds the deadlock.
my $env = rest_env(passwords => [alice => 'alice-Pa55-word'], users => ['alice'], repos => [[PROJ => 'one']],
                   grants => [[alice => REPO_WRITE => 'PROJ/one']],
                   extra_conf => "BBTokenLastUseInterval 0\n",
                   env => { pg_conf => { deadlock_timeout => "'3s'" } });
my $GIT = '/scm/PROJ/one.git/info/refs?service=git-upload-pack';

# A request in the background: a function that waits for it and returns
# its status.
sub rest_bg {
    my (@args) = @_;
    my $f = $env->dir . '/run/rest-bg';
    unlink $f;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $res = $env->rest(@args);
        BBT::Util::spew($f, "$res->{status}\n");
        POSIX::_exit(0);
    }
    return sub { waitpid($pid, 0); my $s = BBT::Util::slurp($f); chomp $s; return $s };
}

subtest 'a rename the database aborts to break a deadlock is made again: 200' => sub {
    my (undef, $id) = $env->token_create('alice', name => 'first', perms => ['REPO_READ']);
    my $log = length $env->error_log_text;
    my $s = $env->pg_session('holder1');
    $s->send("SET deadlock_timeout = '10min'; BEGIN;"
             . " SELECT 1 FROM bbtoken_tokens WHERE id = '$id' FOR UPDATE;");
    ok($s->done, 'a session holds the token');
    my $wait = rest_bg('POST', "/rest/access-tokens/1.0/users/alice/$id", as => 'alice',
                       json => { name => 'second' });
    ok($env->pg_wait_blocked('%bbtoken_api_update%'), 'the rename holds the owner and waits for the token');
    $s->send("SELECT 1 FROM bbtoken_users WHERE name = 'alice' FOR UPDATE;");
    ok($s->done, 'the session has the owner: the database aborted the rename');
    $s->send('ROLLBACK;');
    ok($s->done, 'and lets go');
    is($wait->(), 200, 'the rename is answered 200');
    is($env->psql("SELECT name FROM bbtoken_tokens WHERE id = '$id'"), 'second', 'and made');
    my $new = substr($env->error_log_text, $log);
    like($new, qr/BBT295: access-tokens API: updating a token: the database aborted it .*40P01/,
         'the retry is logged (BBT295)');
    unlike($new, qr/BBT200/, 'no failure is logged');
    like($env->pg_log_text, qr/deadlock detected/, 'PostgreSQL did abort it');
    $s->finish;
};

subtest 'a token used while a revocation of it is open: its last use is not waited for' => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'touched', perms => ['REPO_READ']);
    # Used once first, so that its address group is known: then the next
    # request's only write is its last use (due on every request here).
    is($env->get($GIT, auth_bearer($tok))->{status}, 200, 'the token is used');
    my $log = length $env->error_log_text;
    my $s = $env->pg_session('revoker2');
    $s->send("BEGIN; UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$id';");
    ok($s->done, 'a revocation holds the token, not committed');
    my $res = $env->get($GIT, auth_bearer($tok));
    is($res->{status}, 200, 'the token, live until the revocation commits, is let in');
    my $new = substr($env->error_log_text, $log);
    unlike($new, qr/BBT076/, 'its last use was not waited for (no failed write)');
    like($new, qr/BBT037: token $id of alice authenticated/, 'the request was authenticated');
    $s->send('COMMIT;');
    ok($s->done, 'the revocation commits');
    my ($ok, undef, $seen) = until_status($env, $GIT, auth_bearer($tok), 401);
    ok($ok, 'then the token is refused (401)') or diag $seen;
    $s->finish;
};

done_testing;
