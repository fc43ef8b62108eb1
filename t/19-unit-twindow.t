#!/usr/bin/perl
# C unit tests for the throttle's windows on the monotonic clock (t/unit/test_twindow.c); build: make -f apxs.mk unit
exec "build/out/t/test_twindow" or die "build/out/t/test_twindow: $!";
