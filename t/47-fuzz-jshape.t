#!/usr/bin/perl
# Bounded libFuzzer run over hostile request bodies measured before jansson
# builds them (bbt_jshape): a crash, an AddressSanitizer report or a broken
# invariant (JSON measured other than as jansson builds it, a bound passed
# unnoticed, a refusal within it) fails the test.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);

my $runs = $ENV{BBT_FUZZ_RUNS} || 1000000;
my $bin = 'build/out/fuzz/fuzz_jshape';
ok(-x $bin, "$bin is built (make -f apxs.mk fuzz)") or done_testing(), exit;
my $work = tempdir(CLEANUP => 1);
my $out = `$bin -runs=$runs -max_len=6000 -timeout=10 $work t/fuzz/corpus/jshape 2>&1`;
is($? >> 8, 0, "fuzz_jshape: $runs runs without a fault")
    or diag(join("\n", (split /\n/, $out)[-30 .. -1]));
like($out, qr/Done \d+ runs/, 'fuzz_jshape ran to the end');
done_testing();
