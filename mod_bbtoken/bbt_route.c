/*
 * The git route set as a function, for the unit tests and the fuzzer.
 * The routes themselves are routes/git.conf in the route language
 * (bbt_rules.c): an allow list, so anything odd (encoded bytes, dot
 * segments, doubled or trailing slashes, extra query parameters) matches
 * nothing and is refused.
 */
#include "bbt_route.h"
#include "bbt_rules.h"

#include <string.h>

/* The git set, compiled for the last prefix asked for.  Not thread-safe:
 * this entry point serves the unit tests and the fuzzer; the module
 * compiles its routes at configuration time (bbt_rules.h). */
static bbt_rules_t *bbt_git_rules;
static char bbt_git_prefix[256];

bbt_route_result_t bbt_route_git(const char *prefix, const char *method,
                                 const char *path, const char *args,
                                 bbt_target_t *out)
{
    bbt_match_t m;
    char err[BBT_RULES_ERR_MAX];
    const char *text = bbt_rules_builtin("git", NULL);
    bbt_route_result_t rv;

    if (!out)
        return BBT_ROUTE_NONE;
    memset(out, 0, sizeof(*out));
    out->need.scope = BBT_SCOPE_REPO;
    if (!prefix || !method || !path ||
        strlen(prefix) >= sizeof(bbt_git_prefix)) {
        out->why = "incomplete request";
        return BBT_ROUTE_NONE;
    }
    if (!bbt_git_rules || strcmp(prefix, bbt_git_prefix) != 0) {
        bbt_rules_free(bbt_git_rules);
        bbt_git_rules = bbt_rules_new();
        strcpy(bbt_git_prefix, prefix);
        if (!bbt_git_rules || bbt_rules_load(bbt_git_rules, text, prefix, "git",
                                             err, sizeof(err)) != 0) {
            bbt_rules_free(bbt_git_rules);
            bbt_git_rules = NULL;
            out->why = "invalid route prefix";
            return BBT_ROUTE_NONE;
        }
    }
    /* A key in another case matches with its canonical target: the module
     * maps the URL to that spelling before it reaches a file. */
    rv = bbt_rules_match(bbt_git_rules, method, path, args, 0, &m);
    *out = m.target;
    return rv;
}
