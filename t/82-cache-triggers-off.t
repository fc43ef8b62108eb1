#!/usr/bin/perl
# Notifying triggers found off (BBT710) withdraw the heartbeat then and
# there, not only once the last one has aged past 0.5 s: a change they
# miss must not be answered from entries the last heartbeat still vouches
# for.  httpd's boot clock, by which the heartbeat ages, is stopped, so
# the heartbeats the listener publishes stay as young as can be and only
# the withdrawal can refuse the token.  The two triggers that hear a
# revocation (the tokens' and bbtoken_lookup's update triggers) are
# disabled, then a token revoked: its notification never sent, the next
# request must read the database, and refuse it.  (t/82-cache-listener
# does the same for a lost connection.)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Cache qw(served_from_cache settle wait_log log_mark log_since);
use BBT::Clock qw(clock_preload stopped);

clock_preload();
my $env = BBT::Env->new->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
ok(wait_log($env, 0, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up');
my ($tok, $id) = $env->token_create('alice', name => 'unheard');
settle();
my @trig = (['bbtoken_tokens', 'bbtoken_tokens_notify_upd'], ['bbtoken_lookup', 'bbtoken_lookup_notify_upd']);
my $run = BBT::Cache::Guard->new(sub {
    stopped($env, 0);
    eval { $env->psql("ALTER TABLE $_->[0] ENABLE ALWAYS TRIGGER $_->[1]") for @trig };
});
stopped($env, 1);
ok(served_from_cache($env, $UP, auth_bearer($tok), $id), "httpd's boot clock stopped: answered from the cache");
my $mark = log_mark($env);
$env->psql("ALTER TABLE $_->[0] DISABLE TRIGGER $_->[1]") for @trig;
ok(wait_log($env, $mark, qr/BBT710: 10 of the 12 triggers/), 'the listener sees two triggers off (BBT710)');
# The identity changed with the triggers: every entry forgotten.  The
# token's made anew from the database, still live.
is($env->get($UP, auth_bearer($tok))->{status}, 200, 'still live: served, its entry made anew');
$env->psql("UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$id'");
is($env->psql("SELECT revoked FROM bbtoken_lookup WHERE id = '$id'"), 't', 'revoked, its notification never sent');
my $after = log_mark($env);
is_401($env->get($UP, auth_bearer($tok)), 1, 'the next request is refused');
like(log_since($env, $after), qr/BBT312: token \Q$id\E not answered from the cache: the listener's heartbeat is not fresh/,
     '  the heartbeat withdrawn, though no time has passed by the clock that ages it');
stopped($env, 0);
$env->psql("ALTER TABLE $_->[0] ENABLE ALWAYS TRIGGER $_->[1]") for @trig;
is_401($env->get($UP, auth_bearer($tok)), 1, 'triggers back: the revoked token stays refused');
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;

done_testing;
