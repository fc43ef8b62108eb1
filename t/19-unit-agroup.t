#!/usr/bin/perl
# C unit tests for address groups (t/unit/test_agroup.c); build: make -f apxs.mk unit
exec "build/out/t/test_agroup" or die "build/out/t/test_agroup: $!";
