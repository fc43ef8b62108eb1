#!/usr/bin/perl
# C unit tests for the cache's marks (t/unit/test_cmark.c); build: make -f apxs.mk unit
exec "build/out/t/test_cmark" or die "build/out/t/test_cmark: $!";
