#!/usr/bin/perl
# Bounded libFuzzer run over hostile request bodies measured before jansson
# builds them (bbt_jshape): a crash, an AddressSanitizer report or a broken
# invariant (JSON measured other than as jansson builds it, a bound passed
# unnoticed, a refusal within it) fails the test.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Fuzz qw(fuzz_ok);

fuzz_ok('jshape', 100_000);
done_testing();
