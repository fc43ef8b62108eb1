# The harness's free_port (BBT::Util): a port one test reserved is not
# handed to another test, of the same run or of another run beside it
# (each run has a BBT_TMPDIR of its own), until the reservation lapses.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use BBT::Util qw(free_port);

my $tmp = tempdir('bbt-ports-XXXXXX', DIR => $ENV{BBT_TMPDIR} || '/tmp', CLEANUP => 1);
# Reservations of this test's own, not the machine's: the ports picked
# here stay reserved for half an hour.
local $BBT::Util::PORTS = "$tmp/reserved";

# Two runs, each with its own BBT_TMPDIR, pick $n ports each at once: with
# a directory of reservations for each run they would share some (with
# 22,000 ports to pick from, 400 each share about 7).
my $n = 400;
my @runs;
for my $run (1, 2) {
    mkdir "$tmp/run$run" or die "$tmp/run$run: $!";
    my $pid = open(my $h, '-|') // die "fork: $!";
    if (!$pid) {
        $ENV{BBT_TMPDIR} = "$tmp/run$run";
        print free_port(), "\n" for 1 .. $n;
        exit 0;
    }
    push @runs, $h;
}
my @ports = map { my $h = $_; [map { chomp; $_ } <$h>] } @runs;
close $_ for @runs;
is(scalar @{ $ports[$_] }, $n, "run " . ($_ + 1) . " got $n ports") for 0, 1;
my %seen;
$seen{$_}++ for map { @$_ } @ports;
my @twice = grep { $seen{$_} > 1 } sort { $a <=> $b } keys %seen;
is("@twice", '', 'no port handed out twice, within a run or across the two');

# A reservation is kept until it lapses, then taken again.
my $f = "$tmp/one";
ok(BBT::Util::reserve($f), 'a port reserved');
ok(!BBT::Util::reserve($f), 'not again while its reservation holds');
utime(time - 1799, time - 1799, $f) or die "$f: $!";
ok(!BBT::Util::reserve($f), 'nor at 29 minutes 59 seconds');
utime(time - 1801, time - 1801, $f) or die "$f: $!";
ok(BBT::Util::reserve($f), 'taken again once it has lapsed (half an hour)');
ok(!BBT::Util::reserve($f), 'and then held again');

done_testing;
