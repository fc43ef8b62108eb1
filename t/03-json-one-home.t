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
# One nm for them all (a run costs more than reading an object), each line
# named by its object (-A); only when it fails, one for each, to say which.
my (@callers, @unread);
my $out = `nm -u -A @objs 2>&1`;
if ($? >> 8) {
    for my $o (@objs) {
        `nm -u $o 2>&1`;
        push @unread, $o if $? >> 8;
    }
    push @unread, 'nm -u -A (all of them)' unless @unread;
}
my %calls = map { /^([^:]+\.o): .*\bjson_load(?:s|b|f|fd|_file|_callback)\b/ ? ($1 => 1) : () } split /\n/, $out;
@callers = grep { $calls{$_} } @objs;
is_deeply(\@unread, [], 'nm -u reads every object');
is_deeply(\@callers, ['build/obj/bbt_jshape.o'], "only bbt_jshape.o calls jansson's decoders")
    or diag 'also: ' . join(' ', grep { !m{/bbt_jshape\.o$} } @callers);
done_testing;
