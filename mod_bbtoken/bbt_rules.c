/*
 * The route language (see bbt_rules.h).  Patterns are PCRE2, compiled once
 * at configuration time, anchored at both ends, without UTF and with "."
 * matching any byte (a path is bytes), and matched under a match limit: a
 * pattern that backtracks too much refuses the request instead of holding a
 * worker.
 *
 * Matching allocates nothing per request.  Each thread keeps its own match
 * data (PCRE2 keeps its backtracking frames there too), made on the
 * thread's first match and grown only for a pattern with more captures
 * than any before; httpd's worker and event MPMs match on many threads at
 * once, and a thread-specific block needs no lock.
 */
#include "bbt_rules_priv.h"
#include "bbt_input.h"
#include "bbt_tls.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BBT_MATCH_LIMIT 100000
#define BBT_DEPTH_LIMIT 10000

struct bbt_rules {
    bbt_rule_t **v;
    size_t n, cap;
    pcre2_match_context *mctx;
    /* The most ovector pairs any pattern, or query pattern, needs. */
    uint32_t path_pairs, query_pairs;
    unsigned long serial;
    int has_dest_checks; /* a route with the option new or git-object */
    /* The built-in set routes were loaded from, and whether from more
     * than one (bbt_rules_builtin_only). */
    const char *set;
    int sets_mixed;
};

/* One thread's match data: for the path, and for the query string (matched
 * while the path's captures are still needed). */
typedef struct {
    pcre2_match_data *path, *query;
    uint32_t path_pairs, query_pairs;
} bbt_match_tls_t;

static void bbt_match_tls_free(void *v);
static bbt_tls_t bbt_match_tls_kind =
    BBT_TLS_INIT(sizeof(bbt_match_tls_t), bbt_match_tls_free);
static pthread_once_t bbt_gctx_once = PTHREAD_ONCE_INIT;
/* Every allocation matching makes goes through here and is counted. */
static pcre2_general_context *bbt_match_gctx;
static unsigned long bbt_match_allocs;
static unsigned long bbt_rules_serials;

static void *bbt_match_malloc(PCRE2_SIZE size, void *data)
{
    (void)data;
    __atomic_fetch_add(&bbt_match_allocs, 1, __ATOMIC_RELAXED);
    return malloc(size);
}

static void bbt_match_free(void *block, void *data)
{
    (void)data;
    free(block);
}

unsigned long bbt_rules_match_allocations(void)
{
    return __atomic_load_n(&bbt_match_allocs, __ATOMIC_RELAXED);
}

static void bbt_match_tls_free(void *v)
{
    bbt_match_tls_t *t = v;

    pcre2_match_data_free(t->path);
    pcre2_match_data_free(t->query);
    free(t);
}

/* Made once and never freed: a thread of a dying process may still be
 * matching when the module is unloaded. */
static void bbt_gctx_init(void)
{
    bbt_match_gctx =
        pcre2_general_context_create(bbt_match_malloc, bbt_match_free, NULL);
}

/* md, made or grown to hold pairs ovector pairs (have: what it holds). */
static pcre2_match_data *bbt_md_fit(pcre2_match_data **md, uint32_t *have,
                                    uint32_t pairs)
{
    if (*md && *have >= pairs)
        return *md;
    pcre2_match_data_free(*md);
    *md = pcre2_match_data_create(pairs, bbt_match_gctx);
    *have = *md ? pairs : 0;
    return *md;
}

/* This thread's match data, big enough for every pattern of rs. */
static bbt_match_tls_t *bbt_match_tls(const bbt_rules_t *rs)
{
    bbt_match_tls_t *t = bbt_tls_get(&bbt_match_tls_kind);

    if (!t)
        return NULL;
    if (!bbt_md_fit(&t->path, &t->path_pairs, rs->path_pairs) ||
        !bbt_md_fit(&t->query, &t->query_pairs, rs->query_pairs))
        return NULL;
    return t;
}

/* Ovector pairs re needs: its captures and the whole match. */
static uint32_t bbt_pairs(const pcre2_code *re)
{
    uint32_t n = 0;

    if (re && pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &n) != 0)
        n = 0;
    return n + 1;
}

