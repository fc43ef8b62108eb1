#!/usr/bin/perl
# C unit tests for bbt_token_verify_fresh (t/unit/test_token_rekey.c); build: make -f apxs.mk unit
exec "build/out/t/test_token_rekey" or die "build/out/t/test_token_rekey: $!";
