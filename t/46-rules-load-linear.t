#!/usr/bin/perl
# Loading route text is linear in its size: valgrind counts the
# instructions (exactly, the same on every run) that loading a generated
# text of N and of 4N lines takes, less those of loading none; four times
# the text must cost about four times the work, not sixteen.  Then the
# unit test proper (t/unit/test_rules_load.c): a 1 MB text loads whole.
use strict;
use warnings;
use Test::More;

my $bin = 'build/out/t/test_rules_load';
ok(-x $bin, "$bin is built (make -f apxs.mk unit)") or done_testing(), exit;

SKIP: {
    my $valgrind = `sh -c 'command -v valgrind'`;
    chomp $valgrind;
    skip 'valgrind is not installed', 3 unless $valgrind;
    my %ir;
    for my $n (0, 1000, 4000) {
        my $out = `$valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null $bin $n 2>&1`;
        my ($ir) = $out =~ /I\s+refs:\s+([\d,]+)/;
        ok(defined $ir && $? == 0, "$n lines load under valgrind") or diag $out;
        ($ir{$n} = $ir // 0) =~ s/,//g;
    }
    my $small = $ir{1000} - $ir{0};
    my $large = $ir{4000} - $ir{0};
    my $ratio = $small > 0 ? $large / $small : 1e9;
    diag(sprintf 'instructions: %d for 1000 lines, %d for 4000 (x%.2f)', $small, $large, $ratio);
    cmp_ok($ratio, '<', 6, 'four times the text costs about four times the work');
}

my @tap = `$bin`;
is($? >> 8, 0, 'a 1 MB route text loads whole') or diag @tap;
done_testing;
