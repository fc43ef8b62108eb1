#!/usr/bin/perl
# Bounded libFuzzer run over query-repo= and body-repo= (the bitbucket-rest
# set's compare fromRepo and pull request fromRef/toRef) reading hostile
# query strings and bodies for a token of each kind: a crash, an
# AddressSanitizer report or a broken invariant (a personal token refused,
# a refusal naming a repository inside the scope, a query without fromRepo
# refused, one ending in another project's repository let through) fails
# the test.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Fuzz qw(fuzz_ok);

fuzz_ok('namedrepo', 100_000);
done_testing();
