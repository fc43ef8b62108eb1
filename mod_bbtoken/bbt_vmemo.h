/*
 * What a thread has proved of the tokens it last verified against the
 * database with the cache off (BBTokenCache off): that these very bytes
 * passed the checksum, and that their HMAC under a row's salt is that
 * row's hash.  The database is still asked for every request, and its row
 * still decides everything (revoked, expired, the owner, the permissions,
 * the addresses); what is not done again is the two SHA-256 computations
 * whose answers are already known, a third of a request's work in the
 * module.
 *
 * A token is known by 128 bits of keyed SipHash-2-4 of its bytes, under a
 * secret made at each start of httpd, as the cache's entries are: nothing
 * kept gives the token back, and no client can choose bytes that share a
 * key with another's token.  The salt and the hash are the row's, no
 * secret (the table keeps both).  A row with another salt or hash (the
 * token's secret regenerated, a row written by hand) is verified in full.
 * Its caller notes only a token it let in, and forgets one it refuses:
 * a wrong secret is hashed every time, as before.  This file knows nothing
 * of httpd.
 */
#ifndef BBT_VMEMO_H
#define BBT_VMEMO_H

#include <stddef.h>

#include "bbt_keymac.h"
#include "bbt_token.h"

/* The secret's length: two SipHash keys. */
#define BBT_VMEMO_SECRET_LEN BBT_KEYMAC_SECRET_LEN
#define BBT_VMEMO_KEY_LEN 16
/* The tokens a thread remembers: a CI system's few, in turn. */
#define BBT_VMEMO_SLOTS 4

typedef bbt_keymac_t bbt_vmemo_t;

/* A maker of keys under secret (BBT_VMEMO_SECRET_LEN bytes, copied into
 * the maker and each thread's copy only, wiped with them); NULL when
 * SipHash fails its known answer or memory is short.  What a thread
 * noted under one maker means nothing under another. */
bbt_vmemo_t *bbt_vmemo_new(const unsigned char *secret, size_t len);
void bbt_vmemo_free(bbt_vmemo_t *m);

/* tok's key under m into key: 0, or -1 (m NULL, no memory). */
int bbt_vmemo_key(const bbt_vmemo_t *m, const bbt_token_t *tok,
                  unsigned char key[BBT_VMEMO_KEY_LEN]);

/* 1 when this thread noted a token of key under m (its checksum passed
 * then, and only the same bytes make the same key); else 0. */
int bbt_vmemo_known(const bbt_vmemo_t *m,
                    const unsigned char key[BBT_VMEMO_KEY_LEN]);

/* 1 when this thread noted key's token under m as proved against exactly
 * salt and hash; else 0. */
int bbt_vmemo_proved(const bbt_vmemo_t *m,
                     const unsigned char key[BBT_VMEMO_KEY_LEN],
                     const unsigned char salt[BBT_SALT_LEN],
                     const unsigned char hash[BBT_HASH_LEN]);

/* Forget what this thread noted of key's token under m. */
void bbt_vmemo_forget(const bbt_vmemo_t *m,
                      const unsigned char key[BBT_VMEMO_KEY_LEN]);

/* Note that key's token was proved against salt and hash, in place of
 * what the thread noted of it before, or of the token it noted longest
 * ago. */
void bbt_vmemo_note(const bbt_vmemo_t *m,
                    const unsigned char key[BBT_VMEMO_KEY_LEN],
                    const unsigned char salt[BBT_SALT_LEN],
                    const unsigned char hash[BBT_HASH_LEN]);

#endif
