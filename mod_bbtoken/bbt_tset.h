/*
 * The failed-login throttle's set of an address: a keyed hash of the
 * address's key, SipHash-2-4 (64-bit) under a secret made at each start
 * of httpd.  With a public hash anyone could choose addresses (/64s of
 * one IPv6 /48, say) that all fall in one set and push another client's
 * count out of it; under a key they never learn, where an address falls
 * is not theirs to choose.  This file knows nothing of httpd.
 */
#ifndef BBT_TSET_H
#define BBT_TSET_H

#include <stddef.h>

#include "bbt_keymac.h"

/* The secret's length: two SipHash keys (the sets use the first). */
#define BBT_TSET_SECRET_LEN BBT_KEYMAC_SECRET_LEN

typedef bbt_keymac_t bbt_tsetter_t;

/* A maker of set numbers under secret (BBT_TSET_SECRET_LEN bytes, copied
 * into the maker only, wiped with it); NULL when SipHash fails its known
 * answer or memory is short.  Any thread may use it while it lives. */
bbt_tsetter_t *bbt_tsetter_new(const unsigned char *secret, size_t len);
void bbt_tsetter_free(bbt_tsetter_t *t);

/* The set of key (len bytes) among sets in *set: 0, or -1 when sets is
 * 0.  It asks for no memory. */
int bbt_tset_of(const bbt_tsetter_t *t, const unsigned char *key, size_t len,
                size_t sets, size_t *set);

#endif
