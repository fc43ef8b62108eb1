#!/usr/bin/perl
# The child that holds the cache's listener exits (here SIGTERM, as
# httpd's own stop of a child; MaxConnectionsPerChild and prefork's spare
# children end it alike): its listener ends, and the cache must not
# outlive it.  Requests read the database until another child's listener
# is in service (README, The cache).  httpd's boot clock, by which the
# heartbeat ages, is stopped first, so that an aged heartbeat cannot be
# what refuses: a token revoked once the listener is gone (no one hears
# it) must be refused by the next request.
#
# Another child's listener may take over at any moment after the exit
# (mod_watchdog's mutex passes on): once it is in service it has forgotten
# every entry, and the token is refused from the database all the same.
# So the refusal is asserted whenever it comes; why the cache was not
# believed (the heartbeat withdrawn) only while no other listener had
# said it is in service.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Cache qw(served_from_cache settle wait_log log_mark log_since);
use BBT::Clock qw(clock_preload stopped);

clock_preload();
my $env = BBT::Env->new(mpm => 'prefork')->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
ok(wait_log($env, 0, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up');
my ($pid) = (log_since($env, 0) =~ /\[pid (\d+)(?::tid \d+)?\] BBT309: /g)[-1];
ok($pid, "the listener's child: $pid");
my ($tok, $id) = $env->token_create('alice', name => 'after exit');
settle();
my $run = BBT::Cache::Guard->new(sub { stopped($env, 0) });
stopped($env, 1);
ok(served_from_cache($env, $UP, auth_bearer($tok), $id), "httpd's boot clock stopped: answered from the cache");
my $mark = log_mark($env);
is(kill('TERM', $pid), 1, "the listener's child ended (SIGTERM)");
my $until = time + 30;
sleep 0.02 while kill(0, $pid) && time < $until;
ok(!kill(0, $pid), '  it is gone');
$env->cli_ok('revoke', $id);
my $after = log_mark($env);
is_401($env->get($UP, auth_bearer($tok)), 1, 'revoked with no listener: the next request is refused');
SKIP: {
    skip 'another child\'s listener was in service before the request', 1
        if log_since($env, $mark) =~ /BBT309: /;
    like(log_since($env, $after), qr/BBT312: token \Q$id\E not answered from the cache: the listener's heartbeat is not fresh/,
         '  the heartbeat withdrawn when the listener ended, though no time passed by the clock that ages it');
}
stopped($env, 0);
ok(wait_log($env, $mark, qr/BBT309: /, 60), 'another child\'s listener hears PostgreSQL');
is_401($env->get($UP, auth_bearer($tok)), 1, 'the revoked token stays refused');
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;

done_testing;
