/*
 * A keyed SipHash-2-4 (APR-util's apr_siphash24) that many threads use at
 * once.  SipHash gives 64 bits; the 128-bit output is two of them under
 * two independent keys, each a pseudo-random function of the input, so
 * together one of 128 bits.  The keys are made once and only ever read;
 * the cache's keys and the uncached path's memory of verified tokens are
 * made on a thread's copy of them, kept beside what the thread remembers
 * under them, so that it stays the thread's own when the maker is freed
 * and another made (a restart).  The throttle's sets, which remember
 * nothing, are made on the maker's keys themselves: a copy would be a
 * thread's memory to make, and a thread without it would count no
 * address.  APR's SipHash is a plain function over the input: OpenSSL's,
 * through EVP_MAC, cost a 128-bit key 1,060 instructions against these
 * two calls' 650, most of them in EVP_MAC's reset, final and parameter
 * query, not in the hashing.  This file knows nothing of httpd.
 */
#ifndef BBT_KEYMAC_H
#define BBT_KEYMAC_H

#include <stddef.h>

/* One SipHash key's length, and the secret's: two of them. */
#define BBT_KEYMAC_KEY_LEN 16
#define BBT_KEYMAC_SECRET_LEN (2 * BBT_KEYMAC_KEY_LEN)

typedef struct bbt_keymac bbt_keymac_t;

/* A thread's copy of a keymac's keys; zeroed: none yet. */
typedef struct {
    unsigned long serial; /* of the keymac it copies; 0: none */
    size_t outlen;
    unsigned char key[2][BBT_KEYMAC_KEY_LEN];
} bbt_keymac_copy_t;

/* A keyed MAC of outlen bytes (8 or 16) under secret
 * (BBT_KEYMAC_SECRET_LEN bytes: the first half keys the output's first 8
 * bytes, the second half its last 8); NULL when APR's SipHash fails its
 * known answer or memory is short. */
bbt_keymac_t *bbt_keymac_new(const unsigned char *secret, size_t len,
                             size_t outlen);
/* Wipes the keys. */
void bbt_keymac_free(bbt_keymac_t *k);

/* What tells k from every keymac made before it in this process. */
unsigned long bbt_keymac_serial(const bbt_keymac_t *k);

/* c made a copy of k's keys if it is not one already: 0 when it was one,
 * 1 when it was made now (what the thread kept from another keymac means
 * nothing to this one). */
int bbt_keymac_copy(const bbt_keymac_t *k, bbt_keymac_copy_t *c);
/* Wipes the copy's keys; c is then none. */
void bbt_keymac_copy_free(bbt_keymac_copy_t *c);

/* The MAC of in (len bytes) on c, a copy made by bbt_keymac_copy, into
 * out (outlen bytes, the keymac's): 0, or -1 when c is none or outlen is
 * not the keymac's. */
int bbt_keymac_mac(const bbt_keymac_copy_t *c, const unsigned char *in,
                   size_t len, unsigned char *out, size_t outlen);
/* The same MAC on k's own keys, which any thread may read while k lives
 * (they are only ever read once made): 0, or -1 when outlen is not k's.
 * No memory is asked for, so none can be short. */
int bbt_keymac_mac_shared(const bbt_keymac_t *k, const unsigned char *in,
                          size_t len, unsigned char *out, size_t outlen);

#endif
