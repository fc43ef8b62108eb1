#!/usr/bin/perl
# C unit tests for bbtoken notify's mail: addresses, the Subject, the message, sendmail (t/unit/test_cli_mail.c)
exec "build/out/t/test_cli_mail" or die "build/out/t/test_cli_mail: $!";
