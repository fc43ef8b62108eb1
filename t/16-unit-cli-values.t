#!/usr/bin/perl
# C unit tests for the bbtoken CLI's checks of values (t/unit/test_cli_values.c)
exec "build/out/t/test_cli_values" or die "build/out/t/test_cli_values: $!";
