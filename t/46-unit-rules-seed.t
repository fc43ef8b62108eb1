#!/usr/bin/perl
# C unit tests: the seed's matrix through the built-in routes (t/unit/test_rules_seed.c); build: make -f apxs.mk unit
exec "build/out/t/test_rules_seed" or die "build/out/t/test_rules_seed: $!";
