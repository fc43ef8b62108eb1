/*
 * The route options query-repo= and body-repo= (see bbt_namedrepo.h).
 */
#include "bbt_namedrepo.h"
#include "bbt_input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *text; /* as the route says it: fromRef.repository */
    char *names[BBT_NAMEDREPO_DEPTH];
    size_t n;
} bbt_namedpath_t;

struct bbt_namedrepo {
    char *query[BBT_NAMEDREPO_PATHS]; /* query-repo= NAMEs */
    size_t nquery;                    /* 0 for none */
    bbt_namedpath_t paths[BBT_NAMEDREPO_PATHS];
    size_t npaths; /* body-repo=: 0 for none */
};

static int bbt_named_err(char *err, size_t errlen, const char *origin,
                         const char *what, const char *v)
{
    if (err && errlen)
        snprintf(err, errlen, "%s: %s '%s'", origin ? origin : "route", what,
                 v ? v : "");
    return -1;
}

/* 1 if s[0..n) is 1 to BBT_NAMEDREPO_NAME_MAX letters, digits, _ and -. */
static int bbt_named_name_ok(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || n > BBT_NAMEDREPO_NAME_MAX)
        return 0;
    for (i = 0; i < n; i++) {
        if (!bbt_is_alnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
            return 0;
    }
    return 1;
}

/* 1 if a and b are equal ignoring ASCII case: the backend may read
 * parameter names so, and reading one more as ours refuses no more than
 * that request. */
static int bbt_named_eq(const char *a, const char *b)
{
    for (; *a &&
           bbt_to_lower((unsigned char)*a) == bbt_to_lower((unsigned char)*b);
         a++, b++)
        ;
    return *a == '\0' && *b == '\0';
}

/* One PATH of body-repo= (s[0..n)), names joined by ".". */
static int bbt_named_path(bbt_namedpath_t *p, const char *s, size_t n,
                          const char *v, const char *origin, char *err,
                          size_t errlen)
{
    const char *end = s + n;

    if (!(p->text = strndup(s, n)))
        return bbt_named_err(err, errlen, origin, "out of memory", v);
    for (;;) {
        const char *dot = memchr(s, '.', (size_t)(end - s));
        size_t len = (size_t)((dot ? dot : end) - s);

        if (!bbt_named_name_ok(s, len) || p->n == BBT_NAMEDREPO_DEPTH)
            return bbt_named_err(err, errlen, origin,
                                 "body-repo= PATHs are 1 to 6 names of 1 to "
                                 "64 letters, digits, _ and -, joined by '.':",
                                 v);
        if (!(p->names[p->n] = strndup(s, len)))
            return bbt_named_err(err, errlen, origin, "out of memory", v);
        p->n++;
        if (!dot)
            return 0;
        s = dot + 1;
    }
}

