#!/usr/bin/perl
# C unit tests for method overrides (t/unit/test_override.c); build: make -f apxs.mk unit
exec "build/out/t/test_override" or die "build/out/t/test_override: $!";
