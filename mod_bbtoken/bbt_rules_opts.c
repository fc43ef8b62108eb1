/*
 * One route of the route language as it is read (see bbt_rules.h): its
 * methods, its options, and its patterns compiled.  bbt_rules.c adds the
 * route to its list and matches requests against it.
 */
#include "bbt_rules_priv.h"
#include "bbt_input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* body-project= and its modifiers in bbt_bodyproj_opt_t's order, then
 * query-repo= and body-repo= in bbt_namedrepo_opt_t's. */
static const char *const bbt_option_names[] = {"project=",
                                               "query=",
                                               "token=",
                                               "destination",
                                               "json=",
                                               "body-project=",
                                               "body-project-absent=",
                                               "body-project-same=",
                                               "query-repo=",
                                               "body-repo=",
                                               "new",
                                               "git-object"};
#define BBT_OPT_BODYPROJ 5
#define BBT_OPT_NAMEDREPO 8
#define BBT_OPT_NEW 10
#define BBT_OPT_GITOBJ 11

/* bbt_rules_priv.h counts them, for bbt_rules_add. */
_Static_assert(sizeof(bbt_option_names) / sizeof(bbt_option_names[0]) ==
                   BBT_RULES_NOPTIONS,
               "BBT_RULES_NOPTIONS is the number of options");
/* The longest member name json= may ask for. */
#define BBT_JSON_NAME_MAX 64

int bbt_rules_err(char *err, size_t errlen, const char *origin,
                  const char *what, const char *detail)
{
    if (err && errlen)
        snprintf(err, errlen, "%s: %s%s%s%s", origin ? origin : "route", what,
                 detail ? " '" : "", detail ? detail : "", detail ? "'" : "");
    return -1;
}

pcre2_code *bbt_rules_compile(const char *pattern, const char *origin,
                              const char *what, int *jit, char *err,
                              size_t errlen)
{
    int code = 0;
    PCRE2_SIZE off = 0;
    pcre2_code *re;
    unsigned char msg[160];
    char buf[320];

    /* DOTALL: a path is bytes, not lines.  A decoded path may hold a
     * newline (%0A), and "." stopping there would let one carry a request
     * past a deny route written with ".*". */
    re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                       PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_DOTALL |
                           PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_UTF |
                           PCRE2_NEVER_UCP | PCRE2_NEVER_BACKSLASH_C,
                       &code, &off, NULL);
    if (!re) {
        if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
            strcpy((char *)msg, "unknown error");
        snprintf(buf, sizeof(buf),
                 "%s does not compile (%s at offset %lu):", what,
                 (const char *)msg, (unsigned long)off);
        bbt_rules_err(err, errlen, origin, buf, pattern);
        return NULL;
    }
    /* Every request matches its routes: compiled to machine code once
     * here, where PCRE2 can (otherwise it interprets, as before).  The
     * match limit holds for JIT code too; a match that runs out of JIT
     * stack is an error, and an error is no route. */
    *jit = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0;
    return re;
}

int bbt_rules_parse_methods(bbt_rule_t *r, const char *methods,
                            const char *origin, char *err, size_t errlen)
{
    const char *p = methods, *end;

    if (strcmp(methods, "*") == 0)
        return 0;
    for (;;) {
        size_t len, i;

        end = strchr(p, ',');
        len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0)
            return bbt_rules_err(err, errlen, origin, "empty method in",
                                 methods);
        for (i = 0; i < len; i++) {
            if (!bbt_is_tchar((unsigned char)p[i]) || p[i] == '*')
                return bbt_rules_err(err, errlen, origin, "invalid method list",
                                     methods);
        }
        /* Methods are case-sensitive and every method in use is upper
         * case: "get" would never match a client's GET. */
        for (i = 0; i < len; i++) {
            if (p[i] >= 'a' && p[i] <= 'z')
                return bbt_rules_err(
                    err, errlen, origin,
                    "methods are case-sensitive: write them in "
                    "upper case, as clients send them:",
                    methods);
        }
        if (r->nmethods == BBT_RULE_MAX_METHODS)
            return bbt_rules_err(err, errlen, origin, "too many methods in",
                                 methods);
        r->methods[r->nmethods] = malloc(len + 1);
        if (!r->methods[r->nmethods])
            return bbt_rules_err(err, errlen, origin, "out of memory", NULL);
        memcpy(r->methods[r->nmethods], p, len);
        r->methods[r->nmethods][len] = '\0';
        r->nmethods++;
        if (!end)
            return 0;
        p = end + 1;
    }
}