int bbt_namedrepo_option(bbt_namedrepo_t **nrp, bbt_namedrepo_opt_t opt,
                         const char *v, const char *origin, char *err,
                         size_t errlen)
{
    bbt_namedrepo_t *nr = *nrp;
    const char *s = v;
    size_t k;

    if (!nr && !(nr = *nrp = calloc(1, sizeof(*nr))))
        return bbt_named_err(err, errlen, origin, "out of memory", v);
    /* A list, as body-repo='s: default-reviewers' reviewers name two
     * repositories (sourceRepoId, targetRepoId), each to be held. */
    while (opt == BBT_NAMEDREPO_OPT_QUERY) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);

        if (!bbt_named_name_ok(s, len))
            return bbt_named_err(err, errlen, origin,
                                 "query-repo= needs NAMEs of 1 to 64 "
                                 "letters, digits, _ and -, joined by ',':",
                                 v);
        if (nr->nquery == BBT_NAMEDREPO_PATHS)
            return bbt_named_err(err, errlen, origin,
                                 "query-repo= takes at most 4 NAMEs:", v);
        if (!(nr->query[nr->nquery] = strndup(s, len)))
            return bbt_named_err(err, errlen, origin, "out of memory", v);
        /* Names match in any case: "a,A" holds one parameter twice, and
         * was most likely meant to name another one. */
        for (k = 0; k < nr->nquery; k++) {
            if (bbt_named_eq(nr->query[k], nr->query[nr->nquery])) {
                free(nr->query[nr->nquery]);
                nr->query[nr->nquery] = NULL;
                return bbt_named_err(err, errlen, origin,
                                     "query-repo= names a NAME twice (NAMEs "
                                     "match in any case):",
                                     v);
            }
        }
        nr->nquery++;
        if (!comma)
            return 0;
        s = comma + 1;
    }
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);

        if (nr->npaths == BBT_NAMEDREPO_PATHS)
            return bbt_named_err(err, errlen, origin,
                                 "body-repo= takes at most 4 PATHs:", v);
        if (bbt_named_path(&nr->paths[nr->npaths++], s, len, v, origin, err,
                           errlen) != 0)
            return -1;
        if (!comma)
            return 0;
        s = comma + 1;
    }
}

const char *bbt_namedrepo_check(const bbt_namedrepo_t *nr, int deny,
                                int destination)
{
    if (!nr)
        return NULL;
    if (deny)
        return "query-repo= and body-repo= cannot be on a deny route:";
    if (destination)
        return "query-repo= and body-repo= cannot decide a destination "
               "route:";
    return NULL;
}

int bbt_namedrepo_wants_body(const bbt_namedrepo_t *nr)
{
    return nr && nr->npaths > 0;
}

int bbt_namedrepo_wants_query(const bbt_namedrepo_t *nr)
{
    return nr && nr->nquery > 0;
}

static int bbt_named_outside(bbt_named_t *out, const char *where,
                             const char *why)
{
    memset(&out->repo, 0, sizeof(out->repo));
    out->where = where;
    out->why = why;
    return 0;
}

/* The repository key[0..klen) / slug[0..slen) inside s: 1, or 0 (*out). */
static int bbt_named_repo(const bbt_tokscope_t *s, const char *key, size_t klen,
                          const char *slug, size_t slen, const char *where,
                          bbt_named_t *out)
{
    bbt_target_t t;

    memset(&t, 0, sizeof(t));
    if (bbt_input_key(key, klen, t.key) != 0 || !bbt_input_slug(slug, slen))
        return bbt_named_outside(out, where,
                                 "not a valid project key and slug");
    memcpy(t.slug, slug, slen);
    t.slug[slen] = '\0';
    if (bbt_kind_covers(s, &t))
        return 1;
    bbt_named_outside(out, where, "outside the token's scope");
    out->repo = t;
    out->repo.why = NULL;
    return 0;
}

/* A query parameter's decoded value v[0..n): KEY/slug inside s. */
static int bbt_named_value(const bbt_tokscope_t *s, const char *v, size_t n,
                           const char *where, bbt_named_t *out)
{
    const char *slash = memchr(v, '/', n);
    size_t i;

    for (i = 0; i < n && v[i] >= '0' && v[i] <= '9'; i++)
        ;
    if (n > 0 && i == n)
        return bbt_named_outside(out, where,
                                 "a repository id, which the module cannot "
                                 "resolve to a project and slug");
    if (!slash)
        return bbt_named_outside(out, where, "not KEY/slug");
    return bbt_named_repo(s, v, (size_t)(slash - v), slash + 1,
                          n - (size_t)(slash - v) - 1, where, out);
}

/* Every parameter of q called name, however often. */
static int bbt_named_query(const char *name, const bbt_tokscope_t *s,
                           const bbt_named_req_t *q, bbt_named_t *out)
{
    size_t i;

    for (i = 0; i < q->nparams; i++) {
        const bbt_qparam_t *p = &q->params[i];

        if (!p->name)
            return bbt_named_outside(out, name,
                                     "a parameter name with a broken "
                                     "%-escape or a %00");
        if (!bbt_named_eq(p->name, name))
            continue;
        if (!p->value)
            return bbt_named_outside(out, name, "a broken %-escape or a %00");
        if (!bbt_named_value(s, p->value, strlen(p->value), name, out))
            return 0;
    }
    return 1;
}

