# The README's Layout names every source file of the module and the CLI,
# every module of the test harness and of its browser tests, and every
# test the README cites as t/NN-name is there: a file added, renamed or
# removed without the manual makes it wrong, and this test says which.
use strict;
use warnings;
use FindBin;
use Test::More;

my $root = "$FindBin::Bin/..";
open my $h, '<', "$root/README" or die "README: $!";
my $readme = do { local $/; <$h> };
my ($layout) = $readme =~ /^Layout\n-+\n(.*?)(?=^\S[^\n]*\n-{3,}\n|\z)/ms;
ok(defined $layout && length $layout > 1000, 'the README has its Layout section') or BAIL_OUT('no Layout');

# The Layout wraps its text: a name may be cut after a hyphen or a slash,
# so a line break there is taken out, and elsewhere made one space.  A
# name counts only whole: xact.c is not bbt_xact.c, nor db.c cmd_db.c.
(my $flat = $layout) =~ s{([-/])[ \t]*\n\s*}{$1}g;
$flat =~ s/\s*\n\s*/ /g;
my @files = (glob("$root/mod_bbtoken/*.c"), glob("$root/cli/*.c"), glob("$root/t/lib/BBT/*.pm"),
    glob("$root/t/browser/*.mjs"));
ok(@files > 100, 'the sources are found');
for my $f (sort @files) {
    (my $name = $f) =~ s{.*/}{};
    like($flat, qr/(?<![A-Za-z0-9_.\/-])\Q$name\E(?![A-Za-z0-9_])/, "Layout names $name");
}

# t/NN-name, as the README cites a test (with or without .t, or a family
# as t/NN-name-*): a test by that name is there.
my %cited;
$cited{$1} = 1 while $readme =~ m{\bt/(\d\d-[A-Za-z0-9-]*[A-Za-z0-9])(?![A-Za-z0-9-]*\*)}g;
ok(keys %cited > 50, 'the README cites tests');
for my $t (sort keys %cited) {
    ok(-e "$root/t/$t.t" || -d "$root/t/$t", "t/$t, which the README cites, is there");
}

done_testing;
