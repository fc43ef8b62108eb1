#!/usr/bin/perl
# A request body becomes JSON in one place: bbt_jshape_load, which bounds
# its shape before jansson builds it and reads it strictly.  No other
# object of the module or the CLI calls one of jansson's decoders, so no
# body can be parsed around the bound.
use strict;
use warnings;
use Test::More;

my @objs = (glob('build/obj/*.o'), glob('build/obj/cli/*.o'));
ok(scalar(grep { m{/bbt_jshape\.o$} } @objs), 'the objects are built') or BAIL_OUT('build them: make -f apxs.mk');
my (@callers, @unread);
for my $o (@objs) {
    my $out = `nm -u $o 2>&1`;
    push @unread, $o if $? >> 8;
    push @callers, $o if $out =~ /\bjson_load(?:s|b|f|fd|_file|_callback)\b/;
}
is_deeply(\@unread, [], 'nm -u reads every object');
is_deeply(\@callers, ['build/obj/bbt_jshape.o'], "only bbt_jshape.o calls jansson's decoders")
    or diag 'also: ' . join(' ', grep { !m{/bbt_jshape\.o$} } @callers);
done_testing;
