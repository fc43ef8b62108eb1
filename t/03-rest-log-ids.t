#!/usr/bin/perl
# Every log line of the access-tokens REST API (mod_bbtoken/bbt_rest*.c)
# starts with its own stable id from BBT200-BBT299, and the README lists
# each one.  Reads the sources: no server needed.
use strict;
use warnings;
use FindBin;
use Test::More;

my $root = "$FindBin::Bin/..";
my @files = sort glob "$root/mod_bbtoken/bbt_rest*.c";
ok(@files >= 4, 'the REST API\'s sources (' . scalar(@files) . ' files)');
my $readme = do { local (@ARGV, $/) = "$root/README"; <> };

my (%seen, $calls);
for my $f (@files) {
    my $src = do { local (@ARGV, $/) = $f; <> };
    (my $name = $f) =~ s{.*/}{};
    # Any of httpd's loggers, up to the first string literal of the call.
    while ($src =~ /\b(ap_log_\w+)\s*\(([^"]*)"((?:[^"\\]|\\.)*)"/g) {
        my ($fn, $lit) = ($1, $3);
        $calls++;
        is($fn, 'ap_log_rerror', "$name: logs with ap_log_rerror (a request's line)");
        if ($lit =~ /^(BBT(\d{3})): /) {
            my ($id, $n) = ($1, $2);
            ok($n >= 200 && $n <= 299, "$name: $id is in BBT200-BBT299");
            ok(!$seen{$id}++, "$name: $id is used once");
            like($readme, qr/^\s+\Q$id\E\s/m, "$name: $id is in the README's table");
        } else {
            fail("$name: a line without an id: \"$lit\"");
        }
    }
}
ok($calls, "log calls found ($calls)");
done_testing;
