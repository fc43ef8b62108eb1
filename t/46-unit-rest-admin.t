#!/usr/bin/perl
# C unit tests: the bitbucket-rest set's admin writes under /rest/api (t/unit/test_rest_admin.c); build: make -f apxs.mk unit
exec "build/out/t/test_rest_admin" or die "build/out/t/test_rest_admin: $!";
