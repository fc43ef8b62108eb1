#!/usr/bin/perl
# C unit tests for the allow/deny decision (t/unit/test_decide.c); build: make -f apxs.mk unit
exec "build/out/t/test_decide" or die "build/out/t/test_decide: $!";
