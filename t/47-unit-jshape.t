#!/usr/bin/perl
# C unit tests for a body's shape measured before jansson builds it (t/unit/test_jshape.c); build: make -f apxs.mk unit
exec "build/out/t/test_jshape" or die "build/out/t/test_jshape: $!";
