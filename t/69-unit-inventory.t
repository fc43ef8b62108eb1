#!/usr/bin/perl
# C unit tests for the token inventory's statement (t/unit/test_inventory.c)
exec "build/out/t/test_inventory" or die "build/out/t/test_inventory: $!";
