#!/usr/bin/perl
# C unit tests for the cache's entries (t/unit/test_centry.c); build: make -f apxs.mk unit
exec "build/out/t/test_centry" or die "build/out/t/test_centry: $!";
