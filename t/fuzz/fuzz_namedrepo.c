/*
 * libFuzzer target: the bitbucket-rest set's query-repo= (compare's
 * fromRepo; default-reviewers' sourceRepoId and targetRepoId, a route of
 * two NAMEs) and body-repo= (a pull request's fromRef and toRef) reading
 * hostile query parameters and bodies for a token of each kind.  The
 * first byte picks the kind and whether the rest is a query or a body.  A
 * query is given as the glue gives it, decoded: split here at "&", each
 * parameter at its first "=", a name or value that starts with "%" taken
 * as one that did not decode (NULL).  Whatever they say: a personal token
 * is never refused here; a refusal says where and why, and names either
 * nothing or a canonical key and a valid slug its scope does not cover; a
 * query with none of the route's NAMEs in any case and every name decoded
 * is let through, and one that ends naming another project's repository
 * by any of them is refused.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_body.h"
#include "bbt_namedrepo.h"
#include "bbt_rules.h"

#define A "/rest/api/latest/projects/PROJ/repos/repo"

static bbt_rules_t *rest;
static const bbt_namedrepo_t *cmp, *prs, *rvw;

static const bbt_namedrepo_t *named_of(const char *method, const char *path)
{
    bbt_match_t m;

    if (bbt_rules_match(rest, method, path, NULL, 0, &m) != BBT_ROUTE_MATCH ||
        !bbt_rule_named(m.rule))
        abort();
    return bbt_rule_named(m.rule);
}

static void load(void)
{
    char err[BBT_RULES_ERR_MAX];
    const char *prefix = NULL;
    const char *text = bbt_rules_builtin("bitbucket-rest", &prefix);

    rest = bbt_rules_new();
    if (!text || bbt_rules_load(rest, text, prefix, "bitbucket-rest", err,
                                sizeof(err)) != 0)
        abort();
    cmp = named_of("GET", A "/compare/diff");
    prs = named_of("POST", A "/pull-requests");
    rvw = named_of("GET", "/rest/default-reviewers/latest/projects/PROJ/repos/"
                          "repo/reviewers");
}

static void check(const bbt_tokscope_t *s, int rc, const bbt_named_t *n)
{
    char canon[BBT_KEY_BUF];
    size_t klen = strlen(n->repo.key);

    if (rc == 1)
        return;
    if (rc != 0 || s->kind == BBT_KIND_PERSONAL || !n->why || !n->where)
        abort();
    if (klen && (bbt_input_key(n->repo.key, klen, canon) != 0 ||
                 strcmp(canon, n->repo.key) != 0 ||
                 !bbt_input_slug(n->repo.slug, strlen(n->repo.slug)) ||
                 bbt_kind_covers(s, &n->repo)))
        abort();
}

/* 1 if name is want (lower case) in any ASCII case. */
static int is_name(const char *name, const char *want)
{
    for (; *name && *want; name++, want++) {
        char c = *name >= 'A' && *name <= 'Z' ? (char)(*name + 32) : *name;

        if (c != *want)
            return 0;
    }
    return !*name && !*want;
}

/* The route nr, reading the NAMEs names (lower case, NULL-ended), over
 * the n params and then over them with name[k]=OTHER/secret after, for
 * each k. */
static void query_route(const bbt_namedrepo_t *nr, const char *const *names,
                        const bbt_tokscope_t *s, bbt_qparam_t *params, size_t n)
{
    static const char *const spelt[] = {"fromRepo", "sourceRepoId",
                                        "targetRepoId"};
    bbt_named_req_t q;
    bbt_named_t out;
    size_t i, k;
    int maybe = 0, rc;

    for (i = 0; i < n; i++) {
        for (k = 0; names[k]; k++)
            maybe |= !params[i].name || is_name(params[i].name, names[k]);
    }
    memset(&q, 0, sizeof(q));
    memset(&out, 0, sizeof(out));
    q.params = params;
    q.nparams = n;
    rc = bbt_namedrepo_inside(nr, s, &q, &out);
    check(s, rc, &out);
    if (!maybe && rc != 1)
        abort();
    /* Another project's repository after it, by any of the route's
     * NAMEs: refused, whatever came before. */
    for (k = 0; names[k]; k++) {
        for (i = 0; i < sizeof(spelt) / sizeof(spelt[0]); i++) {
            if (is_name(spelt[i], names[k]))
                params[n].name = spelt[i];
        }
        params[n].value = "OTHER/secret";
        q.nparams = n + 1;
        memset(&out, 0, sizeof(out));
        rc = bbt_namedrepo_inside(nr, s, &q, &out);
        check(s, rc, &out);
        if (s->kind != BBT_KIND_PERSONAL && rc != 0)
            abort();
    }
}

/* The query in `in` (modified) for scope s, checked as the header says,
 * through compare's route and default-reviewers'. */
static void query(const bbt_tokscope_t *s, char *in, size_t len)
{
    static const char *const cmp_names[] = {"fromrepo", NULL};
    static const char *const rvw_names[] = {"sourcerepoid", "targetrepoid",
                                            NULL};
    /* One more parameter than there are "&", and one appended. */
    size_t max = 2, n = 0, i;
    bbt_qparam_t *params;
    char *p, *next, *eq;

    for (i = 0; i < len; i++)
        max += in[i] == '&';
    if (!(params = malloc(max * sizeof(*params))))
        abort();
    for (p = in; p; p = next, n++) {
        if ((next = strchr(p, '&')))
            *next++ = '\0';
        if ((eq = strchr(p, '=')))
            *eq++ = '\0';
        params[n].name = p[0] == '%' ? NULL : p;
        params[n].value = !eq ? "" : eq[0] == '%' ? NULL : eq;
    }
    query_route(cmp, cmp_names, s, params, n);
    query_route(rvw, rvw_names, s, params, n);
    free(params);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bbt_tokscope_t s;
    bbt_named_t n;
    char *in;
    unsigned sel;

    if (!rest)
        load();
    if (size < 1)
        return 0;
    sel = data[0];
    memset(&s, 0, sizeof(s));
    s.kind = (bbt_kind_t)(sel % 3);
    if (s.kind != BBT_KIND_PERSONAL)
        strcpy(s.key, "PROJ");
    if (s.kind == BBT_KIND_REPO)
        strcpy(s.slug, "repo");
    in = malloc(size);
    if (!in)
        return 0;
    memcpy(in, data + 1, size - 1);
    in[size - 1] = '\0';
    memset(&n, 0, sizeof(n));
    if ((sel / 3) & 1) {
        bbt_body_t *b = NULL;
        bbt_named_req_t q;

        memset(&q, 0, sizeof(q));
        if (bbt_body_parse(in, size - 1, &b, NULL, 0) == NULL) {
            q.body = b;
            check(&s, bbt_namedrepo_inside(prs, &s, &q, &n), &n);
            bbt_body_free(b);
        }
    } else {
        query(&s, in, strlen(in));
    }
    free(in);
    return 0;
}
