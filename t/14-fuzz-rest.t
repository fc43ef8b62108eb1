#!/usr/bin/perl
# Bounded libFuzzer run over what the REST handler asks of a request
# (bbt_rest_req: path, paging, JSON Content-Type, the cross-site check):
# a crash, an AddressSanitizer report or a broken invariant (a path whose
# parts do not spell it again, a page outside its bounds, a change let
# through that the cross-site rule refuses) fails the test.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);

my $runs = $ENV{BBT_FUZZ_RUNS} || 1000000;
my $bin = 'build/out/fuzz/fuzz_rest';
ok(-x $bin, "$bin is built (make -f apxs.mk fuzz)") or done_testing(), exit;
my $work = tempdir(CLEANUP => 1);
my $out = `$bin -runs=$runs -max_len=6000 -timeout=10 $work t/fuzz/corpus/rest 2>&1`;
is($? >> 8, 0, "fuzz_rest: $runs runs without a fault")
    or diag(join("\n", (split /\n/, $out)[-30 .. -1]));
like($out, qr/Done \d+ runs/, 'fuzz_rest ran to the end');
done_testing();
