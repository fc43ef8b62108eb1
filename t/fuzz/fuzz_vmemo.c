/*
 * libFuzzer target: the thread's memory of verified tokens (bbt_vmemo.h)
 * against a model of what it may say.  Each input byte is an operation on
 * one of six keys under one of two makers: note against one of four (salt,
 * hash) pairs, forget, ask whether known, ask whether proved.  The memory
 * may forget whatever it likes (a slot reused), but it may never claim
 * more than the model holds: known only for a key noted under that maker
 * and not forgotten since, proved only against the very salt and hash of
 * the key's last note.  And a note is kept at once: asked right after, it
 * is known and proved.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_vmemo.h"

#define KEYS 6
#define PAIRS 4

/* What the memory may know: per maker and key, the pair last noted, or
 * -1. */
static int model[2][KEYS];

static void pair_of(int p, unsigned char salt[BBT_SALT_LEN],
                    unsigned char hash[BBT_HASH_LEN])
{
    /* Pairs 0 and 1 share a salt, 0 and 2 a hash: the memory must tell
     * them apart by both. */
    memset(salt, 0x30 + (p & 1), BBT_SALT_LEN);
    memset(hash, 0x60 + (p >> 1), BBT_HASH_LEN);
}

static void key_of(int k, unsigned char key[BBT_VMEMO_KEY_LEN])
{
    /* Keys 0 and 1 differ in their last byte only. */
    memset(key, 0x11 * (k >> 1), BBT_VMEMO_KEY_LEN);
    key[BBT_VMEMO_KEY_LEN - 1] ^= (unsigned char)(k & 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned char s1[BBT_VMEMO_SECRET_LEN] = {1, 2, 3};
    static const unsigned char s2[BBT_VMEMO_SECRET_LEN] = {3, 2, 1};
    static bbt_vmemo_t *makers[2];
    unsigned char key[BBT_VMEMO_KEY_LEN], salt[BBT_SALT_LEN];
    unsigned char hash[BBT_HASH_LEN];
    size_t i;
    int m, k, p;

    if (!makers[0]) {
        makers[0] = bbt_vmemo_new(s1, sizeof(s1));
        makers[1] = bbt_vmemo_new(s2, sizeof(s2));
        if (!makers[0] || !makers[1]) {
            abort();
        }
    }
    /* What an earlier input left is forgotten first, in the memory as in
     * the model. */
    for (m = 0; m < 2; m++) {
        for (k = 0; k < KEYS; k++) {
            key_of(k, key);
            bbt_vmemo_forget(makers[m], key);
            model[m][k] = -1;
        }
    }
    for (i = 0; i < size; i++) {
        int op = data[i] & 3;

        m = (data[i] >> 2) & 1;
        k = ((data[i] >> 3) & 7) % KEYS;
        p = (data[i] >> 6) & 3;
        key_of(k, key);
        pair_of(p, salt, hash);
        switch (op) {
        case 0:
            bbt_vmemo_note(makers[m], key, salt, hash);
            model[m][k] = p;
            if (!bbt_vmemo_known(makers[m], key) ||
                !bbt_vmemo_proved(makers[m], key, salt, hash)) {
                abort();
            }
            break;
        case 1:
            bbt_vmemo_forget(makers[m], key);
            model[m][k] = -1;
            if (bbt_vmemo_known(makers[m], key)) {
                abort();
            }
            break;
        case 2:
            if (bbt_vmemo_known(makers[m], key) && model[m][k] < 0) {
                abort();
            }
            break;
        default:
            if (bbt_vmemo_proved(makers[m], key, salt, hash) &&
                model[m][k] != p) {
                abort();
            }
            break;
        }
    }
    return 0;
}
