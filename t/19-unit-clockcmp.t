#!/usr/bin/perl
# C unit tests for what one reading of the database's clock proves (t/unit/test_clockcmp.c); build: make -f apxs.mk unit
exec "build/out/t/test_clockcmp" or die "build/out/t/test_clockcmp: $!";
