#!/usr/bin/perl
# Bounded libFuzzer runs over the input rules (bbt_input: names, keys,
# slugs, UTF-8, e-mail addresses, numbers, networks), the inventory's
# statement from hostile filters, hostile route text loaded and matched,
# client addresses and address groups, a backend's Cache-Control, and the
# CLI's command line and notify's mail: a crash, an AddressSanitizer report
# or a broken contract (an accepted value outside its rule, a filter's
# value in the statement's text, a match naming anything but a canonical
# key, a group that does not read back as itself, a private response's
# value a shared cache may store, a header a name could start, a conninfo
# repeated in a message) fails the test.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Fuzz qw(fuzz_ok);

# Runs per target (BBT::Fuzz): the CLI's targets print into memory on
# every run and are slower.
my %runs = (input => 50_000, inventory => 30_000, cli_mail => 10_000, cli_args => 2_000,
            rules_load => 2_000, agroup => 30_000, cachectl => 30_000);
fuzz_ok($_, $runs{$_}) for sort keys %runs;
done_testing();
