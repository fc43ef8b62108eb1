#!/usr/bin/perl
# Bounded libFuzzer runs over the parsers a request reaches before any
# database work: the Authorization parser with the token codec, the token
# codec and strict base64 alone, and the git route matcher; the cache
# entries' decoders; and the parsers of the database's bytes, a token's
# packed lookup row, its owner's level map and its clock.  A crash, an
# AddressSanitizer report or a broken invariant fails the test.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);

my $runs = $ENV{BBT_FUZZ_RUNS} || 1000000;
my @targets = qw(cred token route centry lookuprow levelmap clockcmp);
for my $t (@targets) {
    my $bin = "build/out/fuzz/fuzz_$t";
    ok(-x $bin, "$bin is built") or next;
    my $work = tempdir(CLEANUP => 1);
    my $out = `$bin -runs=$runs -max_len=6000 -timeout=10 $work t/fuzz/corpus/$t 2>&1`;
    my $rc = $? >> 8;
    is($rc, 0, "fuzz_$t: $runs runs without a fault")
        or diag(join("\n", (split /\n/, $out)[-30 .. -1]));
    like($out, qr/Done \d+ runs/, "fuzz_$t ran to the end");
}
done_testing();
