/*
 * The thread's memory of verified tokens (bbt_vmemo.c): a token is known
 * by its very bytes under the start's secret, proved only against the
 * salt and hash it was noted with, forgotten when its slot is needed for
 * a fifth token or the maker changes, and the key holds nothing of the
 * token.
 */
#include <pthread.h>
#include <string.h>

#include "bbt_vmemo.h"
#include "tap.h"
#include "token_fixture.h"

static const unsigned char secret1[BBT_VMEMO_SECRET_LEN] = {7, 1, 2};
static const unsigned char secret2[BBT_VMEMO_SECRET_LEN] = {7, 1, 3};

typedef struct {
    bbt_vmemo_t *m;
    const unsigned char *key;
    int known;
} other_thread_t;

static void *ask_in_other_thread(void *arg)
{
    other_thread_t *o = arg;

    o->known = bbt_vmemo_known(o->m, o->key);
    return NULL;
}

int main(void)
{
    bbt_vmemo_t *m1 = bbt_vmemo_new(secret1, sizeof(secret1));
    bbt_vmemo_t *m1b = bbt_vmemo_new(secret1, sizeof(secret1));
    bbt_vmemo_t *m2 = bbt_vmemo_new(secret2, sizeof(secret2));
    bbt_token_t t = new_token(), u = t, five[5];
    unsigned char kt[BBT_VMEMO_KEY_LEN], ku[BBT_VMEMO_KEY_LEN];
    unsigned char k5[5][BBT_VMEMO_KEY_LEN], kx[BBT_VMEMO_KEY_LEN];
    unsigned char salt[BBT_SALT_LEN], salt2[BBT_SALT_LEN];
    unsigned char hash[BBT_HASH_LEN], hash2[BBT_HASH_LEN];
    other_thread_t o;
    pthread_t th;
    int i, all_known;

    ok(m1 && m1b && m2, "makers made (SipHash passed its known answer)");
    ok(!bbt_vmemo_new(secret1, sizeof(secret1) - 1),
       "a secret of another length: none");
    if (!m1 || !m1b || !m2) {
        return done_testing();
    }
    memset(salt, 0x5a, sizeof(salt));
    memset(hash, 0xa5, sizeof(hash));
    memcpy(salt2, salt, sizeof(salt));
    memcpy(hash2, hash, sizeof(hash));

    ok(bbt_vmemo_key(NULL, &t, kt) == -1, "no maker: no key");
    ok(bbt_vmemo_key(m1, NULL, kt) == -1, "no token: no key");
    ok(bbt_vmemo_key(m1, &t, kt) == 0, "a token's key");
    ok(bbt_vmemo_key(m1b, &t, ku) == 0 && memcmp(kt, ku, sizeof(kt)) == 0,
       "the same token under the same secret: the same key");
    ok(bbt_vmemo_key(m2, &t, ku) == 0 && memcmp(kt, ku, sizeof(kt)) != 0,
       "under another start's secret: another key");
    u.raw[BBT_TOKEN_RAW_LEN - 1] ^= 1;
    ok(bbt_vmemo_key(m1, &u, ku) == 0 && memcmp(kt, ku, sizeof(kt)) != 0,
       "one bit of the secret changed: another key");
    ok(!holds(kt, sizeof(kt), t.raw + sizeof(t.raw) - 8, 8) &&
           !holds(kt, sizeof(kt), t.raw, 8),
       "the key holds no run of the token's bytes");

    ok(!bbt_vmemo_known(m1, kt), "nothing noted: not known");
    ok(!bbt_vmemo_proved(m1, kt, salt, hash), "nothing noted: not proved");
    bbt_vmemo_note(m1, kt, salt, hash);
    ok(bbt_vmemo_known(m1, kt), "noted: known");
    ok(bbt_vmemo_proved(m1, kt, salt, hash),
       "noted: proved against its salt and hash");
    ok(!bbt_vmemo_known(m1, ku), "a token one bit away: not known");
    ok(!bbt_vmemo_proved(m1, ku, salt, hash),
       "a token one bit away: not proved, the same row or not");
    hash2[BBT_HASH_LEN - 1] ^= 1;
    ok(!bbt_vmemo_proved(m1, kt, salt, hash2),
       "another hash (the secret regenerated): not proved");
    salt2[0] ^= 1;
    ok(!bbt_vmemo_proved(m1, kt, salt2, hash), "another salt: not proved");
    ok(!bbt_vmemo_proved(m1, NULL, salt, hash) &&
           !bbt_vmemo_proved(m1, kt, NULL, hash) &&
           !bbt_vmemo_proved(m1, kt, salt, NULL) && !bbt_vmemo_known(m1, NULL),
       "NULLs: nothing proved or known");

    /* Another thread has a memory of its own. */
    o.m = m1;
    o.key = kt;
    o.known = -1;
    ok(pthread_create(&th, NULL, ask_in_other_thread, &o) == 0 &&
           pthread_join(th, NULL) == 0 && o.known == 0,
       "another thread does not know what this one noted");

    /* Noted again with another hash: that one replaces it. */
    bbt_vmemo_note(m1, kt, salt, hash2);
    ok(bbt_vmemo_proved(m1, kt, salt, hash2) &&
           !bbt_vmemo_proved(m1, kt, salt, hash),
       "noted again against another hash: only the new one is proved");

    /* Forgotten (a refused token): neither known nor proved. */
    bbt_vmemo_forget(m1, kt);
    ok(!bbt_vmemo_known(m1, kt) && !bbt_vmemo_proved(m1, kt, salt, hash2),
       "forgotten: neither known nor proved");
    bbt_vmemo_forget(m1, kt);
    bbt_vmemo_forget(m1, NULL);
    ok(!bbt_vmemo_known(m1, kt), "forgotten twice, or NULL: no harm");
    bbt_vmemo_note(m1, kt, salt, hash2);
    ok(bbt_vmemo_proved(m1, kt, salt, hash2), "noted again after it");

    /* Four slots: a fifth token takes the slot noted longest ago. */
    for (i = 0; i < 5; i++) {
        five[i] = new_token();
        bbt_vmemo_key(m1, &five[i], k5[i]);
    }
    for (i = 0; i < 4; i++) {
        bbt_vmemo_note(m1, k5[i], salt, hash);
    }
    ok(!bbt_vmemo_known(m1, kt),
       "four more tokens noted: the first one is forgotten");
    all_known = 1;
    for (i = 0; i < 4; i++) {
        all_known &= bbt_vmemo_known(m1, k5[i]);
    }
    ok(all_known, "the four are known");
    bbt_vmemo_note(m1, k5[4], salt, hash);
    ok(bbt_vmemo_known(m1, k5[4]) && !bbt_vmemo_known(m1, k5[0]) &&
           bbt_vmemo_known(m1, k5[1]),
       "a fifth: it takes the slot of the one noted longest ago");

    /* Another maker (a restart's): what was noted under m1 is gone, even
     * for the same key's bytes. */
    memcpy(kx, k5[4], sizeof(kx));
    ok(!bbt_vmemo_known(m2, kx), "under another maker: nothing known");
    ok(!bbt_vmemo_known(m1, kx),
       "and back under the first: forgotten, not mixed in");

    bbt_vmemo_free(m1);
    bbt_vmemo_free(m1b);
    bbt_vmemo_free(m2);
    return done_testing();
}
