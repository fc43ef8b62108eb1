/*
 * The git route set as one function, for the unit tests and the fuzzer: a
 * thin layer over the route language (bbt_rules.h), which the module uses
 * itself.  No route is BBT_ROUTE_NONE, which the module refuses: a route
 * table is an allow list.
 */
#ifndef BBT_ROUTE_H
#define BBT_ROUTE_H

#include "bbt_rules.h"
#include "bbt_target.h"

/* Match the built-in git route set (routes/git.conf).  prefix is the URL
 * prefix without a trailing slash ("/scm"; "" for the root).  path is the
 * decoded, dot-segment-free URI path; args the raw query string or NULL.
 * Not thread-safe (it caches the compiled set): for tests and fuzzing; the
 * module uses bbt_rules.h. */
bbt_route_result_t bbt_route_git(const char *prefix, const char *method,
                                 const char *path, const char *args,
                                 bbt_target_t *out);

#endif
