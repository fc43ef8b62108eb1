/*
 * The built-in git route set under /scm, for the unit tests that match
 * against real routes.  Include after tap.h.
 */
#ifndef BBT_RULES_FIXTURE_H
#define BBT_RULES_FIXTURE_H

#include "bbt_rules.h"

static bbt_rules_t *git_rules(void)
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
