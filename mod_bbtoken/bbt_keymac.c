/*
 * A keyed SipHash that threads share (see bbt_keymac.h).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "bbt_keymac.h"

/* SipHash's longer output. */
#define BBT_KEYMAC_OUT_MAX 16

struct bbt_keymac {
    EVP_MAC *mac;
    EVP_MAC_CTX *keyed; /* initialised with the key; only ever copied */
    size_t outlen;
    unsigned long serial;
};

static unsigned long bbt_keymac_serials;

int bbt_keymac_mac(bbt_keymac_copy_t *c, const unsigned char *a, size_t alen,
                   const unsigned char *b, size_t blen, unsigned char *out,
                   size_t outlen)
{
    size_t n = 0;

    return c->ctx && EVP_MAC_init(c->ctx, NULL, 0, NULL) &&
                   EVP_MAC_update(c->ctx, a, alen) &&
                   (!blen || EVP_MAC_update(c->ctx, b, blen)) &&
                   EVP_MAC_final(c->ctx, out, &n, outlen) && n == outlen
               ? 0
               : -1;
}

/* The same input MACed on a fresh copy of k's state and again on that copy
 * reset after other input: 0 when the two agree.  Else a reset (no key
 * given: OpenSSL's SipHash keeps the one it has) would lose the key, or
 * keep what the thread hashed before. */
static int bbt_keymac_check(const bbt_keymac_t *k)
{
    static const unsigned char in[] = "bbtoken", other[] = "other input";
    unsigned char a[BBT_KEYMAC_OUT_MAX], b[BBT_KEYMAC_OUT_MAX];
    bbt_keymac_copy_t c = {0, EVP_MAC_CTX_dup(k->keyed)};
    size_t n = 0;
    int ok;

    ok = c.ctx && EVP_MAC_update(c.ctx, in, sizeof(in)) &&
         EVP_MAC_final(c.ctx, a, &n, k->outlen) && n == k->outlen &&
         bbt_keymac_mac(&c, other, sizeof(other), NULL, 0, b, k->outlen) == 0 &&
         bbt_keymac_mac(&c, in, sizeof(in), NULL, 0, b, k->outlen) == 0 &&
         memcmp(a, b, k->outlen) == 0;
    EVP_MAC_CTX_free(c.ctx);
    return ok ? 0 : -1;
}

bbt_keymac_t *bbt_keymac_new(const unsigned char *secret, size_t len,
                             size_t outlen)
{
    bbt_keymac_t *k;
    OSSL_PARAM params[2];

    if (len != BBT_KEYMAC_SECRET_LEN || (outlen != 8 && outlen != 16) ||
        !(k = calloc(1, sizeof(*k)))) {
        return NULL;
    }
    k->outlen = outlen;
    params[0] = OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &k->outlen);
    params[1] = OSSL_PARAM_construct_end();
    k->mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
    k->keyed = k->mac ? EVP_MAC_CTX_new(k->mac) : NULL;
    if (!k->keyed || !EVP_MAC_init(k->keyed, secret, len, params) ||
        bbt_keymac_check(k) != 0) {
        bbt_keymac_free(k);
        return NULL;
    }
    k->serial = __atomic_add_fetch(&bbt_keymac_serials, 1, __ATOMIC_RELAXED);
    return k;
}

void bbt_keymac_free(bbt_keymac_t *k)
{
    if (k) {
        EVP_MAC_CTX_free(k->keyed);
        EVP_MAC_free(k->mac);
        free(k);
    }
}

unsigned long bbt_keymac_serial(const bbt_keymac_t *k)
{
    return k->serial;
}

int bbt_keymac_copy(const bbt_keymac_t *k, bbt_keymac_copy_t *c)
{
    if (c->serial == k->serial && c->ctx) {
        return 0;
    }
    EVP_MAC_CTX_free(c->ctx);
    c->ctx = EVP_MAC_CTX_dup(k->keyed);
    c->serial = c->ctx ? k->serial : 0;
    return c->ctx ? 1 : -1;
}

void bbt_keymac_copy_free(bbt_keymac_copy_t *c)
{
    EVP_MAC_CTX_free(c->ctx);
    c->ctx = NULL;
    c->serial = 0;
}
