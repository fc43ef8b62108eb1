#!/usr/bin/perl
# C unit tests for bbt_rest_req (t/unit/test_rest_req.c): the REST API's
# path, paging arguments, JSON Content-Type and cross-site check
exec "build/out/t/test_rest_req" or die "build/out/t/test_rest_req: $!";
