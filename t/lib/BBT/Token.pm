package BBT::Token;

# Pure codecs, no servers: the token format of bbt_token.h written and read
# independently of the C code, and the encodings the tests put tokens in.

use strict;
use warnings;
use Carp qw(croak);
use Digest::SHA qw(sha256);
use MIME::Base64 qw(encode_base64 decode_base64);

use Exporter 'import';
our @EXPORT_OK = qw(pct b64 forge_token parse_token mistype_token);

# Percent-encode for the userinfo part of a URL: everything but unreserved.
sub pct {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub b64 { return encode_base64($_[0], '') }

# Build a token the way the spec says (bbt_token.h): a well-formed token with
# a valid checksum for any id.  With $rand16 omitted, random bytes.
sub forge_token {
    my ($id, $rand16) = @_;
    croak "bad id" unless defined $id && $id =~ /^[0-9]{12}\z/;
    $rand16 = join '', map { chr int rand 256 } 1 .. 16 unless defined $rand16;
    croak "rand16 must be 16 bytes" unless length $rand16 == 16;
    my $chk = substr(sha256("bbtoken-v1:$id:$rand16"), 0, 4);
    return 'BBDC-' . b64("$id:$rand16$chk");
}

# Decode a token; returns a hash (id, rand, check, raw, b64, checksum_ok) or
# undef if it is not of the documented shape.
sub parse_token {
    my ($tok) = @_;
    return undef unless defined $tok;
    my $b = $tok;
    $b =~ s/^BBDC-//;
    return undef unless $b =~ m{^[A-Za-z0-9+/]{44}\z};
    my $raw = decode_base64($b);
    return undef unless length $raw == 33;
    return undef unless $raw =~ /^([0-9]{12}):(.{16})(.{4})\z/s;
    my ($id, $rand, $chk) = ($1, $2, $3);
    return {
        id => $id, rand => $rand, check => $chk, raw => $raw, b64 => $b,
        checksum_ok => (substr(sha256("bbtoken-v1:$id:$rand"), 0, 4) eq $chk) ? 1 : 0,
    };
}

# The same token with one base64 character changed: of its secret part, or
# the one at $pos of its body (an 'A' or, where there was one, a 'B').
sub mistype_token {
    my ($tok, $pos) = @_;
    my ($prefix, $b) = $tok =~ /^(BBDC-)?(.*)\z/s;
    $prefix //= '';
    $pos //= 30;    # inside the secret, away from the id's characters
    my $c = substr($b, $pos, 1);
    substr($b, $pos, 1) = ($c eq 'A' ? 'B' : 'A');
    return $prefix . $b;
}

1;
