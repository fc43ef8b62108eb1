#!/usr/bin/perl
# C unit tests: the bitbucket-rest set over Bitbucket's other REST plugins (t/unit/test_rest_plugins.c); build: make -f apxs.mk unit
exec "build/out/t/test_rest_plugins" or die "build/out/t/test_rest_plugins: $!";
