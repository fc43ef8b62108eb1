/*
 * Section paths given as patterns (bbt_confpat.h).
 *
 * A regular expression is compiled with PCRE2 directly, with the options
 * httpd's ap_regcomp gives a section's (RegexDefaultOptions included):
 * ap_regex has no partial matching, and the question here is whether any
 * path beginning with a given one may match, which a partial match
 * answers.  It is compiled once, when the sections are collected: comparing
 * every pair of sections compiles nothing and allocates nothing.
 *
 * A pattern whose every match begins with the narrower section's path and
 * a slash (a leading ^ and literal characters, or a wildcard's characters
 * before its first wildcard) is narrower than that section: merged after
 * it, its settings replacing the section's is what it is written for.
 *
 * A pattern not anchored at the start may match from anywhere in the rest
 * of a URL, so it may take some path below any: it is said to.
 */
#include "httpd.h"
#include "ap_regex.h"
#include "apr_fnmatch.h"
#include "apr_lib.h"
#include "apr_strings.h"

#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "bbt_confpat.h"

/* Far above what a path of a configuration's section needs; a pattern that
 * runs out of it is said to match. */
#define BBT_PAT_MATCH_LIMIT 100000
/* PCRE2's heap for backtracking, in KiB: its own default is some 20 GB,
 * and each frame holds every capture group of the pattern, so a long path
 * and a pattern of many groups would take gigabytes.  Running out is said
 * to match, as the other limits are. */
#define BBT_PAT_HEAP_LIMIT 16384
/* A component longer than this is said to match. */
#define BBT_PAT_COMPONENT_MAX 1024

struct bbt_pat {
    pcre2_code *re;   /* a regular expression, or NULL */
    const char *glob; /* a wildcard, or NULL */
    const char *lit;  /* what every match begins with, "" if unknown */
    int anywhere;     /* a regular expression not anchored at the start */
    int broken;       /* one PCRE2 would not compile */
};

struct bbt_patctx {
    pcre2_match_data *md;
    pcre2_match_context *mctx;
};

static apr_status_t bbt_pat_ctx_free(void *data)
{
    bbt_patctx_t *c = data;

    pcre2_match_data_free(c->md);
    pcre2_match_context_free(c->mctx);
    return APR_SUCCESS;
}

bbt_patctx_t *bbt_pat_ctx(apr_pool_t *p)
{
    bbt_patctx_t *c = apr_pcalloc(p, sizeof(*c));

    c->md = pcre2_match_data_create(1, NULL);
    c->mctx = pcre2_match_context_create(NULL);
    if (c->mctx) {
        pcre2_set_match_limit(c->mctx, BBT_PAT_MATCH_LIMIT);
        pcre2_set_depth_limit(c->mctx, BBT_PAT_MATCH_LIMIT);
        pcre2_set_heap_limit(c->mctx, BBT_PAT_HEAP_LIMIT);
    }
    apr_pool_cleanup_register(p, c, bbt_pat_ctx_free, apr_pool_cleanup_null);
    return c;
}

static apr_status_t bbt_pat_free(void *data)
{
    pcre2_code_free(data);
    return APR_SUCCESS;
}

/* Does a '|' outside any group or class split re into alternatives, or
 * may it (1)?  The count of groups and classes knows escapes and classes,
 * not what may hide a parenthesis, a bracket or a bar from it or forge
 * one: \Q...\E, \c and the character after it, a comment (?#...), a
 * callout's string (?C"..."), a verb's name (*MARK:...), a POSIX class
 * [:...:] or its kin.  A pattern that holds one may have alternatives. */
static int bbt_top_alternation(const char *re)
{
    int depth = 0, cls = 0;

    for (; *re; re++) {
        if (*re == '\\' && re[1]) {
            if (re[1] == 'Q' || re[1] == 'c') {
                return 1;
            }
            re++;
        } else if (cls) {
            if (*re == '[' && re[1] && strchr(":.=", re[1])) {
                return 1;
            }
            cls = *re != ']';
        } else if (*re == '[') {
            cls = 1;
            if (re[1] == ']' || (re[1] == '^' && re[2] == ']')) {
                re += re[1] == ']' ? 1 : 2;
            }
        } else if (*re == '(') {
            if (re[1] == '*' ||
                (re[1] == '?' && re[2] && strchr("#C", re[2]))) {
                return 1;
            }
            depth++;
        } else if (*re == ')') {
            depth--;
        } else if (*re == '|' && depth <= 0) {
            return 1;
        }
    }
    return 0;
}

/* The literal characters after a leading ^ of re, up to the first that
 * is not plain or may be repeated less than once. */
