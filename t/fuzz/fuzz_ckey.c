/*
 * libFuzzer target: the keys of owners' level entries (bbt_ckey_level),
 * which each thread remembers for the last target it keyed.  The input is
 * a run of targets, each three fields split at NUL bytes: a byte (bits
 * 0-2 the owner, bit 3 no slug at all), the project key and the slug.
 * They are keyed in pairs on one maker, the second right after the first
 * (so that it finds the first's in memory), then each again on a maker of
 * the same secret made for it (which remembers nothing): the keys must
 * agree, and two targets that differ in anything must have different keys.
 * A key from memory for another target is another owner's or another
 * repository's level.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_centry.h"
#include "fuzz_fields.h"

typedef struct {
    int64_t owner;
    char *key, *slug; /* slug NULL: the project itself */
} target_t;

static const unsigned char secret[BBT_CKEY_SECRET_LEN] = {9, 8, 7};

static void next_target(const char **p, const char *end, target_t *t)
{
    unsigned char b = (unsigned char)*(*p)++;

    t->owner = (int64_t)(b & 7) - 1; /* -1 to 6: 0 and below too */
    t->key = fuzz_field(p, end);
    t->slug = fuzz_field(p, end);
    if (b & 8) {
        free(t->slug);
        t->slug = NULL;
    }
}

static int same_target(const target_t *a, const target_t *b)
{
    return a->owner == b->owner && strcmp(a->key, b->key) == 0 &&
           (a->slug == NULL) == (b->slug == NULL) &&
           (!a->slug || strcmp(a->slug, b->slug) == 0);
}

/* t's key on a maker of its own: nothing remembered. */
static int fresh(const target_t *t, unsigned char out[BBT_CKEY_LEN])
{
    bbt_ckeyer_t *k = bbt_ckeyer_new(secret, sizeof(secret));
    int rv;

    if (!k) {
        abort();
    }
    rv = bbt_ckey_level(bbt_cthread(k), t->owner, t->key, t->slug, out);
    bbt_ckeyer_free(k);
    return rv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bbt_ckeyer_t *maker;
    const char *p = (const char *)data, *end = p + size;
    unsigned char kx[BBT_CKEY_LEN], ky[BBT_CKEY_LEN], f[BBT_CKEY_LEN];
    target_t x, y;
    int rx, ry;

    if (!maker && !(maker = bbt_ckeyer_new(secret, sizeof(secret)))) {
        abort();
    }
    while (p < end) {
        next_target(&p, end, &x);
        if (p >= end) {
            y = x;
            y.key = strdup(x.key);
            y.slug = x.slug ? strdup(x.slug) : NULL;
            if (!y.key || (x.slug && !y.slug)) {
                abort();
            }
        } else {
            next_target(&p, end, &y);
        }
        rx = bbt_ckey_level(bbt_cthread(maker), x.owner, x.key, x.slug, kx);
        ry = bbt_ckey_level(bbt_cthread(maker), y.owner, y.key, y.slug, ky);
        if (fresh(&y, f) != ry || (ry == 0 && memcmp(f, ky, sizeof(f)) != 0) ||
            fresh(&x, f) != rx || (rx == 0 && memcmp(f, kx, sizeof(f)) != 0) ||
            (rx == 0 && ry == 0 &&
             (memcmp(kx, ky, sizeof(kx)) == 0) != same_target(&x, &y))) {
            abort();
        }
        free(x.key);
        free(x.slug);
        free(y.key);
        free(y.slug);
    }
    return 0;
}
