#!/usr/bin/perl
# PostgreSQL's NOTIFY queue is the cluster's, and any role that may log in
# can fill it: a session that LISTENs inside an open transaction holds back
# its tail, and another's notifications pile up behind it.  Full, it fails
# every transaction that notifies (a revocation, a user disabled, a token
# made) at its COMMIT, until the holding session ends.  The cache's
# listener reads how full it is with its heartbeat and shows it on the
# metrics page (bbtoken_notify_queue_usage_ratio), and mod_status's.  Here
# httpd's own lookup role, whose password every repository host holds,
# holds the queue back and sends some hundreds of notifications of about
# a kilobyte: a few hundred kilobytes of a queue of 8 GB, enough for a
# gauge above 0.  The warning at half full (BBT315) and its all-clear
# under a quarter (BBT316) are not reached: a test cannot fill 4 GB of the
# machine's disk, and their thresholds are two comparisons.  The gauge
# comes back to 0 once the holding session ends.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use HTTP::Tiny;
use BBT::Env;
use BBT::Cache qw(wait_log);

my $env = BBT::Env->new(
    modules    => ['status', 'authz_host'],
    extra_conf => <<'EOC',
<Location /metrics>
    SetHandler bbtoken-metrics
    Require ip 127.0.0.1
</Location>
<Location /server-status>
    SetHandler server-status
    Require ip 127.0.0.1
</Location>
EOC
)->start;
ok(wait_log($env, 0, qr/BBT309: /), 'the cache\'s listener is up (BBT309)');

my $GAUGE = 'bbtoken_notify_queue_usage_ratio';

# One scrape: (the page's text, {series => value}).
sub scrape {
    my $r = HTTP::Tiny->new(timeout => 30, keep_alive => 0)->get($env->url('/metrics'));
    return ('', {}) unless $r->{status} == 200;
    my %v;
    for (split /\n/, $r->{content}) {
        $v{$1} = $2 if !/^#/ && /^(\S+) (\S+)$/;
    }
    return ($r->{content}, \%v);
}

# Scrape until $ok->(gauge's value) holds (a generous limit): (1, text,
# value), or (0, the last text, the last value).
sub scrape_until {
    my ($ok) = @_;
    my $deadline = time + 60;
    my ($text, $v);
    while (1) {
        ($text, $v) = scrape();
        return (1, $text, $v->{$GAUGE}) if defined $v->{$GAUGE} && $ok->($v->{$GAUGE});
        return (0, $text, $v->{$GAUGE}) if time > $deadline;
        sleep 0.1;
    }
}

my $usage = sub { $env->psql('SELECT pg_notification_queue_usage()') };

my ($ok, $text, $value) = scrape_until(sub { $_[0] == 0 });
ok($ok, "$GAUGE is on the page, 0 while the queue is empty") or diag "value: " . ($value // 'none') . "\n$text";
like($text, qr/^# TYPE \Q$GAUGE\E gauge$/m, '  a gauge');

my $hold = $env->pg_session('hold', user => 'bbtoken_httpd');
$hold->send("LISTEN bbt_held; BEGIN; SELECT 'holding';");
ok($hold->done, 'the lookup role listens, inside a transaction left open');
my ($rc, $out, $err) = $env->psql_try("SELECT count(pg_notify('bbt_fill', i || ' ' || repeat('x', 1000)))"
                                      . " FROM generate_series(1, 400) i", user => 'bbtoken_httpd');
is("$rc $out", "0 400\n", '  and sends 400 notifications of a kilobyte') or diag $err;
cmp_ok($usage->(), '>', 0, 'pg_notification_queue_usage() is above 0');

($ok, $text, $value) = scrape_until(sub { $_[0] > 0 });
ok($ok, "$GAUGE is above 0 ($value)") or diag "value: " . ($value // 'none');
cmp_ok($value, '<', 0.25, '  well under a quarter');
my (undef, $v) = scrape();
is($v->{bbtoken_cache_listeners}, 1, 'the listener still publishes its heartbeat');
my $status = HTTP::Tiny->new(timeout => 30)->get($env->url('/server-status?auto'));
like($status->{content}, qr/^BBTokenNotifyQueueUsage: 0\.\d*[1-9]$/m, 'mod_status\'s section has it too')
    or diag $status->{content};

SKIP: {
    skip 'no promtool (build/deps.sh installs Debian\'s prometheus)', 2
        if system('command -v promtool >/dev/null') != 0;
    my $file = $env->dir . '/scratch/metrics.txt';
    BBT::Env::spew($file, $text);
    my $lint = qx{promtool check metrics < $file 2>&1};
    is($?, 0, 'promtool check metrics, the gauge above 0') or diag $lint;
    is($lint, '', '  no complaint') or diag $lint;
}

unlike(BBT::Env::slurp($env->error_log_path), qr/BBT31[56]: /, 'nothing said of so little (BBT315, BBT316)');

$hold->finish;
($ok, $text, $value) = scrape_until(sub { $_[0] == 0 });
ok($ok, "$GAUGE is 0 again") or diag "value: " . ($value // 'none') . ', the queue: ' . $usage->();

done_testing;
