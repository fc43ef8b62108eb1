/*
 * Route matcher: from a request's method, decoded path and query string to
 * the one permission it needs on one project or repository.
 *
 * The routes are written in the route language (bbt_rules.h); this header
 * keeps what every route set shares: the target, and the rules for project
 * keys and slugs.  No route is BBT_ROUTE_NONE, which the module refuses: a
 * route table is an allow list.
 */
#ifndef BBT_ROUTE_H
#define BBT_ROUTE_H

#include "bbt_input.h"
#include "bbt_perm.h"

typedef enum { BBT_ROUTE_NONE = 0, BBT_ROUTE_MATCH = 1 } bbt_route_result_t;

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

/* Match the built-in git route set (routes/git.conf).  prefix is the URL
 * prefix without a trailing slash ("/scm"; "" for the root).  path is the
 * decoded, dot-segment-free URI path; args the raw query string or NULL.
 * Not thread-safe (it caches the compiled set): for tests and fuzzing; the
 * module uses bbt_rules.h. */
bbt_route_result_t bbt_route_git(const char *prefix, const char *method,
                                 const char *path, const char *args,
                                 bbt_target_t *out);

#endif
