#!/usr/bin/perl
# A request believes the cache only while the listener's heartbeat is
# younger than 0.5 s (README, The cache): that bound is what makes a
# revocation hold everywhere within half a second.  A test that waits for
# a revoked token to be refused cannot tell 0.5 s from 10 s, so here the
# heartbeat is aged by exactly as much as the test says: the listener's
# backend is frozen (no heartbeat comes back, no notification is read),
# and httpd's boot clock, by which the heartbeat ages, is stopped 0.55 s
# past that moment.  The last heartbeat is then at least 0.55 s old, and
# older than that only by the little the test took to freeze the backend;
# a token revoked meanwhile must be refused by the next request, read
# from the database.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Cache qw(served_from_cache settle wait_log log_mark log_since listener_pid freeze_idle);
use BBT::Clock qw(clock_preload stopped stopped_at boot_now);

clock_preload();
my $env = BBT::Env->new->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
ok(wait_log($env, 0, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up');
my ($tok, $id) = $env->token_create('alice', name => 'bound');
my ($other, $oid) = $env->token_create('alice', name => 'other');
settle();
ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'answered from the cache');
ok(served_from_cache($env, $UP, auth_bearer($other), $oid), 'the other too');

my $pid = listener_pid($env);
like($pid, qr/^\d+$/, "the listener's backend: $pid");
my $thaw = BBT::Cache::Guard->new(sub { kill 'CONT', $pid; stopped($env, 0) });
my $tries = freeze_idle($env, $pid);
ok($tries, "its backend frozen ($tries tries)");
# No heartbeat can come back from now on: the last one was sent before
# this moment.  httpd's boot clock 0.55 s on, and standing still there.
stopped_at($env, boot_now() + 0.55);
$env->cli_ok('revoke', $id);
my $mark = log_mark($env);
is_401($env->get($UP, auth_bearer($tok)), 1, 'revoked, the heartbeat 0.55 s old: refused');
like(log_since($env, $mark), qr/BBT312: token \Q$id\E not answered from the cache: the listener's heartbeat is not fresh/,
     '  the heartbeat is not believed past half a second');
kill 'CONT', $pid;
stopped($env, 0);
ok(served_from_cache($env, $UP, auth_bearer($other), $oid), 'the cache is believed again');
is_401($env->get($UP, auth_bearer($tok)), 1, 'the revoked token stays refused');
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;

done_testing;
