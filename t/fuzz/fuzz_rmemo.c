/*
 * libFuzzer target: the thread's memory of routed requests (bbt_rmemo.h)
 * against matching itself, over the built-in route sets.  The input is a
 * run of requests, each four fields split at NUL bytes: a byte of flags
 * (bits 0-1 the set, bit 2 a Destination, bit 3 no query string at all),
 * the method, the path and the query string.  Each request is routed
 * through the memory twice, the second time answered from it, and each
 * answer must be what bbt_rules_match gives for the same request and
 * set, in every field: a wrong answer from memory is a request let in
 * under another route's permission.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_rmemo.h"
#include "bbt_rules.h"
#include "fuzz_fields.h"

#define SETS 3

static const bbt_rules_t *sets[SETS];

static const bbt_rules_t *load(const char *name, const char *prefix)
{
    char err[BBT_RULES_ERR_MAX];
    bbt_rules_t *rs = bbt_rules_new();

    if (!rs || bbt_rules_load(rs, bbt_rules_builtin(name, NULL), prefix, name,
                              err, sizeof(err)) != 0) {
        abort();
    }
    return rs;
}

static int same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static void same(const bbt_rules_t *rs, const char *method, const char *path,
                 const char *args, int dest)
{
    bbt_match_t a, b;
    bbt_route_result_t ra, rb;

    memset(&a, 0x5a, sizeof(a));
    memset(&b, 0xa5, sizeof(b));
    ra = bbt_rmemo_match(rs, method, path, args, dest, &a);
    rb = bbt_rules_match(rs, method, path, args, dest, &b);
    if (ra != rb || a.rule != b.rule || a.errored != b.errored ||
        strcmp(a.target.key, b.target.key) != 0 ||
        strcmp(a.target.slug, b.target.slug) != 0 ||
        a.target.need.scope != b.target.need.scope ||
        a.target.need.level != b.target.need.level ||
        !same_str(a.target.why, b.target.why) ||
        a.token_need.scope != b.token_need.scope ||
        a.token_need.level != b.token_need.level || a.key_off != b.key_off ||
        a.key_len != b.key_len || a.key_exact != b.key_exact ||
        a.into != b.into || a.into_need.scope != b.into_need.scope ||
        a.into_need.level != b.into_need.level ||
        (a.into == BBT_INTO_KEY && strcmp(a.into_key, b.into_key) != 0) ||
        !same_str(a.into_id, b.into_id)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;

    if (!sets[0]) {
        sets[0] = load("git", "/scm");
        sets[1] = load("dav", "/dav");
        sets[2] = load("bitbucket-rest", "");
    }
    while (p < end) {
        unsigned char flags = (unsigned char)*p++;
        char *method = fuzz_field(&p, end), *path = fuzz_field(&p, end);
        char *args = fuzz_field(&p, end);
        const bbt_rules_t *rs = sets[(flags & 3) % SETS];
        const char *a = flags & 8 ? NULL : args;

        same(rs, method, path, a, (flags >> 2) & 1);
        same(rs, method, path, a, (flags >> 2) & 1);
        free(method);
        free(path);
        free(args);
    }
    return 0;
}