bbt_rules_t *bbt_rules_new(void)
{
    bbt_rules_t *rs = calloc(1, sizeof(*rs));

    if (!rs)
        return NULL;
    rs->path_pairs = rs->query_pairs = 1;
    if (pthread_once(&bbt_gctx_once, bbt_gctx_init) != 0 || !bbt_match_gctx ||
        !bbt_tls_ready(&bbt_match_tls_kind)) {
        free(rs);
        return NULL;
    }
    rs->mctx = pcre2_match_context_create(bbt_match_gctx);
    if (!rs->mctx) {
        free(rs);
        return NULL;
    }
    pcre2_set_match_limit(rs->mctx, BBT_MATCH_LIMIT);
    pcre2_set_depth_limit(rs->mctx, BBT_DEPTH_LIMIT);
    rs->serial = __atomic_add_fetch(&bbt_rules_serials, 1, __ATOMIC_RELAXED);
    return rs;
}

static void bbt_rule_free(bbt_rule_t *r)
{
    size_t i;

    if (!r)
        return;
    for (i = 0; i < r->nmethods; i++)
        free(r->methods[i]);
    pcre2_code_free(r->re);
    pcre2_code_free(r->query);
    free(r->json_name);
    free(r->json_value);
    bbt_bodyproj_free(r->bodyproj);
    bbt_namedrepo_free(r->named);
    free(r->origin);
    free(r);
}

void bbt_rules_free(bbt_rules_t *rs)
{
    size_t i;

    if (!rs)
        return;
    for (i = 0; i < rs->n; i++)
        bbt_rule_free(rs->v[i]);
    free(rs->v);
    pcre2_match_context_free(rs->mctx);
    free(rs);
}

size_t bbt_rules_count(const bbt_rules_t *rs)
{
    return rs ? rs->n : 0;
}

unsigned long bbt_rules_serial(const bbt_rules_t *rs)
{
    return rs ? rs->serial : 0;
}

const char *bbt_rule_origin(const bbt_rule_t *r)
{
    return r ? r->origin : NULL;
}

int bbt_rules_mark_builtin(bbt_rules_t *rs, size_t from, const char *set)
{
    size_t i;

    if (!rs || !set) {
        return -1;
    }
    if (from >= rs->n) {
        return 0;
    }
    for (i = from; i < rs->n; i++) {
        rs->v[i]->set = set;
    }
    /* The table's own strings: one pointer for each set. */
    if (rs->set && rs->set != set) {
        rs->sets_mixed = 1;
    }
    rs->set = set;
    return 0;
}

const char *bbt_rule_builtin(const bbt_rule_t *r)
{
    return r ? r->set : NULL;
}

const char *bbt_rules_builtin_only(const bbt_rules_t *rs)
{
    return rs && !rs->sets_mixed ? rs->set : NULL;
}

int bbt_rules_builtin_mixed(const bbt_rules_t *rs)
{
    return rs && rs->sets_mixed;
}

const bbt_namedrepo_t *bbt_rule_named(const bbt_rule_t *r)
{
    return r ? r->named : NULL;
}

int bbt_rules_has_dest_checks(const bbt_rules_t *rs)
{
    return rs && rs->has_dest_checks;
}

int bbt_rule_new(const bbt_rule_t *r)
{
    return r && r->new_only;
}

int bbt_rule_git_object(const bbt_rule_t *r)
{
    return r && r->git_object;
}

const char *bbt_rules_origin_at(const bbt_rules_t *rs, size_t i)
{
    return rs && i < rs->n ? rs->v[i]->origin : NULL;
}

const char *bbt_rules_method_at(const bbt_rules_t *rs, size_t i, size_t k)
{
    return rs && i < rs->n && k < rs->v[i]->nmethods ? rs->v[i]->methods[k]
                                                     : NULL;
}

/* The number of the group called name: -1 where there is none, -2 where
 * (?J) gives more than one that name, which no route may have: which of
 * them names the project would depend on the branch taken, and a check
 * that a route has none (SITE_READ's) would not see them. */
static int bbt_group(const pcre2_code *re, const char *name)
{
    int n = pcre2_substring_number_from_name(re, (PCRE2_SPTR)name);

    return n > 0 ? n : n == PCRE2_ERROR_NOUNIQUESUBSTRING ? -2 : -1;
}

int bbt_rules_add(bbt_rules_t *rs, const char *methods, const char *pattern,
                  const char *perm, const char *const *opts, size_t nopts,
                  const char *origin, char *err, size_t errlen)
{
    return bbt_rules_add_prefixed(rs, methods, pattern, perm, opts, nopts, NULL,
                                  origin, err, errlen);
}

