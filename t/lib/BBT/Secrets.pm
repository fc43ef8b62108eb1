package BBT::Secrets;

# Finding secrets in logs: every form a token, its secret part or a Basic
# credential can take in a log line, and the check that none of them is in
# a log (t/24, t/38); and whether a text holds any run of a token, as
# given or cased as a key or a slug would be (t/22-cli-token-shaped,
# t/50-rest-token-shaped).
#
#   my %secret;
#   token_forms('Basic', $token, \%secret);
#   no_secrets_in('httpd error_log', $text, \%secret, 'no token');
#   ok(!holds_token($out, $token, $typo), 'nothing of the token');

use strict;
use warnings;
use Test::More;
use BBT::Token qw(pct b64 parse_token);

use Exporter 'import';
our @EXPORT_OK = qw(token_forms no_secrets_in holds_token);

# Add to %$into (description => string) the forms of token $t: itself,
# without its prefix, percent-encoded, its secret in hex, any 12 characters
# of the part that encodes the secret, and Basic credentials carrying it as
# the password (for the users given, alice and bob by default) or as the
# user name.
sub token_forms {
    my ($label, $t, $into, @users) = @_;
    @users = ('alice', 'bob') unless @users;
    my $p = parse_token($t);
    my $bare = $t =~ s/^BBDC-//r;
    $into->{"$label token"} = $t;
    $into->{"$label token without prefix"} = $bare;
    $into->{"$label token percent-encoded"} = pct($t) if pct($t) ne $t;
    if ($p) {
        $into->{"$label raw secret (hex)"} = unpack('H*', substr($p->{raw}, 13));
        $into->{"$label raw secret (HEX)"} = uc unpack('H*', substr($p->{raw}, 13));
        # Any 12 characters of the part of the token that encodes the secret
        # (the first 16 characters encode only the id).
        for my $i (16 .. length($bare) - 12) {
            $into->{"$label token secret part [$i..]"} = substr($bare, $i, 12);
        }
    }
    for my $user (@users) {
        my $b = b64("$user:$t");
        $into->{"$label Basic credentials for $user"} = $b;
        # windows that encode bytes of the token ("alice:" is 8 characters)
        my $start = int((length($user) + 1) / 3) * 4;
        for (my $i = $start; $i + 16 <= length $b; $i += 4) {
            $into->{"$label Basic base64 for $user [$i..]"} = substr($b, $i, 16);
        }
    }
    return $into;
}

# Whether $text holds anything of the tokens @toks: a run of 16 characters
# of one's body (without its prefix), as given or in either case (a key is
# read in upper case, a slug or a name made in lower case).
sub holds_token {
    my ($text, @toks) = @_;
    for my $t (@toks) {
        (my $b = $t) =~ s/^BBDC-//;
        for my $s ($b, uc $b, lc $b) {
            for (my $i = 0; $i + 16 <= length $s; $i++) {
                return 1 if index($text, substr($s, $i, 16)) >= 0;
            }
        }
    }
    return 0;
}

# A test: none of %$secret is in $text.  Diagnoses the offending lines,
# with what was found masked, and where they were logged from.
sub no_secrets_in {
    my ($log, $text, $secret, $label) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my %secret = %$secret;
    my (%lines, %kinds);    # offending line start => line; secret kinds found
    for my $what (sort keys %secret) {
        my $s = $secret{$what};
        my $at = -1;
        while (($at = index($text, $s, $at + 1)) >= 0) {
            (my $kind = $what) =~ s/ \[\d+\.\.\]$//;
            $kinds{$kind}++;
            my $ls = rindex($text, "\n", $at) + 1;
            next if exists $lines{$ls};
            my $le = index($text, "\n", $at);
            $lines{$ls} = substr($text, $ls, ($le < 0 ? length $text : $le) - $ls);
        }
    }
    ok(!%lines, "$log: $label (" . scalar(keys %secret) . " patterns)") and return 1;
    my %src;
    $src{ $_ =~ /\] (\S+\.c\(\d+\)):/ ? $1 : 'other' }++ for values %lines;
    diag scalar(keys %lines) . " offending lines, logged from: "
        . join(', ', map {"$_ x$src{$_}"} sort keys %src);
    diag "secrets found: " . join(', ', sort keys %kinds);
    my @show = (sort { $a <=> $b } keys %lines)[0 .. 7];
    for my $ls (grep {defined} @show) {
        my $line = $lines{$ls};
        # mask what was found, longest first
        for my $what (sort { length $secret{$b} <=> length $secret{$a} } keys %secret) {
            $line =~ s/\Q$secret{$what}\E/<SECRET>/g;
        }
        diag '  ' . (length $line > 300 ? substr($line, 0, 300) . '...' : $line);
    }
    return 0;
}

1;
