#!/usr/bin/perl
# Writes a man page made of sections of the README, so that the manual has
# one source and the man pages cannot say anything the README does not.
#
#   perl build/man.pl PAGE README VERSION > PAGE      PAGE: bbtoken.1, mod_bbtoken.5
#
# The README is plain text.  A line over a line of dashes is a section title.
# Blank lines separate blocks, and a block is one of:
#   paragraph             every line at column 0
#   indented paragraph    every line at column 2
#   list                  items "  - text", continued at column 4
#   definition            a term at column 0, its text at column 4 (only in
#                         sections listed with defs => 1: Directives)
#   verbatim              every line at column 4 or more (commands, tables)
# `text` is code (bold).  Anything else stops the build with the README's line
# number, so that the README keeps to shapes rendered faithfully;
# t/60-man.t checks that each man page section says, word for word, what its
# README section says.
use strict;
use warnings;

my %PAGES = (
    'bbtoken.1' => {
        name    => 'bbtoken',
        purpose => "manage the users, grants and personal access tokens of mod_bbtoken",
        parts   => [
            ['SYNOPSIS',        'The CLI: bbtoken', 'first'],
            ['DESCRIPTION',     'The CLI: bbtoken', 'rest'],
            ['TOKEN LIFECYCLE', 'Token lifecycle',  'all'],
        ],
        see_also => ['mod_bbtoken', 5],
    },
    'mod_bbtoken.5' => {
        name    => 'mod_bbtoken',
        purpose => "Bitbucket Data Center personal access tokens for Apache httpd",
        parts   => [
            ['DESCRIPTION',  '',             'all'],
            ['DIRECTIVES',   'Directives',   'all', defs => 1],
            ['ROUTES',       'Routes',       'all'],
            ['STATUS CODES', 'Status codes', 'all'],
            ['CONFIGURATION TEST', 'Configuration test', 'all'],
            ['METRICS',      'Metrics',      'all'],
        ],
        see_also => ['bbtoken', 1],
    },
);

my ($page, $readme, $version) = @ARGV;
die "usage: $0 PAGE README VERSION\n" unless defined $version;
my $spec = $PAGES{$page} or die "$0: no man page $page (" . join(', ', sort keys %PAGES) . ")\n";
my ($section) = $page =~ /\.(\d)\z/;

open my $fh, '<', $readme or die "$0: $readme: $!\n";
my @lines = <$fh>;
close $fh;
chomp @lines;

# Section title => [[line number, text], ...]; '' is the text before the
# first section, under the document's own title.
my %sections;
my $cur;
for (my $i = 0; $i < @lines; $i++) {
    if ($i + 1 < @lines && $lines[$i] =~ /\S/ && $lines[$i + 1] =~ /^(?:-{3,}|={3,})\z/) {
        $cur = $lines[$i + 1] =~ /^=/ ? '' : $lines[$i];
        die "$0: $readme: section '$cur' appears twice\n" if $sections{$cur};
        $sections{$cur} = [];
        $i++;
        next;
    }
    push @{ $sections{$cur} }, [$i + 1, $lines[$i]] if defined $cur;
}

sub blocks {
    my ($title) = @_;
    my $body = $sections{$title} or die "$0: $readme has no section '$title'\n";
    my (@blocks, @b);
    for my $l (@$body, [0, '']) {
        if ($l->[1] =~ /\S/) { push @b, $l; next }
        push @blocks, [@b] if @b;
        @b = ();
    }
    return @blocks;
}

sub ind { my ($s) = @_; $s =~ /^( *)/; return length $1 }

# Roff-escape plain text; `code` becomes bold when $code is set.
sub esc {
    my ($s, $code) = @_;
    my $out = '';
    my @parts = $code ? split(/`/, $s, -1) : ($s);
    die "unbalanced backquotes\n" if $code && @parts % 2 == 0;
    for my $n (0 .. $#parts) {
        my $t = $parts[$n];
        $t =~ s/\\/\\e/g;
        $t =~ s/-/\\-/g;
        $t =~ s/'/\\(aq/g;
        $t =~ s/`/\\(ga/g;
        $t =~ s/~/\\(ti/g;
        $t =~ s/\^/\\(ha/g;
        $out .= $n % 2 ? "\\fB$t\\fR" : $t;
    }
    # A line may not start with a control character.
    $out =~ s/^(?=[.])/\\&/mg;
    return $out;
}

# Text lines of a block, without their indentation, as one filled string.
sub text { return esc(join("\n", map { my $t = $_; $t =~ s/^ +//; $t } @_), 1) . "\n" }

sub render {
    my ($title, $o, @blocks) = @_;
    my $out = '';
    for my $b (@blocks) {
        my @l = map { $_->[1] } @$b;
        my $at = "$readme:$b->[0][0]";
        die "$0: $at: a tab; use spaces\n" if grep {/\t/} @l;
        my @ind = map { ind($_) } @l;
        my $r = eval {
            if (!grep { $_ < 4 } @ind) {
                my $v = join('', map { esc(substr($_, 4), 0) . "\n" } @l);
                return $o->{synopsis} ? ".nf\n$v.fi\n" : ".PP\n.RS 4\n.nf\n$v.fi\n.RE\n";
            }
            if ($l[0] =~ /^  - /) {
                my ($o, @item) = ('');
                for my $x (@l, '  - ') {
                    if ($x =~ /^  - /) {
                        $o .= ".IP \\- 2\n" . text(@item) if @item;
                        @item = (substr($x, 4));
                    } elsif (ind($x) == 4) {
                        push @item, $x;
                    } else {
                        die "a list item goes on at column 4\n";
                    }
                }
                return $o;
            }
            if ($o->{defs} && @l > 1 && $ind[0] == 0 && !grep { $_ < 4 } @ind[1 .. $#ind]) {
                return ".TP\n\\fB" . esc($l[0], 0) . "\\fR\n" . text(@l[1 .. $#l]);
            }
            return ".PP\n" . text(@l) if !grep { $_ != 0 } @ind;
            return ".IP \"\" 2\n" . text(@l) if !grep { $_ != 2 } @ind;
            die "a block of mixed indentation, which the man page would not render as written\n";
        };
        die "$0: $at (section '$title'): $@" unless defined $r;
        $out .= $r;
    }
    return $out;
}

my $up = uc $spec->{name};
print <<"EOS";
.\\" Generated from the README by build/man.pl: edit the README, not this.
.TH "$up" "$section" "" "mod_bbtoken $version" "mod_bbtoken"
.nh
.ad l
.SH NAME
@{[esc($spec->{name}, 0)]} \\- @{[esc($spec->{purpose}, 0)]}
EOS
for my $part (@{ $spec->{parts} }) {
    my ($head, $title, $which, %o) = @$part;
    my @b = blocks($title);
    @b = $which eq 'first' ? @b[0 .. 0] : $which eq 'rest' ? @b[1 .. $#b] : @b;
    print ".SH \"$head\"\n", render($title, { %o, synopsis => $head eq 'SYNOPSIS' }, @b);
}
my ($see, $sec) = @{ $spec->{see_also} };
print ".SH \"SEE ALSO\"\n.BR ", esc($see, 0), " ($sec),\n.BR a2enmod (8),\n.BR apache2 (8);\n",
    esc("the whole manual is the README, in the package's documentation directory."), "\n";
