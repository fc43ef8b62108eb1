# Last use and an expired token's refused use when httpd's clock is behind
# the database's (an NTP step back, a VM resumed from a snapshot, a host
# never in time): the database writes those times by its own clock, so
# they lie in httpd's future.  They must still be recorded about once per
# BBTokenLastUseInterval, not only once httpd's clock has caught up: the
# last use and its client address are a leaked token's trace, and
# revocation of unused tokens reads the last use.  With the cache and
# without it.  httpd runs with a preloaded clock (t/dso/clockback.c) that
# a file of the test's sets back.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use BBT::Env qw(auth_bearer);
use BBT::Clock qw(clock_preload);
use BBT::Cache ();

my $BACK = 3 * 3600;

clock_preload();

my $REMOTEIP = "RemoteIPHeader X-Forwarded-For\nRemoteIPInternalProxy 127.0.0.1\n$BBT::Env::DUMB_CONF"
    . "BBTokenLastUseInterval 1\n";
my $env = BBT::Env->new(modules => ['remoteip'], extra_conf => $REMOTEIP)->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $UP = '/dumb/PROJ/repo.git/HEAD';

sub set_back { BBT::Clock::set_back($env, $_[0]) }

# Requests from $addr, one every 0.2 s, until $done says so (up to 20 s):
# whether it did, and the statuses seen.
sub until_done {
    my ($tok, $addr, $done) = @_;
    my %seen;
    my $deadline = time + $BBT::Cache::LIMIT;
    while (time < $deadline) {
        $seen{ $env->get($UP, auth_bearer($tok, { 'X-Forwarded-For' => $addr }))->{status} }++;
        return (1, \%seen) if $done->();
        sleep 0.2;
    }
    return (0, \%seen);
}

for my $mode ('on', 'off') {
    subtest "BBTokenCache $mode, httpd's clock $BACK s behind" => sub {
        set_back(0);
        $env->httpd_restart(graceful => 1, extra_conf => "$REMOTEIP\nBBTokenCache $mode\n");
        my ($tok, $id) = $env->token_create('alice', name => "used-$mode");
        my ($ok, $seen) = until_done($tok, '192.0.2.1',
                                     sub { $env->token_row($id)->{last_authenticated} ne '' });
        ok($ok, 'a use on the real clock is recorded') or diag explain $seen;
        my $addrs = sub { $env->psql("SELECT array_to_string(last_addresses, ',') FROM bbtoken_tokens "
                                     . "WHERE id = '$id'") };
        set_back($BACK);
        ($ok, $seen) = until_done($tok, '192.0.2.2', sub { $addrs->() =~ /^192\.0\.2\.2\b/ });
        is_deeply([keys %$seen], [200], 'served (200)');
        ok($ok, 'a later use and its address are recorded within seconds, not hours')
            or diag 'last addresses: ' . $addrs->();

        my ($etok, $eid) = $env->token_create('alice', name => "expired-$mode", expiry_days => 1);
        # Expired 4 hours ago: so by httpd's clock set back too.
        $env->psql("SET session_replication_role = replica; UPDATE bbtoken_tokens SET "
                   . "created_at = now() - interval '3 days', expires_at = now() - interval '4 hours' "
                   . "WHERE id = '$eid'");
        my $audit = sub { $env->psql("SELECT count(*) FROM bbtoken_audit WHERE token_id = '$eid' "
                                     . "AND event = 'expired_refused'") };
        set_back(0);
        ($ok, $seen) = until_done($etok, '198.51.100.1', sub { $audit->() >= 1 });
        ok($ok, "an expired token's refusal on the real clock is audited");
        set_back($BACK);
        ($ok, $seen) = until_done($etok, '198.51.100.2', sub { $audit->() >= 2 });
        is_deeply([keys %$seen], [401], 'refused (401)');
        ok($ok, 'a later refusal is audited within seconds, not hours');
    };
}

# The database's clock set back instead: the times it wrote before the
# step lie in its own future (written here directly, as such a step leaves
# them), and httpd's clock is right.  The database must record the next
# use and refusal, not wait for its clock to catch up.
for my $mode ('on', 'off') {
    subtest "BBTokenCache $mode, the database's clock set back $BACK s" => sub {
        set_back(0);
        $env->httpd_restart(graceful => 1, extra_conf => "$REMOTEIP\nBBTokenCache $mode\n");
        my ($tok, $id) = $env->token_create('alice', name => "db-back-$mode");
        my ($ok, $seen) = until_done($tok, '192.0.2.3',
                                     sub { $env->token_row($id)->{last_authenticated} ne '' });
        ok($ok, 'a use is recorded') or diag explain $seen;
        $env->psql("SET session_replication_role = replica; UPDATE bbtoken_tokens SET "
                   . "last_authenticated = now() + interval '$BACK seconds' WHERE id = '$id'");
        my $addrs = sub { $env->psql("SELECT array_to_string(last_addresses, ',') FROM bbtoken_tokens "
                                     . "WHERE id = '$id'") };
        ($ok, $seen) = until_done($tok, '192.0.2.4', sub { $addrs->() =~ /^192\.0\.2\.4\b/ });
        is_deeply([keys %$seen], [200], 'served (200)');
        ok($ok, 'a later use and its address are recorded within seconds, not hours')
            or diag 'last addresses: ' . $addrs->();
        is($env->psql("SELECT last_authenticated <= now() FROM bbtoken_tokens WHERE id = '$id'"), 't',
           'the last use is now by the database\'s clock');

        my ($etok, $eid) = $env->token_create('alice', name => "db-back-expired-$mode", expiry_days => 1);
        $env->psql("SET session_replication_role = replica; UPDATE bbtoken_tokens SET "
                   . "created_at = now() - interval '3 days', expires_at = now() - interval '4 hours', "
                   . "expired_refused_at = now() + interval '$BACK seconds' WHERE id = '$eid'");
        my $audit = sub { $env->psql("SELECT count(*) FROM bbtoken_audit WHERE token_id = '$eid' "
                                     . "AND event = 'expired_refused'") };
        ($ok, $seen) = until_done($etok, '198.51.100.3', sub { $audit->() >= 1 });
        is_deeply([keys %$seen], [401], 'refused (401)');
        ok($ok, 'a refusal is audited within seconds, not hours');
    };
}

set_back(0);
is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
