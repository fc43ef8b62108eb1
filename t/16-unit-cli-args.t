#!/usr/bin/perl
# C unit tests for the bbtoken CLI's command line (t/unit/test_cli_args.c)
exec "build/out/t/test_cli_args" or die "build/out/t/test_cli_args: $!";
