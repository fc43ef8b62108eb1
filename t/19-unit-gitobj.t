#!/usr/bin/perl
# C unit tests for loose git objects (t/unit/test_gitobj.c); build: make -f apxs.mk unit
exec "build/out/t/test_gitobj" or die "build/out/t/test_gitobj: $!";
