#!/usr/bin/perl
# C unit tests for reading a token's packed lookup row (t/unit/test_lookuprow.c); build: make -f apxs.mk unit
exec "build/out/t/test_lookuprow" or die "build/out/t/test_lookuprow: $!";
