#!/usr/bin/perl
# C unit tests for the keyed SipHash (t/unit/test_keymac.c); build: make -f apxs.mk unit
exec "build/out/t/test_keymac" or die "build/out/t/test_keymac: $!";
