#!/usr/bin/perl
# Bounded libFuzzer run over query-repo= and body-repo= (the bitbucket-rest
# set's compare fromRepo and pull request fromRef/toRef) reading hostile
# query strings and bodies for a token of each kind: a crash, an
# AddressSanitizer report or a broken invariant (a personal token refused,
# a refusal naming a repository inside the scope, a query without fromRepo
# refused, one ending in another project's repository let through) fails
# the test.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);

my $runs = $ENV{BBT_FUZZ_RUNS} || 1000000;
my $bin = 'build/out/fuzz/fuzz_namedrepo';
ok(-x $bin, "$bin is built (make -f apxs.mk fuzz)") or done_testing(), exit;
my $work = tempdir(CLEANUP => 1);
my $out = `$bin -runs=$runs -max_len=6000 -timeout=10 $work t/fuzz/corpus/namedrepo 2>&1`;
is($? >> 8, 0, "fuzz_namedrepo: $runs runs without a fault")
    or diag(join("\n", (split /\n/, $out)[-30 .. -1]));
like($out, qr/Done \d+ runs/, 'fuzz_namedrepo ran to the end');
done_testing();
