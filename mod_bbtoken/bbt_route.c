/*
 * Project keys and repository slugs, and the git route set as a function.
 * The routes themselves are routes/git.conf in the route language
 * (bbt_rules.c): an allow list, so anything odd (encoded bytes, dot
 * segments, doubled or trailing slashes, extra query parameters) matches
 * nothing and is refused.
 */
#include "bbt_route.h"
#include "bbt_rules.h"

#include <string.h>

static int bbt_is_alpha(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int bbt_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int bbt_is_alnum(unsigned char c)
{
    return bbt_is_alpha(c) || bbt_is_digit(c);
}

static unsigned char bbt_upper(unsigned char c)
{
    return (c >= 'a' && c <= 'z') ? (unsigned char)(c - 'a' + 'A') : c;
}

static unsigned char bbt_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Every byte any part of a git URL path may hold: the union of the key,
 * user, slug and git-path alphabets, and the separator. */

int bbt_route_canonical_key(const char *key, size_t len, char *out)
{
    const unsigned char *k = (const unsigned char *)key;
    size_t i;

    if (out)
        out[0] = '\0';
    if (!key || !out || len == 0)
        return -1;

    if (k[0] == '~') {
        /* Personal project: "~" and a user name, canonically lower case. */
        if (len < 2 || len - 1 > BBT_USER_MAX || !bbt_is_alnum(k[1]))
            return -1;
        for (i = 2; i < len; i++) {
            if (!bbt_is_alnum(k[i]) && k[i] != '.' && k[i] != '_' &&
                k[i] != '@' && k[i] != '-')
                return -1;
        }
        out[0] = '~';
        for (i = 1; i < len; i++)
            out[i] = (char)bbt_lower(k[i]);
        out[len] = '\0';
        return 0;
    }

    if (len > BBT_KEY_MAX || !bbt_is_alpha(k[0]))
        return -1;
    for (i = 1; i < len; i++) {
        if (!bbt_is_alnum(k[i]) && k[i] != '_')
            return -1;
    }
    for (i = 0; i < len; i++)
        out[i] = (char)bbt_upper(k[i]);
    out[len] = '\0';
    return 0;
}

int bbt_route_valid_slug(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i;

    if (!s || len == 0 || len > BBT_SLUG_MAX || !bbt_is_alnum(u[0]))
        return 0;
    for (i = 1; i < len; i++) {
        if (!bbt_is_alnum(u[i]) && u[i] != '_' && u[i] != '.' && u[i] != '-')
            return 0;
    }
    /* git-http-backend tries "x.git" when asked for "x": a slug ending in
     * ".git" could be confused with another repository's directory. */
    if (len >= 4 && memcmp(s + len - 4, ".git", 4) == 0)
        return 0;
    return 1;
}

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
