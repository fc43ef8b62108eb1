#!/usr/bin/perl
# C unit tests for a body the routes read and the json= option (t/unit/test_body.c); build: make -f apxs.mk unit
exec "build/out/t/test_body" or die "build/out/t/test_body: $!";
