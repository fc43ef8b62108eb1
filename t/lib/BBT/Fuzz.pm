package BBT::Fuzz;

# A libFuzzer target as the suite runs it (t/14-fuzz*.t, t/47-fuzz-*.t):
# every input of its checked-in corpus (t/fuzz/corpus/NAME) replayed, then
# a bounded exploration from there, its new inputs in a directory of its
# own, thrown away.  A crash, a sanitizer's report, a broken oracle (the
# target aborts) or a timeout fails the test.
#
# The suite's runs are a bound, not a search: build/fuzz.sh explores
# longer (BBT_FUZZ_SCALE times as many runs), and BBT_FUZZ_RUNS sets every
# target's runs at once.

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);

use Exporter 'import';
our @EXPORT_OK = qw(fuzz_ok);

# The runs for a target the suite runs $runs times.
sub runs {
    my ($runs) = @_;
    return $ENV{BBT_FUZZ_RUNS} if $ENV{BBT_FUZZ_RUNS};
    my $scale = $ENV{BBT_FUZZ_SCALE} || 1;
    die "BBT_FUZZ_SCALE: not a whole number: $scale\n" unless $scale =~ /^[1-9]\d*\z/;
    return $runs * $scale;
}

# Run build/out/fuzz/fuzz_$t over its corpus: 1 if every check passed.
sub fuzz_ok {
    my ($t, $runs) = @_;
    $runs = runs($runs);
    my $bin = "build/out/fuzz/fuzz_$t";
    ok(-x $bin, "$bin is built (make -f apxs.mk fuzz)") or return 0;
    my $corpus = "t/fuzz/corpus/$t";
    my @seeds = grep { -f $_ } glob "$corpus/*";
    my $work = tempdir(CLEANUP => 1);
    my $out = `$bin -runs=$runs -max_len=6000 -timeout=10 $work $corpus 2>&1`;
    my $ok = is($? >> 8, 0, "fuzz_$t: $runs runs without a fault")
        or diag(join("\n", grep {defined} (split /\n/, $out)[-30 .. -1]));
    # libFuzzer runs each seed once before it mutates any (its INITED line
    # comes after them): what it says it read is the corpus, whole.
    my ($read) = $out =~ /^INFO: seed corpus: files: (\d+) /m;
    $ok &= is($read, scalar @seeds, "fuzz_$t replayed its corpus (" . scalar(@seeds) . " inputs)");
    $ok &= like($out, qr/Done \d+ runs/, "fuzz_$t ran to the end");
    return $ok;
}

1;
