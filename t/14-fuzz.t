#!/usr/bin/perl
# Bounded libFuzzer runs over the parsers a request reaches before any
# database work: the Authorization parser with the token codec, the token
# codec and strict base64 alone, the git route matcher (and the thread's
# memory of routed requests, against matching over the built-in sets), and the method
# overrides a request may carry (headers and _method); the cache
# entries' decoders; the thread's memory of verified tokens (never more
# than it was told); and the parsers of the database's bytes, a token's
# packed lookup row (and the thread's memory of the last one parsed,
# against the parse), its owner's level map and its clock.  A crash, an
# AddressSanitizer report or a broken invariant fails the test.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Fuzz qw(fuzz_ok);

fuzz_ok($_, 100_000) for qw(cred token route rmemo override centry vmemo lookuprow rowmemo levelmap clockcmp);
done_testing();
