#!/usr/bin/perl
# C unit tests for the bbtoken CLI's check of what --db names (t/unit/test_cli_dbarg.c)
exec "build/out/t/test_cli_dbarg" or die "build/out/t/test_cli_dbarg: $!";
