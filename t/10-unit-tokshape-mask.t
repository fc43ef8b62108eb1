#!/usr/bin/perl
# C unit tests for how a message's tokens are found and hidden, against the
# plainest reading of the rules (t/unit/test_tokshape_mask.c), every text
# whole; build: make -f apxs.mk unit
exec "build/out/t/test_tokshape_mask" or die "build/out/t/test_tokshape_mask: $!";
