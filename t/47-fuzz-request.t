#!/usr/bin/perl
# Bounded libFuzzer runs over the rest of what a request carries that the
# module reads: an upload checked as the git object its name says
# (bbt_gitobj), a LOCK's Timeout and BBTokenDAVLockMaxTimeout's argument
# (bbt_locktime), the Content-Type a body the routes read declares
# (bbt_body_not_json), and the query string as the REST API's arguments and
# as query-repo='s parameters (bbt_query): a crash, an AddressSanitizer
# report or a broken invariant (a verdict other than git's rules give, a
# lock longer than its cap or other than mod_dav would read, a form's type
# taken for JSON, an argument other than the query's text decoded) fails
# the test.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Fuzz qw(fuzz_ok);

fuzz_ok($_, 100_000) for qw(locktime jsontype restargs qparams);
# Each input is a file written, read back and inflated: fewer runs.
fuzz_ok('gitobj', 10_000);
done_testing();
