#!/usr/bin/perl
# C unit tests for the throttle's keyed sets (t/unit/test_tset.c); build: make -f apxs.mk unit
exec "build/out/t/test_tset" or die "build/out/t/test_tset: $!";
