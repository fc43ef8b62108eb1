/*
 * The keyed SipHash (bbt_keymac.c): each 8 bytes of its output are
 * SipHash-2-4 as another library computes it (OpenSSL's EVP_MAC), under
 * the secret's first and second halves, for inputs of every length up to
 * a few blocks; a thread's copy is made once per maker, keeps working
 * after its maker is freed, and is wiped when freed; the maker's own keys
 * give what its copy gives; what is not a keymac's size or secret is
 * refused.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "bbt_keymac.h"
#include "tap.h"

/* SipHash-2-4 of in under key, outlen bytes, by OpenSSL. */
static int openssl_siphash(const unsigned char key[BBT_KEYMAC_KEY_LEN],
                           const unsigned char *in, size_t len,
                           unsigned char *out, size_t outlen)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[2];
    size_t n = 0;
    int ok;

    params[0] = OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &outlen);
    params[1] = OSSL_PARAM_construct_end();
    ok = ctx && EVP_MAC_init(ctx, key, BBT_KEYMAC_KEY_LEN, params) &&
         EVP_MAC_update(ctx, in, len) && EVP_MAC_final(ctx, out, &n, outlen) &&
         n == outlen;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return ok ? 0 : -1;
}

static int all_zero(const void *p, size_t n)
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
    unsigned char secret[BBT_KEYMAC_SECRET_LEN], other[BBT_KEYMAC_SECRET_LEN];
    unsigned char in[70], a[16], b[16], ref[8];
    bbt_keymac_t *k16, *k8, *k16b;
    bbt_keymac_copy_t c16 = {0}, c8 = {0};
    size_t i, len;
    int first = 1, second = 1, short_ok = 1, shared = 1, differ = 1;

    for (i = 0; i < sizeof(secret); i++) {
        secret[i] = (unsigned char)(i * 7 + 1);
        other[i] = secret[i];
    }
    other[BBT_KEYMAC_KEY_LEN + 3] ^= 1; /* the second key alone differs */
    for (i = 0; i < sizeof(in); i++) {
        in[i] = (unsigned char)(i * 13 + 5);
    }

    ok(!bbt_keymac_new(secret, sizeof(secret) - 1, 16),
       "a secret of another length: none");
    ok(!bbt_keymac_new(secret, sizeof(secret), 12),
       "an output of neither 8 nor 16 bytes: none");
    k16 = bbt_keymac_new(secret, sizeof(secret), 16);
    k8 = bbt_keymac_new(secret, sizeof(secret), 8);
    k16b = bbt_keymac_new(other, sizeof(other), 16);
    ok(k16 && k8 && k16b, "makers made (SipHash passed its known answer)");
    if (!k16 || !k8 || !k16b) {
        return done_testing();
    }
    ok(bbt_keymac_serial(k16) != bbt_keymac_serial(k8) &&
           bbt_keymac_serial(k8) != bbt_keymac_serial(k16b),
       "each maker its own serial");

    ok(bbt_keymac_mac(&c16, in, 1, a, 16) == -1, "no copy yet: no MAC");
    is_int(bbt_keymac_copy(k16, &c16), 1, "the first copy is made");
    is_int(bbt_keymac_copy(k16, &c16), 0, "then it is the maker's already");
    is_int(bbt_keymac_copy(k8, &c8), 1, "a copy of the short maker");
    ok(bbt_keymac_mac(&c16, in, 1, a, 8) == -1,
       "an output length not the maker's: no MAC");

    for (len = 0; len <= sizeof(in); len++) {
        if (bbt_keymac_mac(&c16, in, len, a, 16) != 0 ||
            openssl_siphash(secret, in, len, ref, 8) != 0 ||
            memcmp(a, ref, 8) != 0) {
            first = 0;
        }
        if (openssl_siphash(secret + BBT_KEYMAC_KEY_LEN, in, len, ref, 8) !=
                0 ||
            memcmp(a + 8, ref, 8) != 0) {
            second = 0;
        }
        if (bbt_keymac_mac(&c8, in, len, b, 8) != 0 || memcmp(a, b, 8) != 0) {
            short_ok = 0;
        }
    }
    ok(first, "bytes 0-7: SipHash-2-4 under the first key, lengths 0-70");
    ok(second, "bytes 8-15: SipHash-2-4 under the second key, lengths 0-70");
    ok(short_ok, "the 8-byte maker gives the first half");

    /* On the maker's own keys, with no copy: the same MAC. */
    for (len = 0; len <= sizeof(in); len++) {
        if (bbt_keymac_mac(&c16, in, len, a, 16) != 0 ||
            bbt_keymac_mac_shared(k16, in, len, b, 16) != 0 ||
            memcmp(a, b, 16) != 0 ||
            bbt_keymac_mac_shared(k8, in, len, b, 8) != 0 ||
            memcmp(a, b, 8) != 0) {
            shared = 0;
        }
    }
    ok(shared, "on the maker's keys: its copy's MAC, lengths 0-70");
    ok(bbt_keymac_mac_shared(k16, in, 1, a, 8) == -1 &&
           bbt_keymac_mac_shared(k8, in, 1, a, 16) == -1,
       "  and an output length not the maker's: no MAC");

    /* Another maker: the copy follows it, and its second half moves. */
    ok(bbt_keymac_mac(&c16, in, 33, a, 16) == 0, "a MAC under the first");
    is_int(bbt_keymac_copy(k16b, &c16), 1, "another maker: copied anew");
    ok(bbt_keymac_mac(&c16, in, 33, b, 16) == 0, "a MAC under the other");
    differ = memcmp(a, b, 8) == 0 && memcmp(a + 8, b + 8, 8) != 0;
    ok(differ, "a second key of its own changes the second half only");

    /* The copy is the thread's: its maker freed, it still MACs, and the
     * same as before. */
    bbt_keymac_free(k16b);
    ok(bbt_keymac_mac(&c16, in, 33, a, 16) == 0 && memcmp(a, b, 16) == 0,
       "a copy outlives its maker");

    bbt_keymac_copy_free(&c16);
    ok(c16.serial == 0 && all_zero(c16.key, sizeof(c16.key)),
       "a freed copy is none, its keys wiped");
    ok(bbt_keymac_mac(&c16, in, 33, a, 16) == -1, "and it MACs nothing");

    bbt_keymac_copy_free(&c8);
    bbt_keymac_free(k16);
    bbt_keymac_free(k8);
    return done_testing();
}
