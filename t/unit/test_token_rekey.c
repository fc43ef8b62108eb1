/*
 * bbt_token_verify_fresh keys the thread's HMAC for every check, where
 * bbt_token_verify spares the keying under the salt of the check before.
 * The keyings are counted where they happen: this program's EVP_MAC_init,
 * which the token code linked here calls instead of libcrypto's, counts
 * each call given a key and hands it on.
 */
#define _GNU_SOURCE
#include "tap.h"
#include "token_fixture.h"

#include <dlfcn.h>
#include <string.h>

#include <openssl/evp.h>

static int keyings;

int EVP_MAC_init(EVP_MAC_CTX *ctx, const unsigned char *key, size_t keylen,
                 const OSSL_PARAM params[])
{
    static int (*real)(EVP_MAC_CTX *, const unsigned char *, size_t,
                       const OSSL_PARAM[]);

    if (!real) {
        *(void **)&real = dlsym(RTLD_NEXT, "EVP_MAC_init");
    }
    if (key) {
        keyings++;
    }
    return real ? real(ctx, key, keylen, params) : 0;
}

int main(void)
{
    bbt_token_t tok = new_token(), other = new_token();
    char salt[BBT_SALT_HEX_LEN + 1], salt2[BBT_SALT_HEX_LEN + 1];
    char hash[BBT_HASH_HEX_LEN + 1], hash2[BBT_HASH_HEX_LEN + 1];
    int i, before, res;

    plan(9);
    ok(bbt_salt_generate(salt) == 0 && bbt_salt_generate(salt2) == 0 &&
           bbt_token_hash_hex(salt, &tok, hash) == 0 &&
           bbt_token_hash_hex(salt2, &other, hash2) == 0,
       "two tokens hashed under two salts");
    ok(keyings >= 2, "the interposed EVP_MAC_init sees the keyings (%d)",
       keyings);

    /* Under the salt hashed last: plain checks key nothing again. */
    before = keyings;
    res = bbt_token_verify(salt2, hash2, &other) &&
          bbt_token_verify(salt2, hash2, &other) &&
          !bbt_token_verify(salt2, hash, &other);
    ok(res, "plain checks: right, right, wrong");
    ok(keyings == before, "plain checks under the last salt: no keying (%d)",
       keyings - before);

    /* Fresh checks key every time, under the same salt too. */
    before = keyings;
    res = bbt_token_verify_fresh(salt2, hash2, &other) &&
          !bbt_token_verify_fresh(salt2, hash, &other) &&
          bbt_token_verify_fresh(salt2, hash2, &other);
    ok(res, "fresh checks: right, wrong, right");
    ok(keyings - before == 3,
       "three fresh checks under one salt: three "
       "keyings (%d)",
       keyings - before);

    /* So a run under one salt costs as much as checks alternating salts. */
    before = keyings;
    for (i = 0; i < 4; i++) {
        bbt_token_verify_fresh(salt, hash, &tok);
    }
    ok(keyings - before == 4, "four under one salt: four keyings (%d)",
       keyings - before);
    before = keyings;
    for (i = 0; i < 4; i++) {
        bbt_token_verify_fresh(i % 2 ? salt : salt2, i % 2 ? hash : hash2,
                               i % 2 ? &tok : &other);
    }
    ok(keyings - before == 4, "four alternating: four keyings (%d)",
       keyings - before);

    /* A malformed stored value is no keying and no match. */
    before = keyings;
    ok(!bbt_token_verify_fresh("zz", hash, &tok) && keyings == before,
       "a malformed salt: refused before any hashing");
    bbt_token_wipe(&tok);
    bbt_token_wipe(&other);
    return done_testing();
}
