#!/usr/bin/perl
# C unit tests: matching allocates nothing per request (t/unit/test_rules_alloc.c); build: make -f apxs.mk unit
exec "build/out/t/test_rules_alloc" or die "build/out/t/test_rules_alloc: $!";