int bbt_rules_add_prefixed(bbt_rules_t *rs, const char *methods,
                           const char *pattern, const char *perm,
                           const char *const *opts, size_t nopts,
                           const char *prefix, const char *origin, char *err,
                           size_t errlen)
{
    bbt_rule_t *r;
    int seen[BBT_RULES_NOPTIONS] = {0};
    const char *why;
    char *own = NULL, *no = NULL;
    size_t i;

    if (err && errlen)
        err[0] = '\0';
    if (!rs || !methods || !pattern || !perm)
        return bbt_rules_err(err, errlen, origin, "incomplete route", NULL);
    if (!origin)
        origin = "route";
    r = calloc(1, sizeof(*r));
    if (!r || !(r->origin = strdup(origin))) {
        free(r);
        return bbt_rules_err(err, errlen, origin, "out of memory", NULL);
    }
    r->project_group = r->repo_group = -1;

    /* Every word, of a single route as of a route file's: each takes
     * @PREFIX@ as that word is read (a regex, text), or not at all. */
    if (bbt_rules_word(methods, BBT_PLACE_METHODS, prefix, &no, origin, err,
                       errlen) != 0 ||
        bbt_rules_word(perm, BBT_PLACE_PERMISSION, prefix, &no, origin, err,
                       errlen) != 0 ||
        bbt_rules_word(pattern, BBT_PLACE_PATTERN, prefix, &own, origin, err,
                       errlen) != 0)
        goto fail;
    if (own)
        pattern = own;
    if (strcmp(perm, "deny") == 0) {
        r->deny = 1;
    } else if (bbt_perm_parse_need(perm, &r->need) != 0) {
        bbt_rules_err(err, errlen, origin,
                      "unknown permission (" BBT_GRANT_NAMES
                      ", or SITE_READ, or deny):",
                      perm);
        goto fail;
    }
    if (bbt_rules_parse_methods(r, methods, origin, err, errlen) != 0)
        goto fail;
    r->re =
        bbt_rules_compile(pattern, origin, "pattern", &r->re_jit, err, errlen);
    if (!r->re)
        goto fail;
    for (i = 0; i < nopts; i++) {
        char *opt = NULL;
        int rv = bbt_rules_word(opts[i], BBT_PLACE_OPTION, prefix, &opt, origin,
                                err, errlen);

        if (rv == 0)
            rv = bbt_rules_parse_option(r, opt ? opt : opts[i], seen, origin,
                                        err, errlen);
        free(opt);
        if (rv != 0)
            goto fail;
    }
    /* A Destination has no body of its own: mod_dav's look-up of it has
     * none at all. */
    if (r->destination && r->json_name) {
        bbt_rules_err(err, errlen, origin,
                      "json= cannot decide a destination route:", pattern);
        goto fail;
    }
    /* Only mod_dav's look-up of a Destination knows whether it exists and
     * what is moved there, and only a destination route is matched there. */
    if (r->new_only && (!r->destination || r->deny)) {
        bbt_rules_err(
            err, errlen, origin,
            "new is for a destination route with a permission:", pattern);
        goto fail;
    }
    if (r->git_object && (!r->destination || r->deny)) {
        bbt_rules_err(err, errlen, origin,
                      "git-object is for a destination route with a "
                      "permission:",
                      pattern);
        goto fail;
    }
    if ((why = bbt_bodyproj_check(r->bodyproj, r->deny, r->destination,
                                  r->methods, r->nmethods)) != NULL) {
        bbt_rules_err(err, errlen, origin, why, pattern);
        goto fail;
    }
    if ((why = bbt_namedrepo_check(r->named, r->deny, r->destination)) !=
        NULL) {
        bbt_rules_err(err, errlen, origin, why, pattern);
        goto fail;
    }
    r->project_group = bbt_group(r->re, "project");
    r->repo_group = bbt_group(r->re, "repo");
    if (r->project_group == -2 || r->repo_group == -2) {
        bbt_rules_err(err, errlen, origin,
                      "a (?<project>...) or (?<repo>...) capture named more "
                      "than once ((?J)) in",
                      pattern);
        goto fail;
    }
    if (!r->deny && bbt_perm_site(r->need) &&
        bbt_rules_site_check(r, seen, pattern, origin, err, errlen) != 0)
        goto fail;
    if (r->project_group > 0 && r->fixed_project[0]) {
        bbt_rules_err(err, errlen, origin,
                      "both a (?<project>...) capture and project= in",
                      pattern);
        goto fail;
    }
    if (!r->deny && !bbt_perm_site(r->need) && r->project_group < 0 &&
        !r->fixed_project[0]) {
        bbt_rules_err(err, errlen, origin,
                      "a permission route needs a (?<project>...) capture or "
                      "project=KEY:",
                      pattern);
        goto fail;
    }
    if (!r->deny && r->need.scope == BBT_SCOPE_REPO && r->repo_group < 0) {
        bbt_rules_err(err, errlen, origin,
                      "a REPO_ permission needs a (?<repo>...) capture in",
                      pattern);
        goto fail;
    }

    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 16;
        bbt_rule_t **v = realloc(rs->v, cap * sizeof(*v));

        if (!v) {
            bbt_rules_err(err, errlen, origin, "out of memory", NULL);
            goto fail;
        }
        rs->v = v;
        rs->cap = cap;
    }
    rs->v[rs->n++] = r;
    rs->has_dest_checks |= r->new_only | r->git_object;
    if (bbt_pairs(r->re) > rs->path_pairs)
        rs->path_pairs = bbt_pairs(r->re);
    if (r->query && bbt_pairs(r->query) > rs->query_pairs)
        rs->query_pairs = bbt_pairs(r->query);
    free(own);
    return 0;

