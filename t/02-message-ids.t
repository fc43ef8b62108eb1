#!/usr/bin/perl
# Every line the module logs starts with a stable message id (BBTnnn: ), no
# id is used for two messages, and README's list of messages is the code's:
# operators grep for these ids and write them into runbooks.  The REST
# API's lines (mod_bbtoken/bbt_rest*.c) are a request's, each with its own
# id from the API's range written out in the call.
use strict;
use warnings;
use Test::More;

# Each kind's ranges of ids: the REST API's files BBT200-BBT299, the rest
# of the module BBT001-BBT199, BBT300-BBT499, BBT500-BBT549, BBT550-BBT599,
# BBT600-BBT619, BBT710-BBT719, BBT720-BBT729, BBT730-BBT739,
# BBT740-BBT749, BBT750-BBT759, BBT760-BBT769, BBT770-BBT779,
# BBT780-BBT789, BBT790-BBT799, BBT810-BBT819 and BBT820-BBT829.
my %range = (module => [[1, 199], [300, 499], [500, 549], [550, 599], [600, 619], [710, 719], [720, 729], [730, 739],
                        [740, 749], [750, 759], [760, 769], [770, 779], [780, 789], [790, 799], [810, 819],
                        [820, 829]],
             rest => [[200, 299]]);
my (%where, @calls, @rest_calls, $rest_files);
for my $f (sort glob 'mod_bbtoken/*.c') {
    my $kind = $f =~ m{/bbt_rest[^/]*\.c$} ? 'rest' : 'module';
    $rest_files++ if $kind eq 'rest';
    open my $h, '<', $f or die "$f: $!";
    my $src = do { local $/; <$h> };
    close $h;
    # Comments say nothing here; their lines stay, for the line numbers.
    (my $code = $src) =~ s{/\*.*?\*/}{(my $c = $&) =~ tr/\n//cd; $c}gse;
    while ($code =~ /"(BBT(\d{3}))(?::|")/g) {
        my ($id, $n) = ($1, $2 + 0);
        push @{ $where{$id} }, $f;
        my @r = @{ $range{$kind} };
        ok((grep { $n >= $_->[0] && $n <= $_->[1] } @r), "$id in $f is in ${kind}'s ranges "
           . join(', ', map { sprintf('BBT%03d-BBT%03d', @$_) } @r));
    }
    # The format of every call of httpd's loggers in the API's files, of
    # ap_log_error/ap_log_rerror in the others: the first string literal
    # after the call's opening parenthesis.
    my $logger = $kind eq 'rest' ? qr/ap_log_\w+/ : qr/ap_log_r?error_?/;
    while ($code =~ /\b($logger)\s*\(([^"]*)"((?:[^"\\]|\\.)*)"/g) {
        my ($fn, $fmt) = ($1, $3);
        my $line = 1 + (() = substr($code, 0, pos($code)) =~ /\n/g);
        push @{ $kind eq 'rest' ? \@rest_calls : \@calls }, [$f, $line, $fn, $fmt];
    }
}

ok(@calls >= 20, 'the log calls are found (' . scalar(@calls) . ')');
ok($rest_files >= 4, "the REST API's sources are found ($rest_files files)");
ok(@rest_calls, "the REST API's log calls are found (" . scalar(@rest_calls) . ')');
for my $c (@rest_calls) {
    my ($f, $line, $fn, $fmt) = @$c;
    # The id itself, not "%s: ": the range check above sees only literals.
    is($fn, 'ap_log_rerror', "$f:$line logs with ap_log_rerror (a request's line)");
    like($fmt, qr/^BBT\d{3}: /, "$f:$line logs with its own id: \"$fmt\"");
}
for my $c (@calls) {
    my ($f, $line, undef, $fmt) = @$c;
    # "%s: " takes the id as its argument (a helper's); a line that starts
    # with spaces continues the one before it (the redacted header dump).
    like($fmt, qr/^(BBT\d{3}: |%s: |\s)/, "$f:$line logs with an id: \"$fmt\"");
}
for my $id (sort keys %where) {
    is(scalar @{ $where{$id} }, 1, "$id is used once") or diag "in @{ $where{$id} }";
}

open my $r, '<', 'README' or die "README: $!";
my $readme = do { local $/; <$r> };
close $r;
my ($section) = $readme =~ /\nMessages\n-+\n(.*?)\n\S[^\n]*\n-+\n/s;
ok($section, 'README has a Messages section') or BAIL_OUT('no Messages section');
my %listed;
$listed{$1}++ while $section =~ /^    (BBT\d{3})  /mg;
for my $id (sort keys %where) {
    ok($listed{$id}, "$id is in README's Messages");
}
for my $id (sort keys %listed) {
    ok($where{$id}, "README's $id is in the code");
    is($listed{$id}, 1, "README lists $id once");
}
done_testing;
