#!/usr/bin/perl
# C unit tests for bbt_token (t/unit/test_token.c); build: make -f apxs.mk unit
exec "build/out/t/test_token" or die "build/out/t/test_token: $!";
