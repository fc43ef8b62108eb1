#!/usr/bin/perl
# C unit tests for the token codec under failing OpenSSL (t/unit/test_token_fault.c); build: make -f apxs.mk unit
exec "build/out/t/test_token_fault" or die "build/out/t/test_token_fault: $!";