fail:
    bbt_rule_free(r);
    free(own);
    return -1;
}

static int bbt_method_ok(const bbt_rule_t *r, const char *method)
{
    size_t i;

    if (r->nmethods == 0)
        return 1;
    for (i = 0; i < r->nmethods; i++) {
        if (strcmp(r->methods[i], method) == 0)
            return 1;
    }
    return 0;
}

static bbt_route_result_t bbt_none(bbt_match_t *out, const bbt_rule_t *r,
                                   const char *why)
{
    memset(out, 0, sizeof(*out));
    out->target.need.scope = BBT_SCOPE_REPO;
    out->target.need.level = BBT_LEVEL_NONE;
    out->target.why = why;
    out->rule = r;
    return BBT_ROUTE_NONE;
}

/* -1 error, 0 no match, 1 match.  The match limit holds on either entry
 * (the match context carries it to the JIT code). */
static int bbt_run(const pcre2_code *re, int jit, const char *s, size_t len,
                   pcre2_match_data *md, pcre2_match_context *mctx)
{
    int rc = jit ? pcre2_jit_match(re, (PCRE2_SPTR)s, len, 0, 0, md, mctx)
                 : pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, md, mctx);

    if (rc >= 0)
        return 1;
    return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

/* The route's captures into out: NULL, or why they are not a target. */
static const char *bbt_captures(const bbt_rule_t *r, const char *path,
                                const PCRE2_SIZE *ov, bbt_match_t *out)
{
    /* SITE_READ: no project and no repository, an empty key and slug
     * (bbt_rules_site_check keeps every capture and project= out). */
    if (bbt_perm_site(r->need)) {
        out->target.key[0] = out->target.slug[0] = '\0';
        out->key_exact = 1;
        return NULL;
    }
    if (r->project_group > 0) {
        PCRE2_SIZE s = ov[2 * r->project_group],
                   e = ov[2 * r->project_group + 1];

        if (s == PCRE2_UNSET || e < s ||
            bbt_input_key(path + s, e - s, out->target.key) != 0)
            return "invalid project key";
        out->key_off = s;
        out->key_len = e - s;
        out->key_exact = memcmp(path + s, out->target.key, e - s) == 0;
    } else {
        strcpy(out->target.key, r->fixed_project);
        out->key_exact = 1;
    }
    if (r->need.scope == BBT_SCOPE_REPO) {
        PCRE2_SIZE s = ov[2 * r->repo_group], e = ov[2 * r->repo_group + 1];

        if (s == PCRE2_UNSET || e < s || !bbt_input_slug(path + s, e - s))
            return "invalid repository slug";
        memcpy(out->target.slug, path + s, e - s);
        out->target.slug[e - s] = '\0';
    }
    return NULL;
}