/* json=NAME:VALUE: NAME is ASCII letters, digits and "_-", VALUE anything
 * (even empty), compared exactly. */
static int bbt_parse_json(bbt_rule_t *r, const char *v, const char *origin,
                          char *err, size_t errlen)
{
    const char *colon = strchr(v, ':');
    size_t n = colon ? (size_t)(colon - v) : 0, i;

    if (n == 0 || n > BBT_JSON_NAME_MAX)
        return bbt_rules_err(
            err, errlen, origin,
            "json= needs NAME:VALUE, NAME 1 to 64 characters:", v);
    for (i = 0; i < n; i++) {
        if (!bbt_is_alnum((unsigned char)v[i]) && v[i] != '_' && v[i] != '-')
            return bbt_rules_err(
                err, errlen, origin,
                "json= NAME may hold only letters, digits, _ and -:", v);
    }
    r->json_name = strndup(v, n);
    r->json_value = strdup(colon + 1);
    if (!r->json_name || !r->json_value)
        return bbt_rules_err(err, errlen, origin, "out of memory", NULL);
    return 0;
}

int bbt_rules_parse_option(bbt_rule_t *r, const char *opt, int *seen,
                           const char *origin, char *err, size_t errlen)
{
    size_t i, n = BBT_RULES_NOPTIONS;
    const char *v;
    bbt_perm_t grant;

    for (i = 0; i < n; i++) {
        size_t len = strlen(bbt_option_names[i]);

        if (strncmp(opt, bbt_option_names[i], len) == 0 &&
            (bbt_option_names[i][len - 1] == '=' || opt[len] == '\0'))
            break;
    }
    if (i == n)
        return bbt_rules_err(err, errlen, origin, "unknown route option", opt);
    if (seen[i])
        return bbt_rules_err(err, errlen, origin, "route option given twice",
                             opt);
    seen[i] = 1;
    v = strchr(opt, '=') ? strchr(opt, '=') + 1 : NULL;
    switch (i) {
    case 0:
        if (bbt_input_key(v, strlen(v), r->fixed_project) != 0)
            return bbt_rules_err(err, errlen, origin, "invalid project key", v);
        return 0;
    case 1:
        r->query = bbt_rules_compile(v, origin, "query pattern", &r->query_jit,
                                     err, errlen);
        r->query_empty = v[0] == '\0';
        return r->query ? 0 : -1;
    case 2:
        if (bbt_perm_parse(v, &r->token_need) == 0)
            return 0;
        /* A grant's permission but no token's: REPO_CREATE, which a token
         * reaches with PROJECT_ADMIN (bbt_perm.h). */
        if (bbt_perm_parse_grant(v, &grant) == 0)
            return bbt_rules_err(err, errlen, origin,
                                 "token= takes a permission a token holds, "
                                 "and no token holds REPO_CREATE: a token "
                                 "reaches it with PROJECT_ADMIN "
                                 "(token=PROJECT_ADMIN)",
                                 NULL);
        return bbt_rules_err(err, errlen, origin, "unknown permission", v);
    case 3:
        r->destination = 1;
        return 0;
    case 4:
        return bbt_parse_json(r, v, origin, err, errlen);
    case BBT_OPT_NEW:
        r->new_only = 1;
        return 0;
    case BBT_OPT_GITOBJ:
        r->git_object = 1;
        return 0;
    case BBT_OPT_NAMEDREPO:
    case BBT_OPT_NAMEDREPO + 1:
        return bbt_namedrepo_option(
            &r->named, (bbt_namedrepo_opt_t)(i - BBT_OPT_NAMEDREPO), v, origin,
            err, errlen);
    default:
        return bbt_bodyproj_option(&r->bodyproj,
                                   (bbt_bodyproj_opt_t)(i - BBT_OPT_BODYPROJ),
                                   v, origin, err, errlen);
    }
}

#define BBT_MARK "@PREFIX@"
#define BBT_MARK_LEN (sizeof(BBT_MARK) - 1)

