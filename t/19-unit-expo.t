#!/usr/bin/perl
# C unit tests for the metrics as text (t/unit/test_expo.c); build: make -f apxs.mk unit
exec "build/out/t/test_expo" or die "build/out/t/test_expo: $!";
