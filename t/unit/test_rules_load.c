/* Loading route text costs work in proportion to its size.  The program
 * builds a route text of N lines (routes, comments and blank lines, with
 * @PREFIX@ only near the top) and loads it: t/46-rules-load-linear.t counts
 * the instructions that takes under valgrind for N and 4N lines.  Without
 * an argument it checks, as TAP, that such a text of about 1 MB (the most
 * BBTokenRoutes reads from a file) loads whole, and that a fault on its
 * last line is named by that line's number. */
#include "bbt_rules.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One route every ROUTE_EVERY lines; the rest comments and blank lines. */
#define ROUTE_EVERY 50

static char *route_text(long lines, const char *last)
{
    size_t cap = (size_t)lines * 100 + 200 + (last ? strlen(last) : 0);
    char *text = malloc(cap), *o = text;
    long i;

    if (!text)
        return NULL;
    o += sprintf(o, "BBTokenRoute GET \"@PREFIX@/(?<project>[A-Z]+)/"
                    "(?<repo>[a-z]+)\\.git/HEAD\" REPO_READ\n");
    for (i = 2; i <= lines; i++) {
        if (i % ROUTE_EVERY == 0)
            o += sprintf(o,
                         "BBTokenRoute GET,HEAD \"/g/(?<project>[A-Z]+)/"
                         "(?<repo>[a-z]+)/f%ld\" REPO_READ\n",
                         i);
        else if (i % 7 == 0)
            o += sprintf(o, "\n");
        else
            o += sprintf(o,
                         "# line %ld: a comment, as long as most of them "
                         "are in a route file\n",
                         i);
    }
    if (last)
        o += sprintf(o, "%s\n", last);
    return text;
}

static int load(const char *text, bbt_rules_t **rs, char *err, size_t errlen)
{
    *rs = bbt_rules_new();
    return *rs ? bbt_rules_load(*rs, text, "/scm", "t", err, errlen) : -1;
}

static int tap(void)
{
    long lines = 16000;
    char err[BBT_RULES_ERR_MAX], want[64];
    char *text = route_text(lines, NULL);
    bbt_rules_t *rs;
    bbt_match_t m;
    size_t size = text ? strlen(text) : 0;

    ok(size > 900 * 1024 && size <= 1024 * 1024, "the text is about 1 MB (%zu)",
       size);
    is_int(load(text, &rs, err, sizeof(err)), 0, "it loads");
    is_int((long long)bbt_rules_count(rs), lines / ROUTE_EVERY + 1,
           "every route in it");
    ok(bbt_rules_match(rs, "GET", "/scm/P/r.git/HEAD", NULL, 0, &m) ==
           BBT_ROUTE_MATCH,
       "@PREFIX@ on its first line is the prefix");
    ok(bbt_rules_match(rs, "HEAD", "/g/P/r/f15950", NULL, 0, &m) ==
               BBT_ROUTE_MATCH &&
           strcmp(bbt_rule_origin(m.rule), "t:15950") == 0,
       "a route near its end is there, named by its line");
    bbt_rules_free(rs);
    free(text);

    text = route_text(lines, "BBTokenRoute GET /x NOT_A_PERMISSION");
    is_int(load(text, &rs, err, sizeof(err)), -1,
           "a bad last line refuses the text");
    snprintf(want, sizeof(want), "t:%ld: ", lines + 1);
    ok(strncmp(err, want, strlen(want)) == 0, "and names line %ld: %s",
       lines + 1, err);
    bbt_rules_free(rs);
    free(text);
    return done_testing();
}

int main(int argc, char **argv)
{
    char err[BBT_RULES_ERR_MAX];
    bbt_rules_t *rs;
    char *text;
    int rv;

    if (argc < 2)
        return tap();
    text = route_text(atol(argv[1]), NULL);
    if (!text)
        return 2;
    rv = load(text, &rs, err, sizeof(err));
    if (rv != 0)
        fprintf(stderr, "%s\n", err);
    printf("%ld lines, %zu routes\n", atol(argv[1]), bbt_rules_count(rs));
    bbt_rules_free(rs);
    free(text);
    return rv ? 1 : 0;
}
