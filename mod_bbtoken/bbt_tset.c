/*
 * The throttle's keyed set numbers (see bbt_tset.h): each thread hashes on
 * a copy of the maker's keys of its own (bbt_keymac.h).
 */
#include <stdint.h>
#include <stdlib.h>

#include "bbt_tls.h"
#include "bbt_tset.h"

/* SipHash's shorter output: a set number needs no more. */
#define BBT_TSET_OUT 8

static void bbt_tset_tls_free(void *v)
{
    bbt_keymac_copy_free(v);
    free(v);
}

static bbt_tls_t bbt_tset_tls_kind =
    BBT_TLS_INIT(sizeof(bbt_keymac_copy_t), bbt_tset_tls_free);

bbt_tsetter_t *bbt_tsetter_new(const unsigned char *secret, size_t len)
{
    if (!bbt_tls_ready(&bbt_tset_tls_kind)) {
        return NULL;
    }
    return bbt_keymac_new(secret, len, BBT_TSET_OUT);
}

void bbt_tsetter_free(bbt_tsetter_t *t)
{
    bbt_keymac_free(t);
}

int bbt_tset_of(const bbt_tsetter_t *t, const unsigned char *key, size_t len,
                size_t sets, size_t *set)
{
    bbt_keymac_copy_t *c = bbt_tls_get(&bbt_tset_tls_kind);
    unsigned char out[BBT_TSET_OUT];
    uint64_t h = 0;
    int i;

    if (!c || sets == 0) {
        return -1;
    }
    bbt_keymac_copy(t, c);
    if (bbt_keymac_mac(c, key, len, out, sizeof(out)) != 0) {
        return -1;
    }
    for (i = 0; i < BBT_TSET_OUT; i++) {
        h = h << 8 | out[i];
    }
    *set = (size_t)(h % sets);
    return 0;
}
