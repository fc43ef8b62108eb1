#!/usr/bin/perl
# C unit tests: a thread's memory of routed requests answers as matching does (t/unit/test_rmemo.c); build: make -f apxs.mk unit
exec "build/out/t/test_rmemo" or die "build/out/t/test_rmemo: $!";
