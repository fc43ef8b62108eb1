#!/usr/bin/perl
# C unit tests for reading an owner's level map (t/unit/test_levelmap.c); build: make -f apxs.mk unit
exec "build/out/t/test_levelmap" or die "build/out/t/test_levelmap: $!";
