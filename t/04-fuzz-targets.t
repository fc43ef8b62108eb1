#!/usr/bin/perl
# Every libFuzzer target in t/fuzz/ is run by a fuzz test that
# build/fuzz.sh runs (and so the suite: build/test.sh runs every t/*.t),
# over a corpus of its own, t/fuzz/corpus/NAME, of inputs libFuzzer reads
# (it skips an empty file, and BBT::Fuzz then counts one too few); and
# every corpus there is a target's.  A target added without a test would
# be built and never run.
use strict;
use warnings;
use FindBin;
use Test::More;

my $root = "$FindBin::Bin/..";
my @targets = sort map { m{/fuzz_(\w+)\.c$} ? $1 : () } glob "$root/t/fuzz/fuzz_*.c";
ok(@targets > 20, 'the targets are found');

# The tests build/fuzz.sh runs when it is given none.
open my $sh, '<', "$root/build/fuzz.sh" or die "build/fuzz.sh: $!";
my ($set) = do { local $/; <$sh> } =~ /^\s*set -- (.+)$/m;
ok(defined $set, 'build/fuzz.sh names its fuzz tests');
my @tests = map { glob "$root/$_" } split ' ', $set // '';
ok(@tests > 3, 'they are found');

# The names a test gives fuzz_ok: in qw(...) lists, quoted, or as the
# keys of a table of runs.
my %run;
for my $t (@tests) {
    open my $h, '<', $t or die "$t: $!";
    (my $code = do { local $/; <$h> }) =~ s/^\s*#.*$//mg;
    $run{$_} = 1 for map { split ' ' } $code =~ /\bqw\(([^)]*)\)/g;
    $run{$_} = 1 for $code =~ /'(\w+)'/g;
    $run{$_} = 1 for $code =~ /\b(\w+)\s*=>/g;
}
for my $t (@targets) {
    ok($run{$t}, "fuzz_$t is run by a test build/fuzz.sh runs");
    my @seeds = grep { -f $_ } glob "$root/t/fuzz/corpus/$t/*";
    ok(@seeds > 0, "fuzz_$t has a corpus");
    is_deeply([map { s{.*/}{}r } grep { -z $_ } @seeds], [], "fuzz_$t: no empty seed");
}
my %target = map { $_ => 1 } @targets;
for my $c (sort map { s{.*/}{}r } grep { -d $_ } glob "$root/t/fuzz/corpus/*") {
    ok($target{$c}, "t/fuzz/corpus/$c is a target's");
}
done_testing;
