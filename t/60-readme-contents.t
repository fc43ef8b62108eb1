# The README's Contents lists each of its sections, by its title, in the
# order they come, once: a section added, renamed, moved or removed makes
# the list wrong, and this test says how.
use strict;
use warnings;
use FindBin;
use Test::More;

open my $h, '<', "$FindBin::Bin/../README" or die "README: $!";
my @l = <$h>;
chomp @l;
my @titles;
for my $i (0 .. $#l - 1) {
    push @titles, $l[$i] if $l[$i] =~ /\S/ && $l[$i + 1] =~ /^-{3,}\z/;
}
ok(@titles > 10, 'the README has its sections') or diag "@titles";
is($titles[0], 'Contents', 'Contents is the first section');

# The list: the indented lines under Contents, "Title - what it holds".
my ($at) = grep { $l[$_] eq 'Contents' && ($l[$_ + 1] // '') =~ /^-+\z/ } 0 .. $#l;
my @listed;
for (my $i = $at + 2; $i < @l; $i++) {
    last if $l[$i] =~ /\S/ && $l[$i] !~ /^    /;
    next unless $l[$i] =~ /\S/;
    my ($title, $what) = $l[$i] =~ /^    (.+?) - (\S.*)\z/;
    ok(defined $what, "Contents line $i says what its section holds") or diag $l[$i];
    push @listed, $title // $l[$i];
}
is_deeply(\@listed, [@titles[1 .. $#titles]], 'Contents lists every other section, in order');
cmp_ok(length, '<=', 78, 'a Contents line fits 78 columns') for @l[$at + 2 .. $at + 1 + @listed];

done_testing;
