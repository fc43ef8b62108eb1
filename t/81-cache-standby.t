# The cache and a hot standby.  DBDParams name a standby first and the
# primary second (target_session_attrs=any), so mod_dbd's pooled
# connections read the standby while the cache's listener, which asks libpq
# for the primary whatever DBDParams say, hears the primary.  The standby
# replays the primary's changes late: what it answers is never kept, so a
# token revoked on the primary, read as live from the lagging standby
# after the revocation's notification, is refused at once when the standby
# has replayed it.  The throttled writes a standby refuses fail quietly:
# the request is served, and each child says so once.  The listener's
# probe, a NOTIFY from a pooled connection, cannot be sent from the
# standby: it is not tried there (a refused one is an ERROR line in the
# standby's log), the listener says so once and looks again every ten
# seconds, and the cache is not believed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(sleep time);
use BBT::Env qw(auth_bearer forge_token);
use BBT::Assert;
use BBT::Cache qw(wait_log log_mark log_since settle listener_count);
use BBT::Util qw(slurp);

my $env = BBT::Env->new(httpd => 0, extra_conf => <<'EOC')->start;
<Location /metrics>
    SetHandler bbtoken-metrics
    Require all granted
</Location>
EOC
my $sport = $env->pg_standby;
ok($sport, "a hot standby on port $sport");
is($env->pg_standby_psql('SELECT pg_is_in_recovery()'), 't', 'it is in recovery');
$env->{dbd_ports} = [$sport, $env->pg_port];
$env->{dbd_conninfo} = 'target_session_attrs=any';
$env->write_cgi;
my $t0 = time;
$env->httpd_start;

$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my ($tok, $id) = $env->token_create('alice', name => 'to revoke');
my ($good, $gid) = $env->token_create('alice', name => 'good');
my ($fresh, $fid) = $env->token_create('alice', name => 'never used');
ok($env->pg_standby_caught_up, 'the standby has the users and tokens');

# The counters of the metrics page.
sub metrics {
    my $r = HTTP::Tiny->new(timeout => 30, keep_alive => 0)->get($env->url('/metrics'));
    my %v;
    for (split /\n/, $r->{content} // '') {
        $v{$1} = $2 if !/^#/ && /^(\S+) (\S+)$/;
    }
    return \%v;
}

