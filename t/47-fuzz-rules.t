#!/usr/bin/perl
# Bounded libFuzzer run over the built-in route sets (git, dav,
# bitbucket-rest) matching hostile requests and Destinations: a crash, an
# AddressSanitizer report or a broken invariant (a match naming anything but
# a canonical key, a valid slug and a real permission, or for SITE_READ no
# key at all, for a GET or HEAD) fails the test.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Fuzz qw(fuzz_ok);

fuzz_ok('rules', 100_000);
done_testing();
