#!/usr/bin/perl
# Bounded libFuzzer run over what the REST handler asks of a request
# (bbt_rest_req: path, paging, JSON Content-Type, the cross-site check):
# a crash, an AddressSanitizer report or a broken invariant (a path whose
# parts do not spell it again, a page outside its bounds, a change let
# through that the cross-site rule refuses) fails the test.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Fuzz qw(fuzz_ok);

fuzz_ok('rest', 100_000);
done_testing();
