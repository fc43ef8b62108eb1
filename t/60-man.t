# The man pages are made from the README (build/man.pl): each man page
# section says, word for word, what its README section says; the pages render
# without a warning from man or groff; every directive the module defines
# and every command and option the CLI's usage texts name is in them; and
# a changed README makes them again.
use strict;
use warnings;
use FindBin;
use Test::More;

my $root = "$FindBin::Bin/..";
chdir $root or die "$root: $!";

sub run {
    my (@cmd) = @_;
    my $out = qx{@cmd 2>&1};
    return ($? >> 8, $out);
}

my ($rc, $out) = run('make -f apxs.mk all man');
is($rc, 0, 'make all man') or diag $out;
my %page = (bbtoken => 'build/out/man/bbtoken.1', mod => 'build/out/man/mod_bbtoken.5');

# The README's sections, by title; '' is the text under the document title.
my %readme;
{
    open my $h, '<', 'README' or die "README: $!";
    my @l = <$h>;
    chomp @l;
    my $cur;
    for (my $i = 0; $i < @l; $i++) {
        if ($i + 1 < @l && $l[$i] =~ /\S/ && $l[$i + 1] =~ /^(?:-{3,}|={3,})\z/) {
            $cur = $l[$i + 1] =~ /^=/ ? '' : $l[$i];
            $readme{$cur} = '';
            $i++;
            next;
        }
        $readme{$cur} .= "$l[$i]\n" if defined $cur;
    }
}

# A man page as plain text (C locale: ASCII), by section heading.
sub man_sections {
    my ($file) = @_;
    my $text = qx{LC_ALL=C MANWIDTH=100 man -l $file 2>/dev/null};
    my @l = split /\n/, $text;
    shift @l;    # the header line
    pop @l while @l && $l[-1] !~ /\S/;
    pop @l;      # the footer line
    my (%s, $cur);
    for (@l) {
        if (/^([A-Z][A-Z ]*[A-Z])\s*$/) { $cur = $1; $s{$cur} = ''; next }
        $s{$cur} .= "$_\n" if defined $cur;
    }
    return \%s;
}

sub words { my ($t) = @_; $t =~ s/`//g; return join ' ', split ' ', $t }

sub same_words {
    my ($man, $readme, $name) = @_;
    my ($m, $r) = (words($man), words($readme));
    return pass($name) if $m eq $r;
    # Show where they part.
    my @m = split / /, $m;
    my @r = split / /, $r;
    my $i = 0;
    $i++ while $i < @m && $i < @r && $m[$i] eq $r[$i];
    my $lo = $i > 8 ? $i - 8 : 0;
    fail($name);
    diag("man:    ... @m[$lo .. ($i + 8 < $#m ? $i + 8 : $#m)]");
    diag("README: ... @r[$lo .. ($i + 8 < $#r ? $i + 8 : $#r)]");
}

my $b = man_sections($page{bbtoken});
ok(exists $b->{$_}, "bbtoken.1 has $_") for 'NAME', 'SYNOPSIS', 'DESCRIPTION', 'TOKEN LIFECYCLE';
same_words(($b->{SYNOPSIS} // '') . ($b->{DESCRIPTION} // ''), $readme{'The CLI: bbtoken'},
           'bbtoken.1 SYNOPSIS and DESCRIPTION say what "The CLI: bbtoken" says');
same_words($b->{'TOKEN LIFECYCLE'} // '', $readme{'Token lifecycle'},
           'bbtoken.1 TOKEN LIFECYCLE says what "Token lifecycle" says');

my $m = man_sections($page{mod});
ok(exists $m->{$_}, "mod_bbtoken.5 has $_")
    for 'NAME', 'DESCRIPTION', 'DIRECTIVES', 'ROUTES', 'STATUS CODES', 'CONFIGURATION TEST', 'METRICS';
same_words($m->{DESCRIPTION} // '', $readme{''}, 'mod_bbtoken.5 DESCRIPTION is the README\'s introduction');
for (['DIRECTIVES', 'Directives'], ['ROUTES', 'Routes'], ['STATUS CODES', 'Status codes'],
     ['CONFIGURATION TEST', 'Configuration test'], ['METRICS', 'Metrics']) {
    same_words($m->{ $_->[0] } // '', $readme{ $_->[1] }, "mod_bbtoken.5 $_->[0] says what \"$_->[1]\" says");
}

like($b->{NAME} // '', qr/^\s*bbtoken - \S/, 'bbtoken.1 NAME is "bbtoken - ..." (whatis)');
like($m->{NAME} // '', qr/^\s*mod_bbtoken - \S/, 'mod_bbtoken.5 NAME is "mod_bbtoken - ..." (whatis)');

# What lintian runs: any warning from man or groff is a rendering fault.
for my $f (values %page) {
    my $err = qx{LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z $f 2>&1 >/dev/null};
    is($err, '', "man -l $f renders without warnings");
}

# Every directive the module defines has its entry (a definition's term
# starts with the directive's name).
my @directives;
for my $c (glob 'mod_bbtoken/*.c') {
    open my $h, '<', $c or die "$c: $!";
    local $/;
    push @directives, <$h> =~ /AP_INIT_\w+\(\s*"(\w+)"/g;
}
cmp_ok(scalar @directives, '>=', 4, 'directives found in mod_bbtoken/*.c');
for my $d (@directives, 'AuthType BBToken', 'Require bbtoken') {
    like($m->{DIRECTIVES} // '', qr/^ {7}\Q$d\E\b/m, "mod_bbtoken.5 documents $d");
}

# Every command and option the CLI's usage texts name is in bbtoken.1.
my $help = qx{build/out/bbtoken --help};
my ($list) = $help =~ /^Commands:\n(.*?)\n\n/ms;
ok($list, 'bbtoken --help lists commands');
my $man1 = words(join ' ', values %$b);
my (%cmds, %opts);
for (split /\n/, $list // '') {
    next unless /^  ([a-z]+)/;
    my $c = $1;
    my @subs = /(?:^  |\| )$c ([a-z]+)/g;
    $cmds{ @subs ? "$c $_" : $c } = 1 for @subs ? @subs : (undef);
}
for my $c (sort keys %cmds) {
    # Without the operands it needs a command's --help exits 2 and says so
    # on stderr; its usage is on stdout all the same.
    my $usage = qx{build/out/bbtoken $c --help 2>/dev/null};
    $opts{$_} = 1 for $usage =~ /(--[a-z][a-z-]*)/g;
    like($man1, qr/(?:^| )\Q$c\E(?: |$)/, "bbtoken.1 has the command '$c'");
}
$opts{$_} = 1 for $help =~ /(--[a-z][a-z-]*)/g;
for my $o (sort keys %opts) {
    like($man1, qr/(?:^|[ \[(])\Q$o\E\b/, "bbtoken.1 has the option $o");
}

# The pages depend on the README: a newer README makes them out of date.
($rc) = run('make -q -f apxs.mk man');
is($rc, 0, 'man pages up to date after make');
utime undef, undef, 'README';
($rc) = run('make -q -f apxs.mk man');
is($rc, 1, 'a newer README makes the man pages out of date');
($rc, $out) = run('make -f apxs.mk man');
is($rc, 0, 'make man again') or diag $out;

done_testing;
