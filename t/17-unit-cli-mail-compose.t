#!/usr/bin/perl
# C unit tests for bbtoken notify's mail: the whole message for every kind of notice (t/unit/test_cli_mail_compose.c)
exec "build/out/t/test_cli_mail_compose" or die "build/out/t/test_cli_mail_compose: $!";
