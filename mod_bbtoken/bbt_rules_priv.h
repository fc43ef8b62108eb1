/*
 * What the route language's two files share (bbt_rules.c matches, and
 * bbt_rules_opts.c reads one route's methods, options and patterns): a
 * route as compiled.  Not for any other file.
 */
#ifndef BBT_RULES_PRIV_H
#define BBT_RULES_PRIV_H

#include "bbt_bodyproj.h"
#include "bbt_namedrepo.h"
#include "bbt_rules.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#define BBT_RULE_MAX_METHODS 32

struct bbt_rule {
    char *methods[BBT_RULE_MAX_METHODS];
    size_t nmethods; /* 0: any method ("*") */
    pcre2_code *re;
    pcre2_code *query; /* NULL: any query string */
    /* Compiled to machine code: matched through the JIT's own entry,
     * which skips pcre2_match's checks of what a route never passes. */
    int re_jit, query_jit;
    /* query= with nothing after it: no query string at all, or an empty
     * one, which is all that pattern matches (anchored at both ends). */
    int query_empty;
    int project_group, repo_group; /* -1: none */
    char fixed_project[BBT_KEY_BUF];
    int deny;
    int destination;
    int new_only;   /* new: the Destination must not exist yet */
    int git_object; /* git-object: what is moved there is that object */
    bbt_perm_t need;
    bbt_perm_t token_need;
    char *json_name, *json_value; /* json=: NULL for none */
    bbt_bodyproj_t *bodyproj;     /* body-project=: NULL for none */
    bbt_namedrepo_t *named;       /* query-repo=, body-repo=: NULL */
    char *origin;
    /* The built-in set it was loaded from (bbt_rules_mark_builtin), or
     * NULL. */
    const char *set;
};

/* Options a route may have, for bbt_rules_add's record of those seen. */
#define BBT_RULES_NOPTIONS 12

/* "origin: what 'detail'" into err; returns -1. */
int bbt_rules_err(char *err, size_t errlen, const char *origin,
                  const char *what, const char *detail);

/* pattern compiled as every route pattern is (anchored, bytes, DOTALL),
 * *jit set when PCRE2 made machine code of it; NULL with err naming what
 * (pattern, query pattern). */
pcre2_code *bbt_rules_compile(const char *pattern, const char *origin,
                              const char *what, int *jit, char *err,
                              size_t errlen);

/* METHODS ("*" or a comma-separated list of upper-case names) into r. */
int bbt_rules_parse_methods(bbt_rule_t *r, const char *methods,
                            const char *origin, char *err, size_t errlen);

/* 0 if r, a SITE_READ route with its options seen (bbt_rules_parse_option's
 * record) and its captures found, may be; -1 with err saying why not. */
int bbt_rules_site_check(const bbt_rule_t *r, const int *seen,
                         const char *pattern, const char *origin, char *err,
                         size_t errlen);

/* Which word of a route bbt_rules_word is given. */
typedef enum {
    BBT_PLACE_METHODS,
    BBT_PLACE_PATTERN,
    BBT_PLACE_PERMISSION,
    BBT_PLACE_OPTION
} bbt_rules_place_t;

/* word, in its place in a route loaded with prefix (NULL: none), as the
 * route reads it: 0 with *out NULL where it holds no @PREFIX@, else with
 * *out a copy (malloc) where each is replaced as its place needs (see
 * bbt_rules_add_prefixed); -1 with err where it may not hold one. */
int bbt_rules_word(const char *word, bbt_rules_place_t place,
                   const char *prefix, char **out, const char *origin,
                   char *err, size_t errlen);

/* One OPTION into r; seen (BBT_RULES_NOPTIONS entries) refuses one twice. */
int bbt_rules_parse_option(bbt_rule_t *r, const char *opt, int *seen,
                           const char *origin, char *err, size_t errlen);

#endif
