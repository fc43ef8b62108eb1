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

#include "bbt_perm.h"

#define BBT_KEY_MAX 128
#define BBT_SLUG_MAX 128
#define BBT_USER_MAX 255

typedef enum { BBT_ROUTE_NONE = 0, BBT_ROUTE_MATCH = 1 } bbt_route_result_t;

typedef struct {
    /* Canonical project key: upper case for a project, "~" and the lower-case
     * user name for a personal project. */
    char key[BBT_USER_MAX + 2];
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

/* Canonicalize a project key (KEY or ~user) into out (BBT_USER_MAX + 2
 * bytes).  Returns 0, or -1 if it is not a valid key. */
int bbt_route_canonical_key(const char *key, size_t len, char *out);

/* 1 if s[0..len) is a valid repository slug: ASCII letters, digits, "_-.",
 * starting with a letter or digit, at most BBT_SLUG_MAX, not ending ".git". */
int bbt_route_valid_slug(const char *s, size_t len);

#endif
