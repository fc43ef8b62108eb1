package BBT::Clock;

# httpd with a wall clock a test moves: t/dso/clockback.c, built once per
# test and preloaded into every httpd the test starts (on top of what the
# harness preloads: the sanitizers' runtime, with BBT_SANITIZE).  It sets
# gettimeofday and clock_gettime(CLOCK_REALTIME) back by the seconds in a
# file of the environment's directory, read at every call (negative: set
# forward); the monotonic clock and PostgreSQL's are left alone.
#
#   use BBT::Clock qw(clock_preload set_back);
#   clock_preload();            # before the first httpd starts
#   set_back($env, 3 * 3600);   # httpd's clock 3 hours behind
#
# Functions, not methods: BBT::Env stays as it is.

use strict;
use warnings;
use FindBin;
use File::Temp qw(tempdir);
use Test::More ();
use BBT::Util qw(run_cmd spew);

use Exporter 'import';
our @EXPORT_OK = qw(clock_preload set_back);

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
        return \%e;
    };
    return $so;
}

# httpd's clock $seconds behind the real one from now on (0: the real one).
sub set_back {
    my ($env, $seconds) = @_;
    spew("$env->{dir}/clock-back", "$seconds\n", 0644);
}

1;
