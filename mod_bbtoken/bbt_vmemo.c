/*
 * The thread's memory of the tokens it verified (see bbt_vmemo.h): each
 * thread keys on a copy of the maker's keys of its own (bbt_keymac.h),
 * and keeps its slots beside it.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "bbt_tls.h"
#include "bbt_vmemo.h"

typedef struct {
    unsigned char key[BBT_VMEMO_KEY_LEN];
    unsigned char salt[BBT_SALT_LEN];
    unsigned char hash[BBT_HASH_LEN];
    int used;
} bbt_vmemo_slot_t;

typedef struct {
    bbt_keymac_copy_t copy;
    bbt_vmemo_slot_t slot[BBT_VMEMO_SLOTS];
    unsigned int next; /* the slot to reuse next */
} bbt_vmemo_tls_t;

static void bbt_vmemo_tls_free(void *v)
{
    bbt_vmemo_tls_t *t = v;

    bbt_keymac_copy_free(&t->copy);
    OPENSSL_cleanse(t->slot, sizeof(t->slot));
    free(t);
}

static bbt_tls_t bbt_vmemo_tls_kind =
    BBT_TLS_INIT(sizeof(bbt_vmemo_tls_t), bbt_vmemo_tls_free);

bbt_vmemo_t *bbt_vmemo_new(const unsigned char *secret, size_t len)
{
    if (!bbt_tls_ready(&bbt_vmemo_tls_kind)) {
        return NULL;
    }
    return bbt_keymac_new(secret, len, BBT_VMEMO_KEY_LEN);
}

void bbt_vmemo_free(bbt_vmemo_t *m)
{
    bbt_keymac_free(m);
}

/* This thread's block, its slots m's: those noted under another maker (a
 * restart's) are forgotten when its copy is made anew.  NULL when there is
 * none to be had. */
static bbt_vmemo_tls_t *bbt_vmemo_tls(const bbt_vmemo_t *m)
{
    bbt_vmemo_tls_t *t;
    int made;

    if (!m || !(t = bbt_tls_get(&bbt_vmemo_tls_kind))) {
        return NULL;
    }
    made = bbt_keymac_copy(m, &t->copy);
    if (made) {
        memset(t->slot, 0, sizeof(t->slot));
        t->next = 0;
    }
    return t;
}

int bbt_vmemo_key(const bbt_vmemo_t *m, const bbt_token_t *tok,
                  unsigned char key[BBT_VMEMO_KEY_LEN])
{
    bbt_vmemo_tls_t *t = bbt_vmemo_tls(m);

    if (!t || !tok) {
        return -1;
    }
    return bbt_keymac_mac(&t->copy, tok->raw, sizeof(tok->raw), key,
                          BBT_VMEMO_KEY_LEN);
}

/* key's slot in t, or NULL.  A plain compare, as the cache's: the keys
 * are MACs under a secret the client never learns, so how far one
 * matches tells it nothing. */
static bbt_vmemo_slot_t *bbt_vmemo_find(bbt_vmemo_tls_t *t,
                                        const unsigned char *key)
{
    int i;

    for (i = 0; t && i < BBT_VMEMO_SLOTS; i++) {
        if (t->slot[i].used &&
            memcmp(t->slot[i].key, key, BBT_VMEMO_KEY_LEN) == 0) {
            return &t->slot[i];
        }
    }
    return NULL;
}

int bbt_vmemo_known(const bbt_vmemo_t *m,
                    const unsigned char key[BBT_VMEMO_KEY_LEN])
{
    return key && bbt_vmemo_find(bbt_vmemo_tls(m), key) != NULL;
}

int bbt_vmemo_proved(const bbt_vmemo_t *m,
                     const unsigned char key[BBT_VMEMO_KEY_LEN],
                     const unsigned char salt[BBT_SALT_LEN],
                     const unsigned char hash[BBT_HASH_LEN])
{
    bbt_vmemo_slot_t *s;

    if (!key || !salt || !hash ||
        !(s = bbt_vmemo_find(bbt_vmemo_tls(m), key))) {
        return 0;
    }
    /* Both, in full: the hash is what a verification compares. */
    return (CRYPTO_memcmp(s->salt, salt, BBT_SALT_LEN) |
            CRYPTO_memcmp(s->hash, hash, BBT_HASH_LEN)) == 0;
}

void bbt_vmemo_note(const bbt_vmemo_t *m,
                    const unsigned char key[BBT_VMEMO_KEY_LEN],
                    const unsigned char salt[BBT_SALT_LEN],
                    const unsigned char hash[BBT_HASH_LEN])
{
    bbt_vmemo_tls_t *t = bbt_vmemo_tls(m);
    bbt_vmemo_slot_t *s;

    if (!t || !key || !salt || !hash) {
        return;
    }
    if (!(s = bbt_vmemo_find(t, key))) {
        s = &t->slot[t->next];
        t->next = (t->next + 1) % BBT_VMEMO_SLOTS;
    }
    memcpy(s->key, key, BBT_VMEMO_KEY_LEN);
    memcpy(s->salt, salt, BBT_SALT_LEN);
    memcpy(s->hash, hash, BBT_HASH_LEN);
    s->used = 1;
}

void bbt_vmemo_forget(const bbt_vmemo_t *m,
                      const unsigned char key[BBT_VMEMO_KEY_LEN])
{
    bbt_vmemo_slot_t *s;

    if (key && (s = bbt_vmemo_find(bbt_vmemo_tls(m), key)) != NULL) {
        OPENSSL_cleanse(s, sizeof(*s));
    }
}