/* 0 if path has an empty segment ("//") or a dot segment ("." or "..").
 * httpd resolves dot segments and merges doubled slashes before it routes,
 * but not everywhere: MergeSlashes Off keeps "//", and a [PT] rewrite's
 * substitution is not normalized again.  The filesystem reads "repo//" as
 * the repository itself and "repo/../../OTHER" as another project, which
 * a route's ".+" would take for paths inside repo. */
static int bbt_path_normal(const char *path)
{
    const char *p;

    for (p = strchr(path, '/'); p; p = strchr(p + 1, '/')) {
        const char *s = p + 1;

        if (*s == '/' ||
            (s[0] == '.' && (s[1] == '/' || s[1] == '\0' ||
                             (s[1] == '.' && (s[2] == '/' || s[2] == '\0')))))
            return 0;
    }
    return 1;
}

bbt_route_result_t bbt_rules_match(const bbt_rules_t *rs, const char *method,
                                   const char *path, const char *args,
                                   int destination, bbt_match_t *out)
{
    return bbt_rules_match_body(rs, method, path, args, destination, NULL, out);
}

bbt_route_result_t bbt_rules_match_body(const bbt_rules_t *rs,
                                        const char *method, const char *path,
                                        const char *args, int destination,
                                        const bbt_body_t *body,
                                        bbt_match_t *out)
{
    bbt_match_tls_t *t;
    size_t i, plen, alen;

    if (!out)
        return BBT_ROUTE_NONE;
    bbt_none(out, NULL, NULL);
    if (!rs || !method || !path)
        return bbt_none(out, NULL, "incomplete request");
    plen = strlen(path);
    alen = args ? strlen(args) : 0;
    if (plen > BBT_RULES_MAX_PATH)
        return bbt_none(out, NULL, "path too long");
    if (alen > BBT_RULES_MAX_ARGS)
        return bbt_none(out, NULL, "query string too long");
    if (!bbt_path_normal(path))
        return bbt_none(out, NULL, "empty or dot segment in the path");
    t = bbt_match_tls(rs);
    if (!t) {
        bbt_none(out, NULL, "out of memory");
        out->errored = 1;
        return BBT_ROUTE_NONE;
    }

    for (i = 0; i < rs->n; i++) {
        const bbt_rule_t *r = rs->v[i];
        const char *why, *v;
        size_t vlen;
        int m;

        if (r->destination != (destination != 0) || !bbt_method_ok(r, method))
            continue;
        m = bbt_run(r->re, r->re_jit, path, plen, t->path, rs->mctx);
        if (m == 1 && r->query_empty)
            m = alen == 0;
        else if (m == 1 && r->query)
            m = bbt_run(r->query, r->query_jit, args ? args : "", alen,
                        t->query, rs->mctx);
        if (m == 0)
            continue;
        if (m < 0) {
            bbt_none(out, r, "route pattern hit its match limit");
            out->errored = 1;
            return BBT_ROUTE_NONE;
        }
        if ((r->json_name || r->bodyproj) && !body) {
            /* Read the body only for a target worth deciding. */
            if (!r->deny &&
                (why = bbt_captures(r, path, pcre2_get_ovector_pointer(t->path),
                                    out)) != NULL)
                return bbt_none(out, r, why);
            out->rule = r;
            return BBT_ROUTE_NEED_BODY;
        }
        if (r->json_name) {
            switch (bbt_body_member(body, r->json_name, &v, &vlen)) {
            case BBT_MEMBER_AMBIGUOUS:
                bbt_none(out, r, "the body names a member ambiguously");
                return BBT_ROUTE_BAD_BODY;
            case BBT_MEMBER_STRING:
                if (vlen == strlen(r->json_value) &&
                    memcmp(v, r->json_value, vlen) == 0)
                    break;
                continue;
            default:
                continue;
            }
        }
        if (r->deny)
            return bbt_none(out, r, "a deny route matched");
        why = bbt_captures(r, path, pcre2_get_ovector_pointer(t->path), out);
        if (why)
            return bbt_none(out, r, why);
        out->target.need = r->need;
        out->token_need = r->token_need;
        out->rule = r;
        out->target.why = NULL;
        if (r->bodyproj &&
            (why = bbt_bodyproj_eval(r->bodyproj, body, out)) != NULL) {
            bbt_none(out, r, why);
            return BBT_ROUTE_BAD_PROJECT;
        }
        return BBT_ROUTE_MATCH;
    }
    return bbt_none(out, NULL,
                    destination ? "no route covers the destination"
                                : "no route covers this request");
}
