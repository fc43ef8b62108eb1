# The leak reports' counts of ended windows, one per address (IPv6: per
# /64) that reported within an hour, are cleared a few at a time by each
# report and the rest by `bbtoken purge`: a client that left hundreds of
# thousands of them behind, from as many /64s, cannot make every later
# report run past the API's statement_timeout (503 for good: each report
# had them all to delete, and was rolled back).  A clearing that fails
# never fails the count.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Rest qw(rest_env);
use BBT::Assert;

# A statement_timeout of a second: deleting all the rows below in one
# statement takes longer (1.3 s for 300,000 on a quick machine), a report
# that clears 100 of them a few milliseconds.
my $env = rest_env(login => 'bbtoken', revoke_by_value => 1, modules => ['remoteip'],
                   env => { dbd_options => '-cstatement_timeout=1000' },
                   extra_conf => "RemoteIPHeader X-Forwarded-For\nRemoteIPInternalProxy 127.0.0.1\n");
$env->user_add('alice', '--email', 'alice@example.com');
my ($tok, $id) = $env->token_create('alice', name => 'x', perms => ['REPO_READ']);
my $URL = '/rest/access-tokens/latest/revoke-by-value';
my $N = 800_000;
my $ENDED = "SELECT count(*) FROM bbtoken_leak_throttle WHERE window_start <= now() - interval '1 hour'";

# What as many reports from as many /64s an hour ago leave behind.
$env->psql("INSERT INTO bbtoken_leak_throttle SELECT ('2001:db8:' || to_hex(g >> 16) || ':'"
           . " || to_hex(g & 65535) || '::/64')::inet, now() - interval '61 minutes', 1"
           . " FROM generate_series(1, $N) g");

subtest 'reports after a flood of ended counts: each counted, none refused' => sub {
    for my $i (1 .. 3) {
        my $res = $env->rest(POST => $URL, noauth => 1, json => [$tok],
                             headers => { 'X-Forwarded-For' => "10.66.0.$i" });
        is($res->{status}, 202, "report $i from a fresh address: 202") or diag $res->{content};
    }
    is($env->psql("SELECT revoked_at IS NOT NULL FROM bbtoken_tokens WHERE id = '$id'"), 't', 'the token is revoked');
    is($env->psql("SELECT string_agg(host(client_net) || ' ' || calls, ',' ORDER BY client_net)"
                  . " FROM bbtoken_leak_throttle WHERE window_start > now() - interval '1 hour'"),
       '10.66.0.1 1,10.66.0.2 1,10.66.0.3 1', 'each report is counted');
    is($N - $env->psql($ENDED), 300, 'each cleared 100 ended counts, no more');
    unlike($env->error_log_text, qr/BBT200/, 'no report failed');
};

subtest 'bbtoken purge deletes the ended counts, a batch at a time' => sub {
    # One ended count a report holds is left for it, not waited for.
    my $h = $env->pg_session('hold');
    $h->send("BEGIN; SELECT 1 FROM (SELECT 1 FROM bbtoken_leak_throttle"
             . " WHERE window_start <= now() - interval '1 hour' LIMIT 1 FOR UPDATE) h;");
    ok($h->done, 'a session holds one ended count');
    my ($rc, $out, $err) = $env->cli('purge', '--expired-before', '90d');
    is($rc, 0, 'purge') or diag $err;
    my $gone = $N - 300 - 1;
    is($out, "purged 0 tokens\npurged $gone ended leak report counts\n", 'it says how many');
    is($env->psql($ENDED), 1, 'only the one held is left');
    $h->send('ROLLBACK;');
    ok($h->done, 'given back');
    $h->finish;
    is($env->psql("SELECT count(*) FROM bbtoken_leak_throttle WHERE window_start > now() - interval '1 hour'"), 3,
       'the current counts stay');
    ($rc, $out, $err) = $env->cli('purge', '--expired-before', '90d');
    is($rc, 0, 'purge again') or diag $err;
    is($out, "purged 0 tokens\npurged 1 ended leak report count\n", 'the last one');
    is($env->psql($ENDED), 0, 'none is left');
};

subtest 'a clearing that fails leaves the count alone' => sub {
    $env->psql("INSERT INTO bbtoken_leak_throttle VALUES ('192.0.2.80', now() - interval '2 hours', 4)");
    # Under REPEATABLE READ, an ended count changed since the caller's
    # snapshot cannot be deleted (40001).
    my $s = $env->pg_session('rr');
    $s->send("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 'seen ' || count(*) FROM bbtoken_leak_throttle;");
    ok($s->done, 'a caller has its snapshot');
    $env->psql("UPDATE bbtoken_leak_throttle SET calls = 5 WHERE client_net = '192.0.2.80'");
    $s->send("SELECT 'wait ' || bbtoken_api_leak_throttle('192.0.2.81', 30, 3600); COMMIT;");
    ok($s->done, 'it has counted');
    my $out = $s->finish;
    unlike($out, qr/ERROR/, 'without an error') or diag $out;
    like($out, qr/^wait 0$/m, 'it may go on');
    is($env->psql("SELECT calls FROM bbtoken_leak_throttle WHERE client_net = '192.0.2.81'"), 1, 'its count is made');
    is($env->psql("SELECT calls FROM bbtoken_leak_throttle WHERE client_net = '192.0.2.80'"), 5,
       'the ended count it could not delete stays, for the next');
};

done_testing;
