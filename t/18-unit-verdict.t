#!/usr/bin/perl
# C unit tests for the verdict on a token (t/unit/test_verdict.c); build: make -f apxs.mk unit
exec "build/out/t/test_verdict" or die "build/out/t/test_verdict: $!";
