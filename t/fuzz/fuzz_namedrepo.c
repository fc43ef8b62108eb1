/*
 * libFuzzer target: the bitbucket-rest set's query-repo= (compare's
 * fromRepo) and body-repo= (a pull request's fromRef and toRef) reading
 * hostile query strings and bodies for a token of each kind.  The first
 * byte picks the kind and whether the rest is a query string or a body.
 * Whatever they say: a personal token is never refused here; a refusal
 * says where and why, and names either nothing or a canonical key and a
 * valid slug its scope does not cover; a query with no fromRepo in any
 * spelling is let through, and one that ends naming another project's
 * repository is refused.
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
static const bbt_namedrepo_t *cmp, *prs;

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bbt_tokscope_t s;
    bbt_named_t n;
    char *in;
    unsigned sel;
    int rc;

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

        if (bbt_body_parse(in, size - 1, &b, NULL, 0) == NULL) {
            check(&s, bbt_namedrepo_inside(prs, &s, NULL, b, &n), &n);
            bbt_body_free(b);
        }
    } else {
        size_t len = strlen(in), i;
        char *more = malloc(len + 32), *lower = malloc(len + 1);

        if (!more || !lower)
            abort();
        rc = bbt_namedrepo_inside(cmp, &s, in, NULL, &n);
        check(&s, rc, &n);
        /* No fromRepo in any spelling a decoder could make of it: none. */
        for (i = 0; i <= len; i++)
            lower[i] =
                (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
        if (!strchr(in, '%') && !strstr(lower, "fromrepo") && rc != 1)
            abort();
        /* Another project's repository after it: refused, whatever came
         * before. */
        memcpy(more, in, len);
        strcpy(more + len, "&fromRepo=OTHER/secret");
        rc = bbt_namedrepo_inside(cmp, &s, more, NULL, &n);
        check(&s, rc, &n);
        if (s.kind != BBT_KIND_PERSONAL && rc != 0)
            abort();
        free(more);
        free(lower);
    }
    free(in);
    return 0;
}
