/*
 * libFuzzer target: each thread's copies of cache entries (bbt_cnear_get,
 * bbt_cnear_put, bbt_cnear_entry in bbt_centry.h) against a model of what
 * they may say.  Each input byte is an operation on one of twelve keys
 * (more than a thread's slots) under one of two key makers: keep one of
 * four entries' bytes (a token's row, the same row revoked, another
 * owner's, an unknown id's), keep bytes that are no entry, keep nothing
 * (a length of 0: an older copy may not stay), read the bytes, or read
 * the decoded entry.  A copy may be dropped at any time (a slot reused,
 * another maker asked for), but what is read must be exactly what was
 * last kept under that key by that maker, and a decoded entry must be
 * those very bytes decoded, never an older copy's decoding.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_centry.h"

#define KEYS 12
#define VARIANTS 5 /* four entries, then bytes that are none */

static unsigned char bytes[VARIANTS][BBT_CENTRY_BUF];
static size_t lens[VARIANTS];
/* Per maker and key, the variant last kept, or -1. */
static int model[2][KEYS];

static void make_variants(void)
{
    bbt_centry_t e;
    int v;

    for (v = 0; v < 4; v++) {
        memset(&e, 0, sizeof(e));
        e.stamp = 7;
        e.kind = v == 3 ? BBT_CENTRY_UNKNOWN : BBT_CENTRY_TOKEN;
        if (v < 3) {
            e.owner_id = v == 2 ? 43 : 42;
            e.revoked = v == 1;
            e.user_active = 1;
            e.tok_project = BBT_LEVEL_READ;
            e.tok_repo = BBT_LEVEL_WRITE;
            strcpy(e.user_name, v == 2 ? "bob" : "alice");
            strcpy(e.token_name, "ci");
        }
        lens[v] = bbt_centry_encode(&e, bytes[v], sizeof(bytes[v]));
        if (lens[v] == 0) {
            abort();
        }
    }
    memset(bytes[4], 0xee, 40);
    lens[4] = 40;
}

static void key_of(int k, unsigned char key[BBT_CKEY_LEN])
{
    /* Keys 2n and 2n + 1 differ in their last byte only. */
    memset(key, 0x10 + (k >> 1), BBT_CKEY_LEN);
    key[BBT_CKEY_LEN - 1] ^= (unsigned char)(k & 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned char s1[BBT_CKEY_SECRET_LEN] = {4, 5, 6};
    static const unsigned char s2[BBT_CKEY_SECRET_LEN] = {6, 5, 4};
    static bbt_ckeyer_t *makers[2];
    unsigned char key[BBT_CKEY_LEN], buf[BBT_CENTRY_BUF];
    const unsigned char *got;
    const bbt_centry_t *e;
    bbt_cthread_t *t;
    size_t i, len;
    int m, k, v;

    if (!makers[0]) {
        make_variants();
        makers[0] = bbt_ckeyer_new(s1, sizeof(s1));
        makers[1] = bbt_ckeyer_new(s2, sizeof(s2));
        if (!makers[0] || !makers[1]) {
            abort();
        }
    }
    /* An earlier input's copies are dropped first, as in the model. */
    for (m = 0; m < 2; m++) {
        t = bbt_cthread(makers[m]);
        for (k = 0; k < KEYS; k++) {
            key_of(k, key);
            bbt_cnear_put(t, key, NULL, 0);
            model[m][k] = -1;
        }
    }
    for (i = 0; i + 1 < size; i += 2) {
        int op = data[i] & 3;

        m = (data[i] >> 2) & 1;
        k = ((data[i] >> 3) & 15) % KEYS;
        v = data[i + 1] % (VARIANTS + 1);
        key_of(k, key);
        if (!(t = bbt_cthread(makers[m]))) {
            abort();
        }
        switch (op) {
        case 0:
            if (v == VARIANTS) {
                bbt_cnear_put(t, key, bytes[0], 0);
                model[m][k] = -1;
            } else {
                bbt_cnear_put(t, key, bytes[v], lens[v]);
                model[m][k] = v;
                /* Kept at once. */
                got = bbt_cnear_get(t, key, &len);
                if (!got || len != lens[v] || memcmp(got, bytes[v], len)) {
                    abort();
                }
            }
            break;
        case 1:
            got = bbt_cnear_get(t, key, &len);
            if (got && (model[m][k] < 0 || len != lens[model[m][k]] ||
                        memcmp(got, bytes[model[m][k]], len) != 0)) {
                abort();
            }
            break;
        default:
            e = bbt_cnear_entry(t, key);
            if (e) {
                v = model[m][k];
                /* Only an entry's bytes decode, and only to themselves. */
                if (v < 0 || v == 4 ||
                    bbt_centry_encode(e, buf, sizeof(buf)) != lens[v] ||
                    memcmp(buf, bytes[v], lens[v]) != 0) {
                    abort();
                }
            }
            break;
        }
    }
    return 0;
}
