# A table's columns as a terminal draws them.  The CLI counted a column
# per code point, but a terminal draws an East Asian wide or fullwidth
# character (U+3000, U+FF01 to U+FF5E, ideographs) in two and a combining
# mark in none.  A token name of them passes the name rule, so its owner
# could pad a name until text inside it ("PROJECT_READ,REPO_READ") stood
# under PERMISSIONS and the token's own PROJECT_ADMIN,REPO_ADMIN under
# CREATED: an admin reading `list --all` saw an admin token as read-only.
# Now each row's cells start under their headers, measured here with
# Unicode's East_Asian_Width, not with the CLI's own count.
use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Encode qw(encode_utf8 decode_utf8);
use BBT::Env;

my $env = BBT::Env->new(httpd => 0)->start;
$env->user_add('small');

my %perms;
my (undef, $ro) = $env->token_create('small', name => 'ci-readonly', perms => ['PROJECT_READ']);
$perms{$ro} = 'PROJECT_READ,REPO_READ';
my $wide = 'ｄｅｐｌｏｙ' . ("\x{3000}" x 18) . ' PROJECT_READ,REPO_READ';
my (undef, $admin) = $env->token_create('small', name => encode_utf8($wide));
$perms{$admin} = 'PROJECT_ADMIN,REPO_ADMIN';
# Counted a column each, the marks pushed what follows left instead.
my $marks = 'de' . ("\x{301}" x 30) . 'ploy';
my (undef, $w) = $env->token_create('small', name => encode_utf8($marks), perms => ['REPO_WRITE']);
$perms{$w} = 'PROJECT_READ,REPO_WRITE';

# The columns a terminal draws a character in.
sub cols {
    my ($c) = @_;
    return 2 if $c =~ /[\p{East_Asian_Width=Wide}\p{East_Asian_Width=Fullwidth}]/;
    return 0 if $c =~ /[\p{Mn}\p{Me}]/;
    return 1;
}

# What a line shows from terminal column $at on; undef when a character
# spans that column.
sub from_column {
    my ($line, $at) = @_;
    my ($x, $i) = (0, 0);
    my @c = split //, $line;
    while ($x < $at && $i < @c) { $x += cols($c[$i++]) }
    $i++ while $i < @c && cols($c[$i]) == 0;
    return $x == $at ? join('', @c[$i .. $#c]) : undef;
}

sub header_column {
    my ($head, $label) = @_;
    my $at = index($head, $label);
    return $at < 0 ? undef : $at;
}

sub aligned {
    my ($what, @args) = @_;
    my $out = decode_utf8(scalar $env->cli_is($what, \@args, 0));
    my ($head, @rows) = split /\n/, $out;
    my $p = header_column($head, 'PERMISSIONS');
    my $c = header_column($head, 'CREATED');
    ok(defined $p && defined $c, "$what: a header with PERMISSIONS and CREATED") or return diag $out;
    is(scalar @rows, 3, "$what: the three tokens");
    for my $row (@rows) {
        my ($id) = $row =~ /^(\d+)/;
        my $under = from_column($row, $p);
        my $cell = defined $under ? (split / /, $under)[0] : undef;
        is($cell, $perms{ $id // '' }, "$what: token $id: its own permissions under PERMISSIONS")
            or diag encode_utf8("$head\n$row");
        like(from_column($row, $c) // '', qr/^\d{4}-\d\d-\d\dT/, "$what: token $id: a time under CREATED");
    }
}

aligned('list --all --owner small', 'list', '--all', '--owner', 'small');
aligned('list small', 'list', 'small');

done_testing();
