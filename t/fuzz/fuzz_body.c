/*
 * libFuzzer target: a hostile request body read by the routes (bbt_body),
 * and the shipped git set's LFS batch routes deciding by it.  The input is
 * the body.  Invariants: a member read is a string without NUL of the
 * length given; the batch is REPO_READ exactly when the body's operation
 * is "download", REPO_WRITE exactly when it is "upload", refused as
 * ambiguous exactly when bbt_body_member says so, and no route otherwise.
 * The REST set's fork (body-project=) goes into the project the body's
 * project.key names, canonical, needing REPO_CREATE there, or with no
 * project member the personal project; anything else there is refused,
 * never taken for absent.  And
 * the input as the Content-Encoding and Content-Type it is declared with:
 * read only without a coding (bbt_body_undecidable).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bbt_body.h"
#include "bbt_input.h"
#include "bbt_rules.h"

static bbt_rules_t *git, *rest;

static bbt_rules_t *load_set(const char *name)
{
    char err[BBT_RULES_ERR_MAX];
    const char *prefix = NULL;
    const char *text = bbt_rules_builtin(name, &prefix);
    bbt_rules_t *rs = bbt_rules_new();

    if (!rs || !text ||
        bbt_rules_load(rs, text, prefix, name, err, sizeof(err)) != 0)
        abort();
    return rs;
}

static void load(void)
{
    git = load_set("git");
    rest = load_set("bitbucket-rest");
}

/* The fork's second project, from the body b. */
static void fork_into(const bbt_body_t *b)
{
    static const char *const pk[] = {"project", "key"};
    char key[BBT_KEY_BUF];
    bbt_match_t m;
    bbt_member_t at;
    bbt_route_result_t rv;
    const char *v;
    size_t len;

    at = bbt_body_path(b, pk, 2, &v, &len);
    rv = bbt_rules_match_body(rest, "POST",
                              "/rest/api/latest/projects/PROJ/repos/repo", NULL,
                              0, b, &m);
    if (at == BBT_MEMBER_ABSENT) {
        if (rv != BBT_ROUTE_MATCH || m.into != BBT_INTO_PERSONAL)
            abort();
    } else if (at == BBT_MEMBER_STRING && bbt_input_key(v, len, key) == 0) {
        if (rv != BBT_ROUTE_MATCH || m.into != BBT_INTO_KEY ||
            strcmp(m.into_key, key) != 0 ||
            m.into_need.level != BBT_LEVEL_CREATE)
            abort();
    } else if (rv != BBT_ROUTE_BAD_PROJECT) {
        abort();
    }
}

static int is(const char *v, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(v, want, len) == 0;
}

/* The input as the two headers a body is declared with (split at its
 * first newline): one is read only when its Content-Encoding, trimmed, is
 * "identity" in some case. */
static void undecidable(const uint8_t *data, size_t size)
{
    char *ce = malloc(size + 1), *ct;
    const char *s;
    size_t n;

    if (!ce)
        abort();
    memcpy(ce, data, size);
    ce[size] = '\0';
    ct = strchr(ce, '\n');
    if (ct)
        *ct++ = '\0';
    if (!bbt_body_undecidable(ce, ct)) {
        s = ce + strspn(ce, " \t");
        for (n = strlen(s); n && (s[n - 1] == ' ' || s[n - 1] == '\t'); n--)
            ;
        if (n != 8 || strncasecmp(s, "identity", 8) != 0)
            abort();
    }
    free(ce);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"operation", "a", "ref", "K"};
    bbt_body_t *b = NULL;
    bbt_match_t m;
    bbt_member_t op;
    bbt_route_result_t rv;
    const char *v;
    size_t i, len;

    if (!git)
        load();
    undecidable(data, size);
    if (bbt_body_parse((const char *)data, size, &b, NULL, 0) != NULL) {
        if (b)
            abort();
        return 0;
    }
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (bbt_body_member(b, names[i], &v, &len) == BBT_MEMBER_STRING &&
            (!v || strlen(v) != len))
            abort();
    }
    op = bbt_body_member(b, "operation", &v, &len);
    rv = bbt_rules_match_body(git, "POST",
                              "/scm/PROJ/repo.git/info/lfs/objects/batch", NULL,
                              0, b, &m);
    if (op == BBT_MEMBER_AMBIGUOUS) {
        if (rv != BBT_ROUTE_BAD_BODY)
            abort();
    } else if (op == BBT_MEMBER_STRING && is(v, len, "download")) {
        if (rv != BBT_ROUTE_MATCH || m.target.need.level != BBT_LEVEL_READ ||
            strcmp(m.target.slug, "repo") != 0)
            abort();
    } else if (op == BBT_MEMBER_STRING && is(v, len, "upload")) {
        if (rv != BBT_ROUTE_MATCH || m.target.need.level != BBT_LEVEL_WRITE)
            abort();
    } else if (rv != BBT_ROUTE_NONE) {
        abort();
    }
    fork_into(b);
    bbt_body_free(b);
    return 0;
}
