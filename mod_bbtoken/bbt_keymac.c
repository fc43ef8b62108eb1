/*
 * A keyed SipHash that threads share (see bbt_keymac.h).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "apr_siphash.h"

#include "bbt_keymac.h"

/* The header names the sizes without APR's headers; they are APR's. */
_Static_assert(BBT_KEYMAC_KEY_LEN == APR_SIPHASH_KSIZE,
               "a copy's key is one SipHash key");
_Static_assert(2 * APR_SIPHASH_DSIZE == 16, "two outputs make 16 bytes");

struct bbt_keymac {
    unsigned char key[2][BBT_KEYMAC_KEY_LEN];
    size_t outlen;
    unsigned long serial;
};

static unsigned long bbt_keymac_serials;

/* SipHash-2-4 of the 15 bytes 00..0e under the key 00..0f, the test
 * vector of its paper's appendix: a SipHash that gives anything else is
 * not the one these keys were reasoned about. */
static int bbt_keymac_known_answer(void)
{
    unsigned char key[APR_SIPHASH_KSIZE], in[15];
    size_t i;

    for (i = 0; i < sizeof(key); i++) {
        key[i] = (unsigned char)i;
    }
    for (i = 0; i < sizeof(in); i++) {
        in[i] = (unsigned char)i;
    }
    return apr_siphash24(in, sizeof(in), key) == 0xa129ca6149be45e5ULL ? 0 : -1;
}

bbt_keymac_t *bbt_keymac_new(const unsigned char *secret, size_t len,
                             size_t outlen)
{
    bbt_keymac_t *k;

    if (len != BBT_KEYMAC_SECRET_LEN || (outlen != 8 && outlen != 16) ||
        bbt_keymac_known_answer() != 0 || !(k = calloc(1, sizeof(*k)))) {
        return NULL;
    }
    memcpy(k->key, secret, sizeof(k->key));
    k->outlen = outlen;
    k->serial = __atomic_add_fetch(&bbt_keymac_serials, 1, __ATOMIC_RELAXED);
    return k;
}

void bbt_keymac_free(bbt_keymac_t *k)
{
    if (k) {
        OPENSSL_cleanse(k, sizeof(*k));
        free(k);
    }
}

unsigned long bbt_keymac_serial(const bbt_keymac_t *k)
{
    return k->serial;
}

int bbt_keymac_copy(const bbt_keymac_t *k, bbt_keymac_copy_t *c)
{
    if (c->serial == k->serial) {
        return 0;
    }
    memcpy(c->key, k->key, sizeof(c->key));
    c->outlen = k->outlen;
    c->serial = k->serial;
    return 1;
}

void bbt_keymac_copy_free(bbt_keymac_copy_t *c)
{
    OPENSSL_cleanse(c, sizeof(*c));
}

/* The MAC of in under key, outlen bytes (8 or 16). */
static void bbt_keymac_run(const unsigned char key[2][BBT_KEYMAC_KEY_LEN],
                           const unsigned char *in, size_t len,
                           unsigned char *out, size_t outlen)
{
    apr_siphash24_auth(out, in, len, key[0]);
    if (outlen == 2 * APR_SIPHASH_DSIZE) {
        apr_siphash24_auth(out + APR_SIPHASH_DSIZE, in, len, key[1]);
    }
}

int bbt_keymac_mac(const bbt_keymac_copy_t *c, const unsigned char *in,
                   size_t len, unsigned char *out, size_t outlen)
{
    if (!c->serial || outlen != c->outlen) {
        return -1;
    }
    bbt_keymac_run(c->key, in, len, out, outlen);
    return 0;
}

int bbt_keymac_mac_shared(const bbt_keymac_t *k, const unsigned char *in,
                          size_t len, unsigned char *out, size_t outlen)
{
    if (outlen != k->outlen) {
        return -1;
    }
    bbt_keymac_run(k->key, in, len, out, outlen);
    return 0;
}
