#!/usr/bin/perl
# C unit tests for the body-project= route option (t/unit/test_bodyproj.c); build: make -f apxs.mk unit
exec "build/out/t/test_bodyproj" or die "build/out/t/test_bodyproj: $!";
