#!/usr/bin/perl
# Bounded libFuzzer run over hostile request bodies as the routes read them
# (bbt_body) and the git set's LFS batch routes deciding by them: a crash,
# an AddressSanitizer report or a broken invariant (a batch decided other
# than by its operation, an ambiguous body not refused) fails the test.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Fuzz qw(fuzz_ok);

fuzz_ok('body', 100_000);
done_testing();
