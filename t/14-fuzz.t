#!/usr/bin/perl
# Bounded libFuzzer runs over the parsers a request reaches before any
# database work: the Authorization parser with the token codec, the token
# codec and strict base64 alone, the git route matcher, and the method
# overrides a request may carry (headers and _method); the cache
# entries' decoders; and the parsers of the database's bytes, a token's
# packed lookup row, its owner's level map and its clock.  And each
# thread's memories, against what they stand for: of routed requests,
# against matching over the built-in sets; of cache entries, never
# another key's bytes nor an older copy's decoding; of the last level key
# made, never another target's (each checked on a maker of its own); of
# verified tokens, never more than it was told; of the last lookup row
# parsed, against a fresh parse.  And a routed path as backends may read
# it, against models of their readings (decodings, backslashes,
# ;parameters dropped before or after decoding).  A crash, an
# AddressSanitizer report or a broken invariant fails the test.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Fuzz qw(fuzz_ok);

fuzz_ok($_, 100_000) for qw(cred token route backread override centry lookuprow levelmap clockcmp cmark);
# Each input of these is many operations, each checked against another
# computation: fewer runs for as long.
fuzz_ok($_, 30_000) for qw(rmemo cnear vmemo);
fuzz_ok('rowmemo', 20_000);
fuzz_ok('ckey', 10_000);
done_testing();