static const char *bbt_re_lit(apr_pool_t *p, const char *re)
{
    char *out = apr_palloc(p, strlen(re) + 1);
    size_t n = 0;

    if (*re++ != '^' || bbt_top_alternation(re)) {
        return "";
    }
    while (*re) {
        char c = *re;

        if (c == '\\' && re[1] && !apr_isalnum(re[1])) {
            c = re[1];
            re += 2;
        } else if (strchr("\\.[]()*+?{}|^$", c)) {
            break;
        } else {
            re++;
        }
        if (*re == '*' || *re == '?' || *re == '{') {
            break;
        }
        out[n++] = c;
        if (*re == '+') {
            break;
        }
    }
    out[n] = '\0';
    return out;
}

bbt_pat_t *bbt_pat_make(apr_pool_t *p, const char *pattern, int regex)
{
    bbt_pat_t *pat = apr_pcalloc(p, sizeof(*pat));
    int cflags = ap_regcomp_get_default_cflags();
    uint32_t opts = PCRE2_DUPNAMES, all = 0;
    int code;
    PCRE2_SIZE off;

    if (!regex) {
        pat->glob = pattern;
        pat->lit = apr_pstrndup(p, pattern, strcspn(pattern, "*?[\\"));
        return pat;
    }
    /* ap_regcomp's options for ap_pregcomp(p, path, AP_REG_EXTENDED), as
     * <LocationMatch> and <DirectoryMatch> compile theirs. */
    opts |= (cflags & AP_REG_ICASE) ? PCRE2_CASELESS : 0;
    opts |= (cflags & AP_REG_NEWLINE) ? PCRE2_MULTILINE : 0;
    opts |= (cflags & AP_REG_DOTALL) ? PCRE2_DOTALL : 0;
    opts |= (cflags & AP_REG_DOLLAR_ENDONLY) ? PCRE2_DOLLAR_ENDONLY : 0;
    pat->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts,
                            &code, &off, NULL);
    if (!pat->re) {
        pat->broken = 1;
        pat->lit = "";
        return pat;
    }
    apr_pool_cleanup_register(p, pat->re, bbt_pat_free, apr_pool_cleanup_null);
    pcre2_pattern_info(pat->re, PCRE2_INFO_ALLOPTIONS, &all);
    pat->anywhere = !(all & PCRE2_ANCHORED);
    pat->lit = pat->anywhere || (opts & (PCRE2_CASELESS | PCRE2_MULTILINE))
                   ? ""
                   : bbt_re_lit(p, pattern);
    return pat;
}

/* Does re match s: 1 yes (or cannot tell), 0 no; partial: or could it,
 * were s followed by more? */
static int bbt_re_may(bbt_patctx_t *c, const pcre2_code *re, const char *s,
                      int partial)
{
    int rc;

    if (!c->md || !c->mctx) {
        return 1;
    }
    rc = pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0,
                     partial ? PCRE2_PARTIAL_HARD : 0, c->md, c->mctx);
    return rc != PCRE2_ERROR_NOMATCH;
}

/* Does wildcard glob (* and ? within one component, as APR_FNM_PATHNAME
 * takes them) match some path that begins with under, which ends in a
 * slash: every component of under by the pattern's, with at least one of
 * the pattern's left for the rest? */
static int bbt_glob_under(const char *glob, const char *under)
{
    char g[BBT_PAT_COMPONENT_MAX], u[BBT_PAT_COMPONENT_MAX];
    const char *ge, *ue;

    while ((ue = strchr(under, '/')) != NULL) {
        if (!(ge = strchr(glob, '/'))) {
            return 0;
        }
        if ((size_t)(ge - glob) >= sizeof(g) ||
            (size_t)(ue - under) >= sizeof(u)) {
            return 1;
        }
        memcpy(g, glob, ge - glob);
        g[ge - glob] = '\0';
        memcpy(u, under, ue - under);
        u[ue - under] = '\0';
        if (apr_fnmatch(g, u, 0) != APR_SUCCESS) {
            return 0;
        }
        glob = ge + 1;
        under = ue + 1;
    }
    return 1;
}

int bbt_pat_wider(bbt_patctx_t *c, const bbt_pat_t *pat, const char *base,
                  const char *under, int self)
{
    size_t n = strlen(pat->lit), u = strlen(under);

    if (strncmp(pat->lit, under, u) == 0) {
        return 0;
    }
    if (pat->glob) {
        return (self && apr_fnmatch(pat->glob, base, APR_FNM_PATHNAME) ==
                            APR_SUCCESS) ||
               bbt_glob_under(pat->glob, under);
    }
    if (pat->broken || pat->anywhere) {
        return 1;
    }
    /* Every match begins with lit: one that parts from the path cannot
     * match, and PCRE2 need not be asked. */
    return (self && strncmp(pat->lit, base, n) == 0 &&
            bbt_re_may(c, pat->re, base, 0)) ||
           (strncmp(pat->lit, under, n < u ? n : u) == 0 &&
            bbt_re_may(c, pat->re, under, 1));
}
