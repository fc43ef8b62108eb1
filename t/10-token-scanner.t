# The README's regular expression for secret scanners, and its offline
# check (the checksum), hold for tokens the CLI makes, and the expression
# matches no other base64 after the prefix.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(sha256);
use MIME::Base64 qw(decode_base64 encode_base64);
use BBT::Env;
use BBT::Util qw(slurp);

my ($rx) = slurp("$FindBin::Bin/../README") =~ /^For secret scanners.*?\n\n\s+(BBDC-\S+)\n/ms;
ok(defined $rx, "the README's expression: " . ($rx // 'none'));
my $re = qr/\A$rx\z/;

my $env = BBT::Env->new(httpd => 0)->start;
$env->user_add('alice');
my @bad;
for my $i (1 .. 20) {
    my ($tok) = $env->token_create('alice', name => "t$i", perms => ['REPO_READ']);
    push @bad, "$tok: no match" unless $tok =~ $re;
    my $raw = decode_base64(substr($tok, 5));
    push @bad, "$tok: checksum"
        unless length($raw) == 33 && substr(sha256('bbtoken-v1:' . substr($raw, 0, 29)), 0, 4) eq substr($raw, 29);
}
is_deeply(\@bad, [], 'twenty tokens the CLI made: each matches, each checksum as the README says');

my $others = grep { ('BBDC-' . encode_base64(join('', map { chr int rand 256 } 1 .. 33), '')) =~ $re } 1 .. 20_000;
is($others, 0, 'no match among 20,000 other base64 strings after BBDC-');

done_testing;
