#!/usr/bin/perl
# C unit tests for bbtoken notify's mail: sendmail, its exit status and its deadline (t/unit/test_cli_mail_sendmail.c)
exec "build/out/t/test_cli_mail_sendmail" or die "build/out/t/test_cli_mail_sendmail: $!";
