#!/usr/bin/perl
# C unit tests for a token's shape in names and messages
# (t/unit/test_tokshape.c), every sweep whole; build: make -f apxs.mk unit
exec "build/out/t/test_tokshape" or die "build/out/t/test_tokshape: $!";
