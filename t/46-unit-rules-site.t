#!/usr/bin/perl
# C unit tests: SITE_READ, a read outside any one project, in the route language and the REST set (t/unit/test_rules_site.c); build: make -f apxs.mk unit
exec "build/out/t/test_rules_site" or die "build/out/t/test_rules_site: $!";
