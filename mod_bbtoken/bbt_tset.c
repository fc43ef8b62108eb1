/*
 * The throttle's keyed set numbers (see bbt_tset.h): every thread hashes
 * on the maker's own keys (bbt_keymac.h), with no memory of its own to
 * make first, whose want would leave an address uncounted.
 */
#include <stdint.h>

#include "bbt_tset.h"

/* SipHash's shorter output: a set number needs no more. */
#define BBT_TSET_OUT 8

bbt_tsetter_t *bbt_tsetter_new(const unsigned char *secret, size_t len)
{
    return bbt_keymac_new(secret, len, BBT_TSET_OUT);
}

void bbt_tsetter_free(bbt_tsetter_t *t)
{
    bbt_keymac_free(t);
}

int bbt_tset_of(const bbt_tsetter_t *t, const unsigned char *key, size_t len,
                size_t sets, size_t *set)
{
    unsigned char out[BBT_TSET_OUT];
    uint64_t h = 0;
    int i;

    if (sets == 0 ||
        bbt_keymac_mac_shared(t, key, len, out, sizeof(out)) != 0) {
        return -1;
    }
    for (i = 0; i < BBT_TSET_OUT; i++) {
        h = h << 8 | out[i];
    }
    *set = (size_t)(h % sets);
    return 0;
}
