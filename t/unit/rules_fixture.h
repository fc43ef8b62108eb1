/*
 * The built-in git route set under /scm, for the unit tests that match
 * against real routes, and a route text the loader must refuse.  Include
 * after tap.h.
 */
#ifndef BBT_RULES_FIXTURE_H
#define BBT_RULES_FIXTURE_H

#include "bbt_rules.h"

#include <string.h>

/* line must be refused, with a message holding want. */
static inline void bad_route(const char *line, const char *want)
{
    char err[BBT_RULES_ERR_MAX] = "";
    bbt_rules_t *rs = bbt_rules_new();

    ok(bbt_rules_load(rs, line, NULL, "t", err, sizeof(err)) == -1 &&
           strstr(err, want),
       "refused: %s", want);
    if (!strstr(err, want))
        diag("got: %s", err);
    bbt_rules_free(rs);
}

static inline bbt_rules_t *git_rules(void)
{
    char err[BBT_RULES_ERR_MAX];
    bbt_rules_t *rs = bbt_rules_new();

    if (!rs || bbt_rules_load(rs, bbt_rules_builtin("git", NULL), "/scm", "git",
                              err, sizeof(err)) != 0) {
        diag("load failed: %s", err);
        bbt_rules_free(rs);
        return NULL;
    }
    return rs;
}

#endif
