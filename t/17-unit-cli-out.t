#!/usr/bin/perl
# C unit tests for what the bbtoken CLI prints (t/unit/test_cli_out.c)
exec "build/out/t/test_cli_out" or die "build/out/t/test_cli_out: $!";