/* word with every @PREFIX@ replaced by prefix, its regex metacharacters
 * escaped where regex (malloc). */
static char *bbt_mark_replace(const char *word, const char *prefix, int regex)
{
    size_t n = strlen(word), plen = strlen(prefix);
    const char *p, *s;
    char *out, *o;

    /* Each occurrence grows by at most 2 * plen. */
    for (p = word; (p = strstr(p, BBT_MARK)) != NULL; p += BBT_MARK_LEN)
        n += 2 * plen;
    out = malloc(n + 1);
    if (!out)
        return NULL;
    for (o = out, p = word; *p;) {
        if (strncmp(p, BBT_MARK, BBT_MARK_LEN) != 0) {
            *o++ = *p++;
            continue;
        }
        for (s = prefix; *s; s++) {
            if (regex && strchr("\\^$.|?*+()[]{}", *s))
                *o++ = '\\';
            *o++ = *s;
        }
        p += BBT_MARK_LEN;
    }
    *o = '\0';
    return out;
}

int bbt_rules_word(const char *word, bbt_rules_place_t place,
                   const char *prefix, char **out, const char *origin,
                   char *err, size_t errlen)
{
    const char *mark = strstr(word, BBT_MARK), *from = word;
    int regex = 1;

    *out = NULL;
    if (!mark)
        return 0;
    /* PATTERN and query= are regexes; json='s VALUE is compared as text,
     * after the first ':' as bbt_parse_json splits it.  No other word (a
     * method, a permission, a key, a member's or a parameter's name) can
     * hold a URL prefix. */
    if (place == BBT_PLACE_OPTION && strncmp(word, "json=", 5) == 0 &&
        strchr(word, ':')) {
        from = strchr(word, ':') + 1;
        regex = 0;
    } else if (place != BBT_PLACE_PATTERN &&
               !(place == BBT_PLACE_OPTION && strncmp(word, "query=", 6) == 0))
        from = NULL;
    if (!from || mark < from)
        return bbt_rules_err(err, errlen, origin,
                             "@PREFIX@ stands only in PATTERN, in query= and "
                             "in json='s VALUE, not in",
                             word);
    if (!prefix)
        return bbt_rules_err(err, errlen, origin,
                             "@PREFIX@ without a prefix: only BBTokenRoutes "
                             "FILE URL-prefix gives one (BBTokenRoute has "
                             "none):",
                             word);
    *out = bbt_mark_replace(word, prefix, regex);
    return *out ? 0 : bbt_rules_err(err, errlen, origin, "out of memory", NULL);
}

/* SITE_READ is a read outside any one project (the list of every project
 * or repository the user may see): allowed to a personal token, whose
 * owner the backend lists for (bbt_decide.h).  So it is a read, GET or
 * HEAD, named as such (never "*"); and nothing may name a project, a
 * repository or a body for it to be held against: no capture, project=,
 * token=, destination, json=, body-project=, query-repo= or body-repo=.
 * query= alone narrows it. */
int bbt_rules_site_check(const bbt_rule_t *r, const int *seen,
                         const char *pattern, const char *origin, char *err,
                         size_t errlen)
{
    size_t i;

    for (i = 0; i < r->nmethods; i++) {
        if (strcmp(r->methods[i], "GET") != 0 &&
            strcmp(r->methods[i], "HEAD") != 0)
            break;
    }
    if (r->nmethods == 0 || i < r->nmethods)
        return bbt_rules_err(err, errlen, origin,
                             "SITE_READ is a read: its methods are GET and "
                             "HEAD alone, named (not *), not",
                             r->nmethods ? r->methods[i] : "*");
    if (r->project_group > 0 || r->repo_group > 0)
        return bbt_rules_err(err, errlen, origin,
                             "SITE_READ is on no project or repository: no "
                             "(?<project>...) or (?<repo>...) capture in",
                             pattern);
    for (i = 0; i < BBT_RULES_NOPTIONS; i++) {
        if (seen[i] && strcmp(bbt_option_names[i], "query=") != 0)
            return bbt_rules_err(err, errlen, origin,
                                 "SITE_READ is on no project or repository: "
                                 "it takes no option but query=, not",
                                 bbt_option_names[i]);
    }
    return 0;
}
