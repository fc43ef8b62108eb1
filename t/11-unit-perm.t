#!/usr/bin/perl
# C unit tests for bbt_perm (t/unit/test_perm.c); build: make -f apxs.mk unit
exec "build/out/t/test_perm" or die "build/out/t/test_perm: $!";
