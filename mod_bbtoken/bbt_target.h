/*
 * What a routed request is about: one project or repository, and the one
 * permission it needs there.  The route language (bbt_rules.h) produces
 * targets and the decision (bbt_decide.h) consumes them; both see this
 * header, and neither the other.
 */
#ifndef BBT_TARGET_H
#define BBT_TARGET_H

#include "bbt_input.h"
#include "bbt_perm.h"

typedef struct {
    /* Canonical project key: upper case for a project, "~" and the lower-case
     * user name for a personal project. */
    char key[BBT_KEY_BUF];
    /* Repository slug, exactly as in the URL; empty for project scope. */
    char slug[BBT_SLUG_MAX + 1];
    bbt_perm_t need;
    /* Why nothing matched (static English), for the log and the 403 body. */
    const char *why;
} bbt_target_t;

#endif
