#!/usr/bin/perl
# C unit tests for each thread's salts (t/unit/test_saltmemo.c); build: make -f apxs.mk unit
exec "build/out/t/test_saltmemo" or die "build/out/t/test_saltmemo: $!";
