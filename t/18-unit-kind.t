#!/usr/bin/perl
# C unit tests for token kinds and their scope (t/unit/test_kind.c); build: make -f apxs.mk unit
exec "build/out/t/test_kind" or die "build/out/t/test_kind: $!";
