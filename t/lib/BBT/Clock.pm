package BBT::Clock;

# httpd with a wall clock a test moves: t/dso/clockback.c, built once per
# test and preloaded into every httpd the test starts (on top of what the
# harness preloads: the sanitizers' runtime, with BBT_SANITIZE).  It sets
# gettimeofday and clock_gettime(CLOCK_REALTIME) back by the seconds in a
# file of the environment's directory, read at every call (negative: set
# forward); PostgreSQL's clock is left alone.  And CLOCK_MONOTONIC back by
# the seconds in another, as on a host that was suspended so long (its
# CLOCK_BOOTTIME counts the sleep).  And CLOCK_BOOTTIME, by which the module
# times its cache's heartbeat, stopped at a reading a third file holds.
#
#   use BBT::Clock qw(clock_preload set_back slept stopped);
#   clock_preload();            # before the first httpd starts
#   set_back($env, 3 * 3600);   # httpd's clock 3 hours behind
#   slept($env, 2.5);           # its monotonic clock stood still 2.5 s
#   stopped($env, 1);           # its boot clock stands still from now on
#   stopped_at($env, $b + 61);  # ... at that reading: 61 s after $b at once
#
# Functions, not methods: BBT::Env stays as it is.

use strict;
use warnings;
use FindBin;
use File::Temp qw(tempdir);
use Test::More ();
use Time::HiRes qw(clock_gettime);
use BBT::Util qw(run_cmd spew);

use Exporter 'import';
our @EXPORT_OK = qw(boot_now clock_preload set_back slept stopped stopped_at);

sub clock_preload {
    my $so = tempdir('bbt-clock-XXXXXX', TMPDIR => 1, CLEANUP => 1) . '/clockback.so';
    my ($rc, $out, $err) = run_cmd(cmd => ['cc', '-shared', '-fPIC', '-O2', '-o', $so,
                                           "$BBT::Util::ROOT/t/dso/clockback.c", '-ldl']);
    Test::More::is($rc, 0, 'the clock for httpd builds') or Test::More::BAIL_OUT("cc: $out$err");
    no warnings 'redefine';
    my $harness = \&BBT::Httpd::httpd_env;
    *BBT::Httpd::httpd_env = sub {
        my %e = %{ $harness->(@_) };
        $e{LD_PRELOAD} = join ' ', grep { defined } $e{LD_PRELOAD}, $so;
        $e{BBT_CLOCK_BACK} = "$_[0]{dir}/clock-back";
        $e{BBT_CLOCK_SLEPT} = "$_[0]{dir}/clock-slept";
        $e{BBT_CLOCK_STOPPED} = "$_[0]{dir}/clock-stopped";
        return \%e;
    };
    return $so;
}

# httpd's clock $seconds behind the real one from now on (0: the real one).
sub set_back {
    my ($env, $seconds) = @_;
    spew("$env->{dir}/clock-back", "$seconds\n", 0644);
}

# httpd's monotonic clock $seconds behind the real one from now on, as if
# the host had been suspended that long (0: the real one).
sub slept {
    my ($env, $seconds) = @_;
    spew("$env->{dir}/clock-slept", sprintf("%.6f\n", $seconds), 0644);
}

# httpd's CLOCK_BOOTTIME standing still from now on at what it reads now
# (1: whatever happens, no time passes by it; a heartbeat stays as young
# as it was), or running again (0).
sub stopped {
    my ($env, $on) = @_;
    my $at = $on ? sprintf("%.6f\n", clock_gettime(Time::HiRes::CLOCK_BOOTTIME())) : "0\n";
    spew("$env->{dir}/clock-stopped", $at, 0644);
}

# The host's CLOCK_BOOTTIME now, in seconds (a fraction too).
sub boot_now { return clock_gettime(Time::HiRes::CLOCK_BOOTTIME()) }

# httpd's CLOCK_BOOTTIME standing still at the reading $at (seconds), as
# far ahead of the real one as a test wants: a window of the failed-login
# throttle ends when the test says, not when the machine gets there.  A
# whole number of seconds reads back exactly (a fraction may come back a
# microsecond short).  Never behind a reading httpd has already taken.
sub stopped_at {
    my ($env, $at) = @_;
    spew("$env->{dir}/clock-stopped", sprintf("%.6f\n", $at), 0644);
}

1;
