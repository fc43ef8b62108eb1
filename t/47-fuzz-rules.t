#!/usr/bin/perl
# Bounded libFuzzer run over the built-in route sets (git, dav,
# bitbucket-rest) matching hostile requests and Destinations: a crash, an
# AddressSanitizer report or a broken invariant (a match naming anything but
# a canonical key, a valid slug and a real permission) fails the test.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);

my $runs = $ENV{BBT_FUZZ_RUNS} || 1000000;
my $bin = 'build/out/fuzz/fuzz_rules';
ok(-x $bin, "$bin is built (make -f apxs.mk fuzz)") or done_testing(), exit;
my $work = tempdir(CLEANUP => 1);
my $out = `$bin -runs=$runs -max_len=6000 -timeout=10 $work t/fuzz/corpus/rules 2>&1`;
is($? >> 8, 0, "fuzz_rules: $runs runs without a fault")
    or diag(join("\n", (split /\n/, $out)[-30 .. -1]));
like($out, qr/Done \d+ runs/, 'fuzz_rules ran to the end');
done_testing();
