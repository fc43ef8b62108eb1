#!/usr/bin/perl
# C unit tests for the hint the cache gives shmcb (t/unit/test_chint.c); build: make -f apxs.mk unit
exec "build/out/t/test_chint" or die "build/out/t/test_chint: $!";
