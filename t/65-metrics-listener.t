# bbtoken_cache_listeners says whether the listener holds its connection
# and publishes its heartbeat, as a scrape finds it, and the listener's
# losses and resyncs are counted however it ends.  The child that holds
# the listener killed (SIGKILL: no STOPPING call, no cleanup): the gauge
# reads 0 once the heartbeat is no longer fresh, though the listener's
# flag in shared memory is still up; when another child's listener
# starts, mod_watchdog's mutex freed, it counts the loss the dead one
# never did, and its first heartbeat (BBT309, from another process)
# counts a resync and makes the gauge 1 again.  Then that child stopped
# (SIGSTOP, a hung listener): the gauge reads 0 while it is, and no loss
# is counted (nothing was lost); once it goes on, 1 again.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Env;
use BBT::Cache qw(wait_log log_mark log_since listener_count);

my $env = BBT::Env->new(
    modules    => ['authz_host'],
    extra_conf => <<'EOC',
<Location /metrics>
    SetHandler bbtoken-metrics
    Require ip 127.0.0.1
</Location>
EOC
)->start;

my $LISTENERS = 'bbtoken_cache_listeners';
my $LOSSES    = 'bbtoken_cache_listener_losses_total';
my $RESYNCS   = 'bbtoken_cache_resyncs_total';

my $last_text;
sub scrape {
    my $r = HTTP::Tiny->new(timeout => 30, keep_alive => 0)->get($env->url('/metrics'));
    return {} unless $r->{status} == 200;
    $last_text = $r->{content};
    return { map { /^(\S+) (\S+)$/ ? ($1 => $2) : () } grep { !/^#/ } split /\n/, $r->{content} };
}

sub delta {
    my ($b, $a, $s) = @_;
    return ($a->{$s} // 0) - ($b->{$s} // 0);
}

# Scrape until $ok says the figures are there (a generous limit): the last
# scrape.
sub scrape_until {
    my ($ok, $limit) = @_;
    my $deadline = time + ($limit || 60);
    my $v = scrape();
    until ($ok->($v) || time >= $deadline) {
        select(undef, undef, undef, 0.1);
        $v = scrape();
    }
    return $v;
}

# The process whose listener said BBT309 last after $mark.
sub listener_pid {
    my ($mark) = @_;
    my @pids = log_since($env, $mark) =~ /\[pid (\d+)(?::tid \d+)?\] BBT309: /g;
    return $pids[-1];
}

ok(wait_log($env, 0, qr/BBT309: /), 'the listener hears PostgreSQL (BBT309)');
my $b = scrape_until(sub { ($_[0]{$LISTENERS} // 0) == 1 });
is($b->{$LISTENERS}, 1, "$LISTENERS: 1");
my $pid = listener_pid(0);
ok($pid, "the listener's child: $pid");
my $killed = $pid;

subtest 'its child killed' => sub {
    my $mark = log_mark($env);
    is(kill('KILL', $pid), 1, "kill -9 $pid");
    my $v = scrape_until(sub { defined $_[0]{$LISTENERS} && $_[0]{$LISTENERS} == 0 });
    is($v->{$LISTENERS}, 0, "$LISTENERS: 0 once its heartbeat is not fresh");
    $v = scrape_until(sub { delta($b, $_[0], $LOSSES) >= 1 });
    is(delta($b, $v, $LOSSES), 1, 'the loss counted, once, when another listener starts');
    ok(wait_log($env, $mark, qr/BBT309: /, 60), 'another listener hears PostgreSQL (BBT309)');
    my $now = listener_pid($mark);
    isnt($now, $pid, "in another child ($now)");
    $v = scrape_until(sub { ($_[0]{$LISTENERS} // 0) == 1 && delta($b, $_[0], $RESYNCS) >= 1 });
    is($v->{$LISTENERS}, 1, "$LISTENERS: 1 again");
    is(delta($b, $v, $RESYNCS), 1, 'its first heartbeat counted a resync');
    is(delta($b, $v, $LOSSES), 1, 'one loss in all');
    is(listener_count($env), 1, 'PostgreSQL sees one listener connection');
    $pid = $now;
    $b = $v;
};

subtest 'its child stopped, then going on' => sub {
    is(kill('STOP', $pid), 1, "kill -STOP $pid");
    my $v = scrape_until(sub { defined $_[0]{$LISTENERS} && $_[0]{$LISTENERS} == 0 });
    is($v->{$LISTENERS}, 0, "$LISTENERS: 0 while it is stopped");
    is(delta($b, $v, $LOSSES), 0, 'no loss counted: it has not ended');
    is(kill('CONT', $pid), 1, "kill -CONT $pid");
    $v = scrape_until(sub { ($_[0]{$LISTENERS} // 0) == 1 });
    is($v->{$LISTENERS}, 1, "$LISTENERS: 1 once it goes on");
};

subtest 'the page passes promtool check metrics' => sub {
    plan skip_all => 'no promtool (build/deps.sh installs Debian\'s prometheus)'
        if system('command -v promtool >/dev/null') != 0;
    my $file = "$env->{dir}/scratch/metrics.txt";
    BBT::Env::spew($file, $last_text);
    my $out = qx{promtool check metrics < $file 2>&1};
    is($?, 0, 'promtool check metrics') or diag $out;
    is($out, '', 'no complaint') or diag $out;
};

is_deeply([grep { !/child pid $killed exit signal Killed/ } $env->crash_lines], [],
          'no child crashed but the one killed');
done_testing;
