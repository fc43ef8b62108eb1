#!/usr/bin/perl
# C unit tests for bbt_input and minting (t/unit/test_input.c)
exec "build/out/t/test_input" or die "build/out/t/test_input: $!";
