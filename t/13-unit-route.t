#!/usr/bin/perl
# C unit tests for bbt_route (t/unit/test_route.c); build: make -f apxs.mk unit
exec "build/out/t/test_route" or die "build/out/t/test_route: $!";