# Entries kept (or tried) so far.
sub stores {
    my $v = metrics();
    return ($v->{bbtoken_cache_stores_total} // 0) + ($v->{bbtoken_cache_store_failures_total} // 0);
}

# Backends of httpd's role on the cluster (the primary) or the standby, the
# listener's or the pool's.
sub backends {
    my ($standby, $listener) = @_;
    my $sql = "SELECT count(*) FROM pg_stat_activity WHERE usename = 'bbtoken_httpd' AND application_name "
        . ($listener ? '=' : '<>') . " 'mod_bbtoken listener'";
    return $standby ? $env->pg_standby_psql($sql) : $env->psql($sql);
}

# How many lines of the log since $mark match $re, most in one process.
sub most_per_child {
    my ($mark, $re) = @_;
    my %n;
    for (split /\n/, log_since($env, $mark)) {
        $n{ /\[pid (\d+)/ ? $1 : 0 }++ if $_ =~ $re;
    }
    my ($most) = sort { $b <=> $a } values %n;
    return ($most // 0, scalar keys %n);
}

subtest 'the listener hears the primary, the pool reads the standby' => sub {
    # Connected, its probe cannot be sent from the pool: never in service.
    ok(wait_log($env, 0, qr/BBT714: /), 'the listener is connected, its probe not sent (BBT714)');
    is(listener_count($env), 1, "the listener is in the primary's pg_stat_activity");
    is($env->pg_standby_psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mod_bbtoken listener'"),
       0, "and not in the standby's");
    is_ok_res($env->get($UP, auth_bearer($good)), 'a good token: 200');
    cmp_ok(backends(1, 0), '>=', 1, "the pool's connections are on the standby");
    is(backends(0, 0), 0, 'none on the primary');
    like(log_since($env, 0), qr/BBT811: token lookups read a hot standby/, 'a warning says so (BBT811)');
    ok(wait_log($env, 0, qr/\[bbtoken:warn\] .*BBT714: the token cache's listener cannot send its probe: .*hot standby/),
       'the listener says its probe cannot be sent from the pool (BBT714, a warning)');
    unlike(log_since($env, 0), qr/\[bbtoken:notice\] .*BBT309: /,
           'nor that it hears PostgreSQL (BBT309): the cache is not believed');
};

subtest 'what the standby answers is never kept' => sub {
    settle();
    my $before = stores();
    my $mark = log_mark($env);
    is_ok_res($env->get($UP, auth_bearer($good)), 'a good token: 200') for 1 .. 3;
    is_401($env->get($UP, auth_bearer(forge_token(sprintf '%012d', int rand 1e12))), 1, 'an unknown token: 401');
    is_401($env->get($UP, auth_bearer(forge_token($gid))), 1, "the good token's id with another secret: 401");
    my $log = log_since($env, $mark);
    unlike($log, qr/\(from the cache\)/, 'none answered from the cache');
    like($log, qr/BBT312: token \Q$gid\E not answered from the cache: no entry/,
         'the good token had no entry each time');
    is(metrics()->{bbtoken_cache_listeners}, 0,
       'and the cache is not believed: its listener is up, its probe cannot be sent from the standby');
    is(stores(), $before, 'no entry was kept');
    my ($most) = most_per_child(0, qr/BBT811: /);
    is($most, 1, 'BBT811 is said once per child');
};

subtest 'a token revoked on the primary, read as live from the lagging standby' => sub {
    is_ok_res($env->get($UP, auth_bearer($tok)), 'before: 200');
    settle();
    $env->pg_standby_psql('SELECT pg_wal_replay_pause()');
    my $heard = metrics()->{bbtoken_cache_notifications_total} // 0;
    $env->cli_ok('revoke', $id);
    # Where the WAL ends, the revocation's commit in it: with
    # synchronous_commit off, pg_current_wal_lsn (what is written) may
    # still be short of it.
    my $lsn = $env->psql('SELECT pg_current_wal_insert_lsn()');
    # The revocation's notification has moved the generation: what is
    # read from now on is stamped with the new one.
    my $deadline = time + 30;
    sleep 0.05 while (metrics()->{bbtoken_cache_notifications_total} // 0) <= $heard && time < $deadline;
    cmp_ok(metrics()->{bbtoken_cache_notifications_total} // 0, '>', $heard, 'the listener heard the revocation');
    is($env->pg_standby_psql("SELECT pg_last_wal_replay_lsn() < '$lsn'::pg_lsn"), 't',
       'the standby has not replayed it')
        or diag $env->pg_standby_psql("SELECT pg_get_wal_replay_pause_state() || ' ' || pg_last_wal_replay_lsn()")
                . " primary after the revocation: $lsn";
    my $before = stores();
    is_ok_res($env->get($UP, auth_bearer($tok)), 'read from the standby: 200') for 1 .. 2;
    is_ok_res($env->get($UP, auth_bearer($good)), 'a good token meanwhile: 200');
    is(stores(), $before, 'and nothing is kept');
    $env->pg_standby_psql('SELECT pg_wal_replay_resume()');
    my $ok = 0;
    for (1 .. 1200) {
        last if $ok = $env->pg_standby_psql("SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn") eq 't';
        sleep 0.05;
    }
    ok($ok, 'the standby has replayed the revocation');
    is_401($env->get($UP, auth_bearer($tok)), 1, 'refused at once');
    is_401($env->get($UP, auth_bearer($tok)), 1, 'and again');
    is_ok_res($env->get($UP, auth_bearer($good)), 'the good token: 200');
};

subtest 'a last use due on the standby: 200, one line per child at most' => sub {
    my $mark = log_mark($env);
    is_ok_res($env->get($UP, auth_bearer($fresh)), "a token never used: 200") for 1 .. 6;
    my $log = log_since($env, $mark);
    my $re = qr/BBT812: |BBT076: |BBT602: /;
    my ($most) = most_per_child(0, $re);
    cmp_ok($most, '<=', 1, 'at most one line per child about the writes (since the start)');
    unlike($log, qr/BBT076: |BBT602: /, 'no failed write logged per request');
    like(log_since($env, 0), qr/BBT812: .*hot standby/, 'BBT812 says the writes are not recorded');
    is($env->psql("SELECT last_authenticated IS NULL FROM bbtoken_tokens WHERE id = '$fid'"), 't',
       'its last use is not recorded');
};

subtest 'a standby alone: the listener cannot connect, the cache is not believed' => sub {
    my $alone = BBT::Env->new(pg_from => $env, dbd_ports => [$sport])->start;
    $alone->make_repo('PROJ', 'repo');
    ok(wait_log($alone, 0, qr/BBT308: the token cache's listener cannot reach PostgreSQL \([^)]*standby/),
       'the listener says it cannot reach the primary (BBT308)');
    unlike(log_since($alone, 0), qr/BBT309: /, 'and never hears PostgreSQL');
    my $mark = log_mark($alone);
    is_ok_res($alone->get($UP, auth_bearer($good)), 'a good token: 200, read from the standby') for 1 .. 3;
    my $log = log_since($alone, $mark);
    is(scalar(() = $log =~ /BBT037: token \Q$gid\E /g), 3, 'all three authenticated');
    unlike($log, qr/\(from the cache\)/, 'none from the cache');
    is($alone->crash_lines, 0, 'no httpd child crashed there');
};

subtest 'the probe is never sent from the standby, and said once' => sub {
    my $log = log_since($env, 0);
    my @told = grep { /BBT714: / } split /\n/, $log;
    is(scalar(grep { /\[bbtoken:warn\]/ } @told), 1, 'BBT714 is a warning once, then debug');
    # Tried every second before: at most one every ten seconds, with room
    # to spare for a slow host (which only makes fewer).
    cmp_ok(scalar(@told), '<=', 2 + (time - $t0) / 5, 'looked at again every ten seconds, not every second')
        or diag scalar(@told) . ' in ' . int(time - $t0) . ' s';
    my $sblog = slurp($env->{pg_standby}{log});
    unlike($sblog, qr/cannot execute NOTIFY during recovery/, "no refused NOTIFY in the standby's log");
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
