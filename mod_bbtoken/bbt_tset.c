/*
 * The throttle's keyed set numbers (see bbt_tset.h).
 *
 * Each thread hashes on a copy of the keyed state of its own, made on its
 * first use and reset (the key kept) for every next one: a copy per call
 * would touch the shared state's reference counts, which every thread
 * shares, at each password's check.  A maker's serial tells a thread that
 * its copy is of an earlier maker's (a restart's new key).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "bbt_tls.h"
#include "bbt_tset.h"

/* SipHash's shorter output: a set number needs no more. */
#define BBT_TSET_OUT 8

struct bbt_tsetter {
    EVP_MAC *mac;
    EVP_MAC_CTX *keyed; /* initialised with the key; only ever copied */
    unsigned long serial;
};

typedef struct {
    unsigned long serial; /* of the maker whose key ctx holds; 0: none */
    EVP_MAC_CTX *ctx;
} bbt_tset_tls_t;

static unsigned long bbt_tset_serial;

static void bbt_tset_tls_free(void *v)
{
    bbt_tset_tls_t *t = v;

    EVP_MAC_CTX_free(t->ctx);
    free(t);
}

static bbt_tls_t bbt_tset_tls_kind =
    BBT_TLS_INIT(sizeof(bbt_tset_tls_t), bbt_tset_tls_free);

/* The MAC of in on c, reset first (OpenSSL's SipHash keeps its key). */
static int bbt_tset_mac(EVP_MAC_CTX *c, const unsigned char *in, size_t len,
                        unsigned char out[BBT_TSET_OUT])
{
    size_t n = 0;

    return EVP_MAC_init(c, NULL, 0, NULL) && EVP_MAC_update(c, in, len) &&
                   EVP_MAC_final(c, out, &n, BBT_TSET_OUT) && n == BBT_TSET_OUT
               ? 0
               : -1;
}

/* A fresh copy and one reset after other input agree: else a reset
 * would lose the key, or keep what was hashed before. */
static int bbt_tsetter_check(const bbt_tsetter_t *t)
{
    static const unsigned char in[] = "bbtoken", other[] = "other input";
    unsigned char a[BBT_TSET_OUT], b[BBT_TSET_OUT];
    EVP_MAC_CTX *c = EVP_MAC_CTX_dup(t->keyed);
    size_t n = 0;
    int ok;

    ok = c && EVP_MAC_update(c, in, sizeof(in)) &&
         EVP_MAC_final(c, a, &n, sizeof(a)) && n == sizeof(a) &&
         bbt_tset_mac(c, other, sizeof(other), b) == 0 &&
         bbt_tset_mac(c, in, sizeof(in), b) == 0 &&
         memcmp(a, b, sizeof(a)) == 0;
    EVP_MAC_CTX_free(c);
    return ok ? 0 : -1;
}

bbt_tsetter_t *bbt_tsetter_new(const unsigned char *secret, size_t len)
{
    bbt_tsetter_t *t = calloc(1, sizeof(*t));
    size_t outlen = BBT_TSET_OUT;
    OSSL_PARAM params[2];

    if (!t || len != BBT_TSET_SECRET_LEN) {
        free(t);
        return NULL;
    }
    params[0] = OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &outlen);
    params[1] = OSSL_PARAM_construct_end();
    t->mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
    t->keyed = t->mac ? EVP_MAC_CTX_new(t->mac) : NULL;
    if (!t->keyed || !EVP_MAC_init(t->keyed, secret, len, params) ||
        bbt_tsetter_check(t) != 0 || !bbt_tls_ready(&bbt_tset_tls_kind)) {
        bbt_tsetter_free(t);
        return NULL;
    }
    t->serial = __atomic_add_fetch(&bbt_tset_serial, 1, __ATOMIC_RELAXED);
    return t;
}

void bbt_tsetter_free(bbt_tsetter_t *t)
{
    if (t) {
        EVP_MAC_CTX_free(t->keyed);
        EVP_MAC_free(t->mac);
        free(t);
    }
}

int bbt_tset_of(const bbt_tsetter_t *t, const unsigned char *key, size_t len,
                size_t sets, size_t *set)
{
    bbt_tset_tls_t *c = bbt_tls_get(&bbt_tset_tls_kind);
    unsigned char out[BBT_TSET_OUT];
    uint64_t h = 0;
    int i;

    if (!c || sets == 0) {
        return -1;
    }
    if (c->serial != t->serial || !c->ctx) {
        EVP_MAC_CTX_free(c->ctx);
        c->ctx = EVP_MAC_CTX_dup(t->keyed);
        c->serial = c->ctx ? t->serial : 0;
        if (!c->ctx) {
            return -1;
        }
    }
    if (bbt_tset_mac(c->ctx, key, len, out) != 0) {
        return -1;
    }
    for (i = 0; i < BBT_TSET_OUT; i++) {
        h = h << 8 | out[i];
    }
    *set = (size_t)(h % sets);
    return 0;
}
