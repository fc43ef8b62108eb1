#!/usr/bin/perl
# C unit tests for bbtoken notify's mail: addresses, the Subject, the Date and Message-ID (t/unit/test_cli_mail_header.c)
exec "build/out/t/test_cli_mail_header" or die "build/out/t/test_cli_mail_header: $!";
