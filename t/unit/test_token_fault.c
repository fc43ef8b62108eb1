/*
 * OpenSSL failing under the token codec (as it may when memory runs
 * short): a checksum or an HMAC that could not be computed is -1, never
 * the 0 of a wrong token, which the module would answer 401, count as a
 * guess and keep in its cache; and once OpenSSL works again the same
 * thread's checks are right again.  The failures are this program's:
 * its EVP_MAC_final and EVP_DigestUpdate, which the codec linked here
 * calls instead of libcrypto's, fail while told to and hand on otherwise.
 */
#define _GNU_SOURCE
#include "tap.h"
#include "token_fixture.h"

#include <dlfcn.h>
#include <string.h>

#include <openssl/evp.h>

static enum { FAIL_NONE, FAIL_HMAC, FAIL_DIGEST } failing;

int EVP_MAC_final(EVP_MAC_CTX *ctx, unsigned char *out, size_t *outl,
                  size_t outsize)
{
    static int (*real)(EVP_MAC_CTX *, unsigned char *, size_t *, size_t);

    if (!real) {
        *(void **)&real = dlsym(RTLD_NEXT, "EVP_MAC_final");
    }
    if (failing == FAIL_HMAC || !real) {
        return 0;
    }
    return real(ctx, out, outl, outsize);
}

int EVP_DigestUpdate(EVP_MD_CTX *ctx, const void *d, size_t cnt)
{
    static int (*real)(EVP_MD_CTX *, const void *, size_t);

    if (!real) {
        *(void **)&real = dlsym(RTLD_NEXT, "EVP_DigestUpdate");
    }
    if (failing == FAIL_DIGEST || !real) {
        return 0;
    }
    return real(ctx, d, cnt);
}

static int zeroed(const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t i;

    for (i = 0; i < n; i++) {
        if (b[i]) {
            return 0;
        }
    }
    return 1;
}

int main(void)
{
    char s[BBT_TOKEN_MAX_LEN + 1], id[BBT_TOKEN_ID_LEN + 1];
    char salt[BBT_SALT_HEX_LEN + 1], hash[BBT_HASH_HEX_LEN + 1];
    char again[BBT_HASH_HEX_LEN + 1];
    unsigned char sb[BBT_SALT_LEN], hb[BBT_HASH_LEN];
    bbt_token_t tok, bad, other = new_token(), out;
    bbt_minted_t m;

    plan(23);
    memset(&tok, 0, sizeof(tok));
    ok(bbt_token_generate(s, id) == 0 &&
           bbt_token_parse(s, strlen(s), &tok) == BBT_TOKEN_OK &&
           bbt_salt_generate(salt) == 0 &&
           bbt_token_hash_hex(salt, &tok, hash) == 0 &&
           bbt_token_unhex(salt, sb, sizeof(sb)) == 0 &&
           bbt_token_unhex(hash, hb, sizeof(hb)) == 0,
       "a token, its salt and its hash");
    bad = tok;
    bad.raw[BBT_TOKEN_RAW_LEN - 1] ^= 1;

    failing = FAIL_DIGEST;
    is_int(bbt_token_checksum_ok(&tok), -1,
           "SHA-256 failing: a right checksum is not known right (-1)");
    is_int(bbt_token_checksum_ok(&bad), -1, "  nor a wrong one wrong (-1)");
    memset(&out, 0xa5, sizeof(out));
    is_int(bbt_token_parse(s, strlen(s), &out), BBT_TOKEN_CHECK_FAILED,
           "  parse: the checksum could not be computed, not a bad checksum");
    ok(zeroed(&out, sizeof(out)), "  and nothing of the token is left");
    ok(strcmp(bbt_token_status_str(BBT_TOKEN_CHECK_FAILED),
              bbt_token_status_str(BBT_TOKEN_BAD_CHECKSUM)) != 0 &&
           strcmp(bbt_token_status_str(BBT_TOKEN_CHECK_FAILED),
                  "unknown token status") != 0,
       "  a reason of its own: %s",
       bbt_token_status_str(BBT_TOKEN_CHECK_FAILED));
    is_int(bbt_token_mint(&m), -1, "  no token minted");

    failing = FAIL_HMAC;
    is_int(bbt_token_verify(salt, hash, &tok), -1,
           "HMAC failing: the right secret is not a match (-1)");
    is_int(bbt_token_verify(salt, hash, &other), -1,
           "  nor another token's a mismatch (-1)");
    is_int(bbt_token_verify_fresh(salt, hash, &tok), -1, "  verify_fresh: -1");
    is_int(bbt_token_verify_raw(sb, hb, &tok), -1, "  verify_raw: -1");
    is_int(bbt_token_verify("zz", hash, &tok), 0,
           "  a malformed stored salt matches nothing, hashed or not (0)");
    is_int(bbt_token_verify_raw(sb, hb, NULL), 0, "  nor a NULL token (0)");
    is_int(bbt_token_hash_hex(salt, &tok, again), -1, "  hash_hex: -1");
    ok(again[0] == '\0', "  and no hash");
    is_int(bbt_token_mint(&m), -1, "  no token minted");
    is_int(bbt_token_checksum_ok(&tok), 1, "  the checksum still known (1)");

    failing = FAIL_NONE;
    is_int(bbt_token_checksum_ok(&tok), 1, "OpenSSL working again: checksum 1");
    is_int(bbt_token_checksum_ok(&bad), 0, "  a wrong checksum 0");
    is_int(bbt_token_verify(salt, hash, &tok), 1,
           "  this thread's HMAC verifies the token again");
    is_int(bbt_token_verify(salt, hash, &other), 0, "  another token: 0");
    is_int(bbt_token_verify_fresh(salt, hash, &tok), 1, "  verify_fresh: 1");
    ok(bbt_token_mint(&m) == 0 && m.token[0] != '\0', "  a token minted");
    bbt_minted_wipe(&m);
    bbt_token_wipe(&tok);
    bbt_token_wipe(&bad);
    bbt_token_wipe(&other);
    OPENSSL_cleanse(s, sizeof(s));
    return done_testing();
}
