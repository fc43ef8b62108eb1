/*
 * The built-in route sets, for the unit tests that match against real
 * routes, what one request matches, and a route text the loader must
 * refuse.  Include after tap.h.
 */
#ifndef BBT_RULES_FIXTURE_H
#define BBT_RULES_FIXTURE_H

#include "bbt_rules.h"

#include <stdio.h>
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

/* The built-in set name loaded under prefix, or NULL (said why). */
static inline bbt_rules_t *builtin_rules(const char *name, const char *prefix)
{
    char err[BBT_RULES_ERR_MAX];
    bbt_rules_t *rs = bbt_rules_new();

    if (!rs || bbt_rules_load(rs, bbt_rules_builtin(name, NULL), prefix, name,
                              err, sizeof(err)) != 0) {
        diag("load failed: %s", err);
        bbt_rules_free(rs);
        return NULL;
    }
    return rs;
}

static inline bbt_rules_t *git_rules(void)
{
    return builtin_rules("git", "/scm");
}

/* One match (dest: as a Destination): want_perm NULL for no route,
 * target "KEY" or "KEY/slug". */
static inline void route_is(const bbt_rules_t *rs, const char *method,
                            const char *path, const char *args, int dest,
                            const char *want_perm, const char *want_target)
{
    bbt_match_t out;
    char target[600];
    const char *perm;
    int rv;

    memset(&out, 0x5a, sizeof(out));
    rv = bbt_rules_match(rs, method, path, args, dest, &out);
    perm = rv == BBT_ROUTE_MATCH
               ? bbt_perm_name(out.target.need.scope, out.target.need.level)
               : NULL;
    snprintf(target, sizeof(target), "%s%s%s", out.target.key,
             out.target.slug[0] ? "/" : "", out.target.slug);
    if (!want_perm) {
        ok(rv == BBT_ROUTE_NONE && out.target.why && out.target.key[0] == 0 &&
               out.target.need.level == BBT_LEVEL_NONE,
           "%s%s %s%s%s: no route", dest ? "destination " : "", method, path,
           args ? "?" : "", args ? args : "");
        if (rv == BBT_ROUTE_MATCH)
            diag("matched %s on %s", perm, target);
        return;
    }
    ok(rv == BBT_ROUTE_MATCH && perm && strcmp(perm, want_perm) == 0 &&
           strcmp(target, want_target) == 0 && out.target.why == NULL &&
           out.rule != NULL,
       "%s%s %s%s%s -> %s on %s", dest ? "destination " : "", method, path,
       args ? "?" : "", args ? args : "", want_perm, want_target);
    if (rv != BBT_ROUTE_MATCH)
        diag("no route: %s", out.target.why ? out.target.why : "?");
    else if (!perm || strcmp(perm, want_perm) || strcmp(target, want_target))
        diag("got %s on %s", perm ? perm : "?", target);
}

/* A request line (never a Destination) and what it must match. */
static inline void line_is(const bbt_rules_t *rs, const char *method,
                           const char *path, const char *args,
                           const char *want_perm, const char *want_target)
{
    route_is(rs, method, path, args, 0, want_perm, want_target);
}

#endif
