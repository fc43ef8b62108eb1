#!/usr/bin/perl
# C unit tests for the route language (t/unit/test_rules.c); build: make -f apxs.mk unit
exec "build/out/t/test_rules" or die "build/out/t/test_rules: $!";
