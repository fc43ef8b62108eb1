#!/usr/bin/perl
# C unit tests: @PREFIX@ in every word of a route, with a prefix and without (t/unit/test_rules_prefix.c); build: make -f apxs.mk unit
exec "build/out/t/test_rules_prefix" or die "build/out/t/test_rules_prefix: $!";
