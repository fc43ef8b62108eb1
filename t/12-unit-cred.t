#!/usr/bin/perl
# C unit tests for bbt_cred (t/unit/test_cred.c); build: make -f apxs.mk unit
exec "build/out/t/test_cred" or die "build/out/t/test_cred: $!";
