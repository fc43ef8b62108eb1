# The leak reports' throttle, past what t/67-revoke-leaked pins down.  30
# calls an HOUR per address: Retry-After is what is left of that hour (not
# merely 1..3600), on the refused calls and on a call that passes the limit
# counted at once with another (the one refusal that is counted); a window
# 20 minutes old still holds; a window that ended starts a new one that
# ends an hour later (30 more calls, not unlimited); an IPv6 client is
# counted by its /64; a report from another address never clears a current
# count; the ended counts a report clears are the oldest; and it never
# waits for an ended count another call holds (SKIP LOCKED).  And a token
# revoked by a report that came through the proxy: the audit trail names
# the client, not httpd's own address (the database connection's,
# 127.0.0.1 here, as the client of t/67-revoke-leaked is).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Rest qw(rest_env);
use BBT::Token qw(forge_token);
use BBT::Assert;
use BBT::Util qw(spew);
my $env = rest_env(login => 'bbtoken', revoke_by_value => 1, modules => ['remoteip'],
                   extra_conf => "RemoteIPHeader X-Forwarded-For\nRemoteIPInternalProxy 127.0.0.1\n");
my $URL = '/rest/access-tokens/latest/revoke-by-value';
my $unknown = forge_token('000000000042');

sub from { my ($addr) = @_; return $env->rest(POST => $URL, noauth => 1, json => [$unknown], headers => { 'X-Forwarded-For' => $addr }) }
sub ra { my ($res) = @_; return $res->{headers}{'retry-after'} // '' }
sub row { my ($net) = @_; return $env->psql("SELECT calls FROM bbtoken_leak_throttle WHERE client_net = '$net'") }

subtest 'the window is an hour: Retry-After is what is left of it' => sub {
    my $t0 = time;
    my $n = 0;
    $n++ while $n < 40 && from('192.0.2.10')->{status} == 202;
    is($n, 30, '30 reports, then 429');
    my $res = from('192.0.2.10');
    is_status($res, 429, 'the 32nd: 429 (a refused call, read not written)');
    my $left = 3600 - (time - $t0);
    my $ra = ra($res);
    ok($ra =~ /^\d+\z/ && $ra >= $left - 2 && $ra <= 3600, "Retry-After $ra: the rest of the hour (>= $left - 2)");
    $env->psql("UPDATE bbtoken_leak_throttle SET window_start = window_start - interval '20 minutes'"
               . " WHERE client_net = '192.0.2.10'");
    $res = from('192.0.2.10');
    is_status($res, 429, 'the window 20 minutes older: still 429 (an hour, not less)');
    $left = 2400 - (time - $t0);
    $ra = ra($res);
    ok($ra =~ /^\d+\z/ && $ra >= $left - 2 && $ra <= 2401, "Retry-After $ra: 40 minutes left (>= $left - 2)");
};

subtest 'the 31st call (refused by its read): Retry-After the rest of the hour' => sub {
    my $t0 = time;
    my $res;
    for my $i (1 .. 31) {
        $res = from('192.0.2.11');
        last if $res->{status} != 202;
    }
    is_status($res, 429, 'the 31st: 429');
    my $left = 3600 - (time - $t0);
    my $ra = ra($res);
    ok($ra =~ /^\d+\z/ && $ra >= $left - 2 && $ra <= 3600, "Retry-After $ra: the rest of the hour (>= $left - 2)");
};

subtest 'counted at once with another past the limit: 429, the rest of the hour' => sub {
    # The 31st call is refused by its read (calls >= 30); only a call that
    # read 29 while another was counting gets past the read, and its count
    # says 31.
    $env->psql("INSERT INTO bbtoken_leak_throttle VALUES ('192.0.2.50', now(), 29)");
    my $t0 = time;
    my $s = $env->pg_session('count');
    $s->send("BEGIN; UPDATE bbtoken_leak_throttle SET calls = calls + 1 WHERE client_net = '192.0.2.50';");
    ok($s->done, 'another call counts the 30th, not committed');
    my $wait = BBT::Util::in_background($env->dir . '/run', sub {
        my $res = from('192.0.2.50');
        return "$res->{status} " . ra($res) });
    ok($env->pg_wait_backend('%', "usename = 'bbtoken_api' AND wait_event_type = 'Lock'"), 'the report\'s count waits');
    $s->send('COMMIT;');
    ok($s->done, 'the other committed');
    $s->finish;
    my ($st, $ra) = split ' ', $wait->();
    is($st, 429, 'the report: 429');
    my $left = 3600 - (time - $t0);
    ok(defined $ra && $ra =~ /^\d+\z/ && $ra >= $left - 2 && $ra <= 3600,
       'Retry-After ' . ($ra // '') . ": the rest of the hour (>= $left - 2)");
    is(row('192.0.2.50'), 31, 'counted: 31');
};

subtest 'a window that ended: a new one of 30 calls, which ends too' => sub {
    $env->psql("UPDATE bbtoken_leak_throttle SET window_start = now() - interval '2 hours'"
               . " WHERE client_net = '192.0.2.10'");
    my $n = 0;
    $n++ while $n < 40 && from('192.0.2.10')->{status} == 202;
    is($n, 30, 'the window over: 30 reports again, then 429');
    is($env->psql("SELECT calls || ' ' || (window_start > now() - interval '5 minutes')"
                  . " FROM bbtoken_leak_throttle WHERE client_net = '192.0.2.10'"), '30 true',
       '  counted in a window that starts now');
};

subtest 'an IPv6 client: counted by its /64' => sub {
    my $n = 0;
    $n++ while $n < 40 && from(sprintf '2001:db8:7:1::%x', $n + 1)->{status} == 202;
    is($n, 30, '30 reports from 30 addresses of one /64, then 429');
    is_status(from('2001:db8:7:1:ffff:ffff:ffff:fffe'), 429, 'another address of that /64: 429');
    is(row('2001:db8:7:1::/64'), 30, 'one count, of the /64');
    is_status(from('2001:db8:7:2::1'), 202, 'the next /64: 202');
};

subtest 'a report from another address leaves a current count alone' => sub {
    my $n = 0;
    $n++ while $n < 40 && from('192.0.2.20')->{status} == 202;
    is($n, 30, '192.0.2.20: 30 reports, then 429');
    is_status(from('192.0.2.21'), 202, '192.0.2.21 reports: 202');
    is(row('192.0.2.20'), 30, '192.0.2.20\'s count stays');
    is_status(from('192.0.2.20'), 429, '192.0.2.20 is still refused');
};

subtest 'the ended counts a report clears: the 100 oldest' => sub {
    $env->psql("DELETE FROM bbtoken_leak_throttle WHERE window_start <= now() - interval '1 hour'");
    # Stored newest first: the oldest are not the first rows read.
    $env->psql("INSERT INTO bbtoken_leak_throttle SELECT ('198.18.0.' || g)::inet,"
               . " now() - interval '2 hours' - g * interval '1 minute', 1 FROM generate_series(1, 150) g");
    is_status(from('192.0.2.30'), 202, 'a report: 202');
    is($env->psql("SELECT string_agg(host(client_net), ',' ORDER BY window_start DESC) = "
                  . " (SELECT string_agg('198.18.0.' || g, ',' ORDER BY g) FROM generate_series(1, 50) g)"
                  . " FROM bbtoken_leak_throttle WHERE window_start <= now() - interval '1 hour'"), 't',
       'the 50 newest ended counts are left, the 100 oldest cleared');
};

subtest 'a report does not wait for an ended count another holds' => sub {
    $env->psql("INSERT INTO bbtoken_leak_throttle VALUES ('198.19.0.1', now() - interval '3 days', 2)");
    my $h = $env->pg_session('hold');
    $h->send("BEGIN; SELECT 1 FROM bbtoken_leak_throttle WHERE client_net = '198.19.0.1' FOR UPDATE;");
    ok($h->done, 'a session holds the oldest ended count');
    # Which comes first: the report's answer, or the report waiting for a
    # lock (then the held row is given back, so that it ends).
    my $done = $env->dir . '/run/leak-report-done';
    unlink $done;
    my $wait = BBT::Util::in_background($env->dir . '/run', sub {
        my $st = from('192.0.2.40')->{status};
        spew($done, $st);
        return $st });
    my $waited = 0;
    for (1 .. 1200) {
        last if -e $done;
        if ($env->psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'bbtoken_api'"
                       . " AND wait_event_type = 'Lock'", db => 'postgres') > 0) {
            $waited = 1;
            last;
        }
        select undef, undef, undef, 0.05;
    }
    ok(!$waited, 'the report meanwhile does not wait for it');
    $h->send('ROLLBACK;');
    ok($h->done, 'given back');
    $h->finish;
    is($wait->(), 202, 'the report: 202');
    is(row('198.19.0.1'), 2, 'the held count is left for a later report');
    is(row('192.0.2.40'), 1, 'the report was counted');
};

subtest 'revoked through the proxy: the audit trail names the client' => sub {
    $env->user_add('alice', '--email', 'alice@example.com');
    my ($tok, $id) = $env->token_create('alice', name => 'proxied', perms => ['REPO_READ']);
    my $res = $env->rest(POST => $URL, noauth => 1, json => [$tok], headers => { 'X-Forwarded-For' => '198.51.100.7' });
    is_status($res, 202, 'reported from 198.51.100.7: 202');
    is($env->psql("SELECT event || ' ' || actor || ' ' || host(client_addr) FROM bbtoken_audit"
                  . " WHERE token_id = '$id' AND event LIKE 'revoked%'"),
       'revoked_leaked leak report 198.51.100.7', 'revoked_leaked, from 198.51.100.7');
};

done_testing;
