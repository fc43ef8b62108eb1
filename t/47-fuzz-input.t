#!/usr/bin/perl
# Bounded libFuzzer runs over the input rules (bbt_input: names, keys,
# slugs, UTF-8, e-mail addresses, numbers, networks), the inventory's
# statement from hostile filters, hostile route text loaded and matched,
# client addresses and address groups, a backend's Cache-Control, and the
# CLI's command line and notify's mail: a crash, an AddressSanitizer report
# or a broken contract (an accepted value outside its rule, a filter's
# value in the statement's text, a match naming anything but a canonical
# key, a group that does not read back as itself, a private response's
# value a shared cache may store, a header a name could start, a conninfo
# repeated in a message) fails the test.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);

# Runs per target: the CLI's targets print into memory on every run and
# are slower.
my %runs = (input => 500000, inventory => 300000, cli_mail => 100000,
            cli_args => 20000, rules_load => 20000, agroup => 300000,
            cachectl => 300000);
for my $t (sort keys %runs) {
    my $runs = $ENV{BBT_FUZZ_RUNS} || $runs{$t};
    my $bin = "build/out/fuzz/fuzz_$t";
    ok(-x $bin, "$bin is built (make -f apxs.mk fuzz)") or next;
    my $work = tempdir(CLEANUP => 1);
    my $out = `$bin -runs=$runs -max_len=6000 -timeout=10 $work t/fuzz/corpus/$t 2>&1`;
    is($? >> 8, 0, "fuzz_$t: $runs runs without a fault")
        or diag(join("\n", (split /\n/, $out)[-30 .. -1]));
    like($out, qr/Done \d+ runs/, "fuzz_$t ran to the end");
}
done_testing();
