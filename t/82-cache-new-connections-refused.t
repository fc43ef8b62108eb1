#!/usr/bin/perl
# An outage that spares the cache's listener: PostgreSQL refuses httpd's
# new connections (here its role made NOLOGIN; a pg_hba line, a password
# changed or a connection limit alike) while the listener's own
# connection lives on.  The listener still hears the database, so the
# cache is believed, as README says: a token it holds is answered as the
# database last said, for as long as that lasts, while a token it does not
# hold is 503 (its lookup needs a new connection).  Its probe cannot be
# sent from the pool (BBT713, at debug) and that alone stops nothing.  A
# revocation still reaches the listener, and the revoked token is no
# longer answered from the cache: 503, never 200.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Cache qw(wait_log log_mark log_since served_from_cache until_status settle);

my $env = BBT::Env->new->start;
ok(wait_log($env, 0, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up');
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
my ($held, $held_id) = $env->token_create('alice', name => 'held');
my ($fresh) = $env->token_create('alice', name => 'fresh');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
# Its first use writes its last use and address group, whose
# notifications forget its entry: settled, it is made again for good.
ok(served_from_cache($env, $UP, auth_bearer($held), $held_id), 'a token the cache holds');
settle();
ok(served_from_cache($env, $UP, auth_bearer($held), $held_id), '  once its first use\'s writes are heard');

my $mark = log_mark($env);
$env->psql('ALTER ROLE bbtoken_httpd NOLOGIN');
is($env->psql("SELECT count(pg_terminate_backend(pid)) > 0 FROM pg_stat_activity WHERE usename = 'bbtoken_httpd'"
              . " AND application_name <> 'mod_bbtoken listener'"), 't', "httpd's pooled connections dropped");
is($env->psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mod_bbtoken listener'"), 1,
   "the listener's stays");
# Seconds pass, well past the heartbeat's half second: the probe is
# tried every second.
ok(wait_log($env, $mark, qr/BBT713: (?s:.*)BBT713: (?s:.*)BBT713: /, 60),
   'the listener cannot send its probe, again and again (BBT713)');
is_503($env->get($UP, auth_bearer($fresh)), 'a token the cache does not hold');
my $m2 = log_mark($env);
is_ok_res($env->get($UP, auth_bearer($held)), 'the token the cache holds: answered');
like(log_since($env, $m2), qr/BBT037: token \Q$held_id\E .*\(from the cache\)/, '  from the cache');
unlike(log_since($env, $mark), qr/BBT30[78]: /, 'the listener never lost the database');

$env->psql("UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$held_id'");
my ($ok, $n, $seen) = until_status($env, $UP, auth_bearer($held), 503);
ok($ok, 'revoked meanwhile: no longer answered from the cache (503)') or diag $seen;
ok(!(grep { $_ != 200 && $_ != 503 } split ' ', $seen), '  only 200 before it, then 503') or diag $seen;

$env->psql('ALTER ROLE bbtoken_httpd LOGIN');
($ok, $n, $seen) = until_status($env, $UP, auth_bearer($fresh), 200);
ok($ok, 'LOGIN given back: the token the cache did not hold is answered') or diag $seen;
is_401($env->get($UP, auth_bearer($held)), 1, 'the revoked one is refused');
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
