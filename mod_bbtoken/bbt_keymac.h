/*
 * A keyed SipHash-2-4 (OpenSSL's EVP_MAC) that many threads use at once:
 * the keyed state is made once and only ever read; each thread MACs on a
 * copy of its own, made on its first use and reset (the key kept) for
 * every next one.  Copying the shared state for each MAC would cost
 * several times the MAC itself, most of it on reference counts that every
 * thread touches.  The cache's keys and the throttle's sets are made so.
 * This file knows nothing of httpd.
 */
#ifndef BBT_KEYMAC_H
#define BBT_KEYMAC_H

#include <stddef.h>

#include <openssl/types.h>

/* The secret's length: SipHash's key. */
#define BBT_KEYMAC_SECRET_LEN 16

typedef struct bbt_keymac bbt_keymac_t;

/* A thread's copy of a keymac's state; zeroed: none yet. */
typedef struct {
    unsigned long serial; /* of the keymac it copies; 0: none */
    EVP_MAC_CTX *ctx;
} bbt_keymac_copy_t;

/* A keyed MAC of outlen bytes (8 or 16) under secret
 * (BBT_KEYMAC_SECRET_LEN bytes, copied into OpenSSL's state only); NULL
 * when OpenSSL has no SipHash, its reset loses the key, or memory is
 * short. */
bbt_keymac_t *bbt_keymac_new(const unsigned char *secret, size_t len,
                             size_t outlen);
void bbt_keymac_free(bbt_keymac_t *k);

/* What tells k from every keymac made before it in this process. */
unsigned long bbt_keymac_serial(const bbt_keymac_t *k);

/* c made a copy of k's state if it is not one already: 0 when it was one,
 * 1 when it was made now (what the thread kept from another keymac means
 * nothing to this one), -1 when it cannot be (c is then none). */
int bbt_keymac_copy(const bbt_keymac_t *k, bbt_keymac_copy_t *c);
void bbt_keymac_copy_free(bbt_keymac_copy_t *c);

/* The MAC of a then b (blen 0: a alone) on c, a copy made by
 * bbt_keymac_copy, into out (the keymac's outlen bytes): 0, or -1. */
int bbt_keymac_mac(bbt_keymac_copy_t *c, const unsigned char *a, size_t alen,
                   const unsigned char *b, size_t blen, unsigned char *out,
                   size_t outlen);

#endif
