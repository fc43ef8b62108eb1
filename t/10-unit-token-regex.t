#!/usr/bin/perl
# The README's expression for secret scanners against the token codec
# (t/unit/test_token_regex.c); build: make -f apxs.mk unit
exec "build/out/t/test_token_regex", "README" or die "build/out/t/test_token_regex: $!";
