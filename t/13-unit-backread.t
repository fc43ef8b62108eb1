#!/usr/bin/perl
# C unit tests for bbt_backread (t/unit/test_backread.c); build: make -f apxs.mk unit
exec "build/out/t/test_backread" or die "build/out/t/test_backread: $!";
