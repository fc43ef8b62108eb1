#!/usr/bin/perl
# C unit tests for the query-repo= and body-repo= route options (t/unit/test_namedrepo.c); build: make -f apxs.mk unit
exec "build/out/t/test_namedrepo" or die "build/out/t/test_namedrepo: $!";
