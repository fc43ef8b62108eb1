#!/usr/bin/perl
# C unit tests for the private responses' Cache-Control (t/unit/test_cachectl.c); build: make -f apxs.mk unit
exec "build/out/t/test_cachectl" or die "build/out/t/test_cachectl: $!";
