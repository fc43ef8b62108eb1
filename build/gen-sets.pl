#!/usr/bin/perl
# Generate bbt_sets.c from routes/*.conf at build time (apxs.mk writes it to
# build/obj/): the module's built-in route sets are these files, byte for
# byte (t/unit/test_rules.c checks that they still are).  Run from the top
# of the tree.
use strict;
use warnings;

my @sets = (['git', '/scm'], ['dav', '/dav'], ['bitbucket-rest', '']);
print <<'H';
/*
 * The built-in route sets: routes/NAME.conf, byte for byte.  Generated at
 * build time by build/gen-sets.pl (t/unit/test_rules.c compares).
 */
#include "bbt_rules.h"

#include <string.h>

/* clang-format off */
H
for my $s (@sets) {
    my ($name, $prefix) = @$s;
    open my $h, '<', "routes/$name.conf" or die "routes/$name.conf: $!";
    local $/;
    my $text = <$h>;
    (my $var = $name) =~ s/-/_/g;
    print "static const char bbt_set_$var\[] =\n";
    for my $line (split /(?<=\n)/, $text) {
        my $c = $line;
        $c =~ s/\\/\\\\/g;
        $c =~ s/"/\\"/g;
        $c =~ s/\n/\\n/g;
        print "    \"$c\"\n";
    }
    print "    ;\n\n";
}
print "static const struct {\n    const char *name, *prefix, *text;\n} bbt_sets[] = {\n";
for my $s (@sets) {
    (my $var = $s->[0]) =~ s/-/_/g;
    print "    {\"$s->[0]\", \"$s->[1]\", bbt_set_$var},\n";
}
print <<'T';
};

/* clang-format on */

const char *bbt_rules_builtin(const char *name, const char **default_prefix)
{
    size_t i;

    for (i = 0; name && i < sizeof(bbt_sets) / sizeof(bbt_sets[0]); i++) {
        if (strcmp(name, bbt_sets[i].name) == 0) {
            if (default_prefix)
                *default_prefix = bbt_sets[i].prefix;
            return bbt_sets[i].text;
        }
    }
    return NULL;
}

const char *bbt_rules_builtin_name(const char *name)
{
    size_t i;

    for (i = 0; name && i < sizeof(bbt_sets) / sizeof(bbt_sets[0]); i++) {
        if (strcmp(name, bbt_sets[i].name) == 0)
            return bbt_sets[i].name;
    }
    return NULL;
}

const char *bbt_rules_builtin_names(void)
{
T
print "    return \"" . join(', ', map { $_->[0] } @sets) . "\";\n}\n";
