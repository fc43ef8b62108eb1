#!/usr/bin/perl
# C unit tests for the hint the cache gives shmcb (t/unit/test_chint.c);
# build: make -f apxs.mk unit.  The README's BBTokenCacheSize says below
# which size shmcb may be given a larger hint: the number the C test
# finds, checked here after its own tests.
use strict;
use warnings;
use FindBin;

my $bin = "$FindBin::Bin/../build/out/t/test_chint";
open my $tap, '-|', $bin or die "$bin: $!";
my ($plan, $from, $rc);
while (<$tap>) {
    if (/^1\.\.(\d+)$/) { $plan = $1; next }
    $from = $1 if /^# .*the average's hint .*always from (\d+)/;
    print;
}
close $tap;
$rc = $?;
die "$bin: no plan\n" unless defined $plan;
open my $h, '<', "$FindBin::Bin/../README" or die "README: $!";
my $readme = do { local $/; <$h> };
(my $flat = $readme) =~ s/\s+/ /g;
my ($said) = $flat =~ /at some sizes below (\d+) bytes, where those slots/;
my $n = $plan + 1;
if (defined $from && defined $said && $said == $from) {
    print "ok $n - the README names the least size from which the hint is always the average's ($from)\n";
} else {
    print "not ok $n - the README names the least size from which the hint is always the average's\n";
    print "# README says ", $said // 'nothing', ", the test finds ", $from // 'nothing', "\n";
}
print "1..$n\n";
exit($rc ? 1 : 0);
