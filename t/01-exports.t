#!/usr/bin/perl
# mod_bbtoken.so exports its module record and nothing else: every other
# symbol is the module's own business, and an exported one could clash with
# (or be interposed by) another module's or library's of the same name.
use strict;
use warnings;
use Test::More;

my $so = $ENV{BBT_MODULE_SO} || 'build/out/mod_bbtoken.so';
ok(-f $so, "$so is built") or BAIL_OUT("build it: make -f apxs.mk");
my $out = `nm -D --defined-only $so 2>&1`;
is($? >> 8, 0, 'nm -D reads it') or diag $out;
my @syms = map { (split ' ')[-1] } grep { /\S/ } split /\n/, $out;
ok((grep { $_ eq 'bbtoken_module' } @syms), 'bbtoken_module is exported');
# What the linker itself may define in a shared object.
my %linker = map { $_ => 1 } qw(_init _fini _edata _end __bss_start);
my @other = grep { $_ ne 'bbtoken_module' && !$linker{$_} } @syms;
is(scalar @other, 0, 'nothing else is exported')
    or diag 'also exported: ' . join(' ', @other);
done_testing;
