#!/usr/bin/perl
# C unit tests for the git set under refs/ (t/unit/test_refnames.c);
# build: make -f apxs.mk unit
exec "build/out/t/test_refnames" or die "build/out/t/test_refnames: $!";