/* 1 if the object at names[0..n) holds an "id" member (or its twin),
 * names having room for one more. */
static int bbt_named_has_id(const bbt_body_t *body, const char **names,
                            size_t n)
{
    names[n] = "id";
    return bbt_body_has(body, names, n + 1);
}

/* The repository object at PATH: {"slug": ..., "project": {"key": ...}}.
 * Bitbucket may take a repository or a project by an "id" member instead,
 * which the module cannot map to a key and slug: an object holding one is
 * refused, even beside the slug and key it would be decided by. */
static int bbt_named_body(const bbt_namedpath_t *p, const bbt_tokscope_t *s,
                          const bbt_body_t *body, bbt_named_t *out)
{
    const char *names[BBT_NAMEDREPO_DEPTH + 2];
    const char *slug, *key;
    size_t slen, klen;
    bbt_member_t ms, mk;

    memcpy(names, p->names, p->n * sizeof(names[0]));
    names[p->n] = "slug";
    ms = bbt_body_path(body, names, p->n + 1, &slug, &slen);
    names[p->n] = "project";
    names[p->n + 1] = "key";
    mk = bbt_body_path(body, names, p->n + 2, &key, &klen);
    /* ABSENT is the first name's absence, the same for both. */
    if (ms == BBT_MEMBER_ABSENT && mk == BBT_MEMBER_ABSENT)
        return 1;
    if (ms == BBT_MEMBER_AMBIGUOUS || mk == BBT_MEMBER_AMBIGUOUS)
        return bbt_named_outside(out, p->text,
                                 "named ambiguously (a member's twin in "
                                 "another case)");
    if (ms != BBT_MEMBER_STRING || mk != BBT_MEMBER_STRING)
        return bbt_named_outside(out, p->text,
                                 "not an object with a string slug and a "
                                 "project with a string key");
    /* The project's first: the repository's overwrites "project". */
    if (bbt_named_has_id(body, names, p->n + 1) ||
        bbt_named_has_id(body, names, p->n))
        return bbt_named_outside(out, p->text,
                                 "a repository's id, which the module "
                                 "cannot resolve");
    return bbt_named_repo(s, key, klen, slug, slen, p->text, out);
}

int bbt_namedrepo_inside(const bbt_namedrepo_t *nr, const bbt_tokscope_t *s,
                         const bbt_named_req_t *q, bbt_named_t *out)
{
    size_t i;

    if (s->kind == BBT_KIND_PERSONAL)
        return 1;
    if (q->project_id)
        return bbt_named_outside(out, q->project_id,
                                 "a project's id, which the module cannot "
                                 "resolve");
    if (!nr)
        return 1;
    for (i = 0; i < nr->nquery; i++) {
        if (!bbt_named_query(nr->query[i], s, q, out))
            return 0;
    }
    if (nr->npaths && !q->body)
        return bbt_named_outside(out, nr->paths[0].text,
                                 "in a request body that was not read");
    for (i = 0; i < nr->npaths; i++) {
        if (!bbt_named_body(&nr->paths[i], s, q->body, out))
            return 0;
    }
    return 1;
}

void bbt_namedrepo_free(bbt_namedrepo_t *nr)
{
    size_t i, k;

    if (!nr)
        return;
    for (i = 0; i < nr->nquery; i++)
        free(nr->query[i]);
    for (i = 0; i < nr->npaths; i++) {
        free(nr->paths[i].text);
        for (k = 0; k < nr->paths[i].n; k++)
            free(nr->paths[i].names[k]);
    }
    free(nr);
}
