#!/usr/bin/perl
# C unit tests for how long a WebDAV lock through the module may last (t/unit/test_locktime.c); build: make -f apxs.mk unit
exec "build/out/t/test_locktime" or die "build/out/t/test_locktime: $!";
