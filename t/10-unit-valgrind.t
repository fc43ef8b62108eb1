#!/usr/bin/perl
# Every C unit test again under valgrind's memcheck: a read past a string's
# end, a value never set, a block freed twice or lost, which a test's own
# checks pass over when the bytes around happen to suit them.  Build: make
# -f apxs.mk unit.  BBT_UNIT_MEMCHECK tells a program so: a sweep over a
# million values or thousands of random ones then takes a slice that goes
# down the same paths (t/unit/tap.h, tap_memcheck); each program's own run
# (t/NN-unit-*.t) takes the whole sweep.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(run_cmd);

my @tests = sort glob("$BBT::Env::ROOT/build/out/t/test_*");
plan skip_all => 'no unit tests built (make -f apxs.mk unit)' unless @tests;
for my $t (@tests) {
    my ($rc, $out, $err) = run_cmd(
        cmd => ['valgrind', '-q', '--error-exitcode=99', '--leak-check=full', '--errors-for-leak-kinds=definite',
                $t],
        env => { BBT_UNIT_MEMCHECK => 1 }, timeout => 600);
    my ($name) = $t =~ m{([^/]+)\z};
    is($rc, 0, "$name under memcheck") or diag $err;
}
done_testing;
