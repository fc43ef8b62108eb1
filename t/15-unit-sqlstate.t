#!/usr/bin/perl
# C unit tests for bbt_sqlstate (t/unit/test_sqlstate.c)
exec "build/out/t/test_sqlstate" or die "build/out/t/test_sqlstate: $!";
