/*
 * Token codec.  See bbt_token.h for the format.  OpenSSL does all of the
 * cryptography and the base64 arithmetic; this file only decides what is
 * acceptable input before handing bytes to it.
 */
#include "bbt_token.h"
#include "bbt_tls.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

/* Domain separation: the checksum is not the hash of anything else. */
static const char bbt_check_label[] = "bbtoken-v1:";
#define BBT_CHECK_LABEL_LEN (sizeof(bbt_check_label) - 1)

/* Bytes covered by the checksum: id ":" random16. */
#define BBT_TOKEN_CHECKED_LEN (BBT_TOKEN_ID_LEN + 1 + BBT_TOKEN_RANDOM_LEN)

/* Draws of a new token's random bytes before giving up: each has neither
 * '+' nor '/' four times in ten, so 64 all fail once in 10^16 runs. */
#define BBT_TOKEN_DRAWS 64

static int bbt_b64_char(unsigned char c)
{
    return bbt_is_alnum(c) || c == '+' || c == '/';
}

/* Not bbt_b64_char, looked up: every token request checks each of its
 * bytes (bbt_bytes_or). */
static unsigned char bbt_b64_bad[256];

__attribute__((constructor)) static void bbt_b64_table(void)
{
    unsigned c;

    for (c = 0; c < 256; c++) {
        bbt_b64_bad[c] = (unsigned char)!bbt_b64_char((unsigned char)c);
    }
}

int bbt_b64_digit(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    return c == '/' ? 63 : -1;
}

int bbt_b64_decode_strict(const char *in, size_t len, unsigned char *out,
                          size_t outcap, size_t *outlen)
{
    const unsigned char *u = (const unsigned char *)in;
    unsigned char last[3];
    size_t pad = 0, body, need;

    if (outlen)
        *outlen = 0;
    if (!in || !outlen || (len && !out))
        return -1;
    if (len == 0)
        return 0;
    /* EVP_DecodeBlock takes an int. */
    if (len % 4 != 0 || len > (size_t)INT_MAX - 4)
        return -1;

    /* Padding: at most two '=', only at the very end. */
    if (u[len - 1] == '=') {
        pad = 1;
        if (u[len - 2] == '=')
            pad = 2;
    }
    if (bbt_bytes_or(bbt_b64_bad, u, len - pad))
        return -1;
    /* Canonical form only (RFC 4648 section 3.5): the bits that padding
     * leaves over must be zero, so each byte string has one spelling. */
    if (pad == 1 && (bbt_b64_digit(u[len - 2]) & 0x03) != 0)
        return -1;
    if (pad == 2 && (bbt_b64_digit(u[len - 3]) & 0x0f) != 0)
        return -1;

    need = len / 4 * 3 - pad;
    if (need > outcap)
        return -1;

    /* Without padding every byte EVP_DecodeBlock writes is a real one; with
     * it, the padding's zero bytes follow them, and out may take those too
     * (a Basic header's buffer does): one call either way. */
    if (pad == 0 || outcap >= need + pad) {
        if (EVP_DecodeBlock(out, u, (int)len) != (int)(need + pad)) {
            OPENSSL_cleanse(out, need + pad);
            return -1;
        }
        *outlen = need;
        return 0;
    }
    /* All full groups but the last go straight to out; the last goes via a
     * local buffer, because EVP_DecodeBlock writes the padding's zero bytes
     * too and out may have room for the real bytes only. */
    body = len - 4;
    if (body > 0 && EVP_DecodeBlock(out, u, (int)body) != (int)(body / 4 * 3)) {
        OPENSSL_cleanse(out, body / 4 * 3);
        return -1;
    }
    if (EVP_DecodeBlock(last, u + body, 4) != 3) {
        OPENSSL_cleanse(out, body / 4 * 3);
        OPENSSL_cleanse(last, sizeof(last));
        return -1;
    }
    memcpy(out + body / 4 * 3, last, 3 - pad);
    OPENSSL_cleanse(last, sizeof(last));
    *outlen = need;
    return 0;
}

/* SHA-256 and HMAC, fetched once: EVP_sha256() and HMAC() make OpenSSL
 * look the algorithm up again on every call, and with threads that lookup
 * costs more than the hashing (every token request hashes). */
static pthread_once_t bbt_fetch_once = PTHREAD_ONCE_INIT;
static EVP_MD *bbt_sha256_fetched;
static EVP_MAC *bbt_hmac_fetched;

static void bbt_fetch(void)
{
    bbt_sha256_fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
    bbt_hmac_fetched = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

/* Each thread keeps one HMAC context with its digest set, and gives it a
 * key (the salt) for each hash: setting the digest by name looks it up
 * again, which cost more than the hashing (twice the time, measured).
 * The context holds the last salt until the thread's next hash, and a
 * copy of it says which: a salt is no secret (the table keeps it beside
 * the hash, and it proves nothing alone), while nothing of the token stays
 * (bbt_hmac_sha256).  Beside it, one SHA-256 context for the checksum and
 * the lookup's digest, so that neither allocates one per request
 * (EVP_Digest does). */
typedef struct {
    EVP_MAC_CTX *ctx;
    EVP_MD_CTX *md;
    unsigned char key[BBT_SALT_LEN]; /* the key ctx holds, if klen > 0 */
    size_t klen;
} bbt_crypto_tls_t;

static void bbt_crypto_tls_free(void *v)
{
    bbt_crypto_tls_t *t = v;

    EVP_MAC_CTX_free(t->ctx);
    EVP_MD_CTX_free(t->md);
    OPENSSL_cleanse(t->key, sizeof(t->key)); /* a salt, the HMAC's key */
    free(t);
}

static bbt_tls_t bbt_crypto_tls_kind =
    BBT_TLS_INIT(sizeof(bbt_crypto_tls_t), bbt_crypto_tls_free);

static const EVP_MD *bbt_sha256(void)
{
    if (pthread_once(&bbt_fetch_once, bbt_fetch) == 0 && bbt_sha256_fetched)
        return bbt_sha256_fetched;
    return EVP_sha256();
}

/* This thread's crypto contexts with its HMAC-SHA-256 context made (the
 * first time); NULL if it cannot be. */
static bbt_crypto_tls_t *bbt_hmac_tls(void)
{
    OSSL_PARAM params[2];
    bbt_crypto_tls_t *t;

    if (pthread_once(&bbt_fetch_once, bbt_fetch) != 0 || !bbt_hmac_fetched ||
        !(t = bbt_tls_get(&bbt_crypto_tls_kind)))
        return NULL;
    if (t->ctx)
        return t;
    t->klen = 0;
    t->ctx = EVP_MAC_CTX_new(bbt_hmac_fetched);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (t->ctx && !EVP_MAC_CTX_set_params(t->ctx, params)) {
        EVP_MAC_CTX_free(t->ctx);
        t->ctx = NULL;
    }
    return t->ctx ? t : NULL;
}

/* SHA-256(msg) into md (BBT_HASH_LEN bytes) with this thread's context;
 * 0 or -1.  EVP_DigestFinal_ex leaves the context holding nothing of msg. */
static int bbt_sha256_of(const unsigned char *msg, size_t mlen,
                         unsigned char *md)
{
    bbt_crypto_tls_t *t = bbt_tls_get(&bbt_crypto_tls_kind);
    const EVP_MD *sha = bbt_sha256();
    unsigned int n = 0;

    if (t && !t->md)
        t->md = EVP_MD_CTX_new();
    if (!t || !t->md) {
        return EVP_Digest(msg, mlen, md, &n, sha, NULL) == 1 &&
                       n == BBT_HASH_LEN
                   ? 0
                   : -1;
    }
    return EVP_DigestInit_ex2(t->md, sha, NULL) == 1 &&
                   EVP_DigestUpdate(t->md, msg, mlen) == 1 &&
                   EVP_DigestFinal_ex(t->md, md, &n) == 1 && n == BBT_HASH_LEN
               ? 0
               : -1;
}

/* HMAC-SHA-256(key, msg) into md (BBT_HASH_LEN bytes); 0 or -1. */
static int bbt_hmac_sha256(const unsigned char *key, size_t klen,
                           const unsigned char *msg, size_t mlen,
                           unsigned char *md)
{
    bbt_crypto_tls_t *t = bbt_hmac_tls();
    EVP_MAC_CTX *c;
    size_t n = 0;
    int ok, same;

    if (!t) {
        unsigned int len = 0;

        return HMAC(EVP_sha256(), key, (int)klen, msg, mlen, md, &len) &&
                       len == BBT_HASH_LEN
                   ? 0
                   : -1;
    }
    c = t->ctx;
    /* Under the key the context already holds, as it was left below, no
     * new key: keying hashes two blocks and copies digest contexts, about
     * half of a hash's instructions (callgrind), and with the cache off a
     * thread hashes the same token under the same salt request after
     * request. */
    same = t->klen > 0 && t->klen == klen && memcmp(t->key, key, klen) == 0;
    t->klen = 0;
    ok = (same || EVP_MAC_init(c, key, klen, NULL)) &&
         EVP_MAC_update(c, msg, mlen) &&
         EVP_MAC_final(c, md, &n, BBT_HASH_LEN) && n == BBT_HASH_LEN;
    /* Start again under the same key, so that nothing the message left in
     * the digest's state stays in the thread's context. */
    if (!EVP_MAC_init(c, NULL, 0, NULL))
        ok = 0;
    if (ok && klen <= sizeof(t->key)) {
        memcpy(t->key, key, klen);
        t->klen = klen;
    }
    return ok ? 0 : -1;
}

/* SHA-256(label || id ":" random16), first 4 bytes, into check. */
static int bbt_token_checksum(const unsigned char *raw,
                              unsigned char check[BBT_TOKEN_CHECK_LEN])
{
    unsigned char msg[BBT_CHECK_LABEL_LEN + BBT_TOKEN_CHECKED_LEN];
    unsigned char md[BBT_HASH_LEN];
    int rv = -1;

    memcpy(msg, bbt_check_label, BBT_CHECK_LABEL_LEN);
    memcpy(msg + BBT_CHECK_LABEL_LEN, raw, BBT_TOKEN_CHECKED_LEN);
    if (bbt_sha256_of(msg, sizeof(msg), md) == 0) {
        memcpy(check, md, BBT_TOKEN_CHECK_LEN);
        rv = 0;
    }
    OPENSSL_cleanse(msg, sizeof(msg));
    OPENSSL_cleanse(md, sizeof(md));
    return rv;
}

bbt_token_status_t bbt_token_parse_unchecked(const char *s, size_t len,
                                             bbt_token_t *out)
{
    unsigned char raw[BBT_TOKEN_RAW_LEN];
    size_t rawlen = 0, i;
    bbt_token_status_t st = BBT_TOKEN_OK;

    if (out)
        memset(out, 0, sizeof(*out));
    if (!s || !out)
        return BBT_TOKEN_BAD_LENGTH;

    if (len == BBT_TOKEN_MAX_LEN &&
        memcmp(s, BBT_TOKEN_PREFIX, BBT_TOKEN_PREFIX_LEN) == 0) {
        s += BBT_TOKEN_PREFIX_LEN;
        len -= BBT_TOKEN_PREFIX_LEN;
    }
    if (len != BBT_TOKEN_B64_LEN)
        return BBT_TOKEN_BAD_LENGTH;

    /* The strict decoder refuses any byte outside base64; 33 bytes need no
     * padding, so a '=' leaves fewer than 33 and is refused as well. */
    if (bbt_b64_decode_strict(s, len, raw, sizeof(raw), &rawlen) != 0 ||
        rawlen != BBT_TOKEN_RAW_LEN) {
        st = BBT_TOKEN_BAD_ALPHABET;
        goto done;
    }

    for (i = 0; i < BBT_TOKEN_ID_LEN; i++) {
        if (raw[i] < '0' || raw[i] > '9') {
            st = BBT_TOKEN_BAD_SHAPE;
            goto done;
        }
    }
    if (raw[BBT_TOKEN_ID_LEN] != ':') {
        st = BBT_TOKEN_BAD_SHAPE;
        goto done;
    }

    memcpy(out->id, raw, BBT_TOKEN_ID_LEN);
    out->id[BBT_TOKEN_ID_LEN] = '\0';
    memcpy(out->raw, raw, BBT_TOKEN_RAW_LEN);

done:
    OPENSSL_cleanse(raw, sizeof(raw));
    return st;
}

int bbt_token_checksum_ok(const bbt_token_t *tok)
{
    unsigned char check[BBT_TOKEN_CHECK_LEN];
    int ok;

    /* A hash that failed proves nothing either way: -1, not 0, or a
     * right token would be refused as mistyped (and counted as a guess). */
    if (bbt_token_checksum(tok->raw, check) != 0)
        ok = -1;
    else
        ok = CRYPTO_memcmp(check, tok->raw + BBT_TOKEN_CHECKED_LEN,
                           BBT_TOKEN_CHECK_LEN) == 0;
    OPENSSL_cleanse(check, sizeof(check));
    return ok;
}

bbt_token_status_t bbt_token_parse(const char *s, size_t len, bbt_token_t *out)
{
    bbt_token_status_t st = bbt_token_parse_unchecked(s, len, out);
    int sum;

    if (st == BBT_TOKEN_OK && (sum = bbt_token_checksum_ok(out)) != 1) {
        bbt_token_wipe(out);
        st = sum < 0 ? BBT_TOKEN_CHECK_FAILED : BBT_TOKEN_BAD_CHECKSUM;
    }
    return st;
}

const char *bbt_token_status_str(bbt_token_status_t st)
{
    switch (st) {
    case BBT_TOKEN_OK:
        return "token is well formed";
    case BBT_TOKEN_BAD_LENGTH:
        return "token has the wrong length";
    case BBT_TOKEN_BAD_ALPHABET:
        return "token contains a character outside base64";
    case BBT_TOKEN_BAD_SHAPE:
        return "token does not decode to an id and a secret";
    case BBT_TOKEN_BAD_CHECKSUM:
        return "token checksum does not match";
    case BBT_TOKEN_CHECK_FAILED:
        return "token checksum could not be computed";
    }
    return "unknown token status";
}

/* n uniformly random decimal digits.  A byte below 250 taken mod 10 is
 * uniform; bytes 250..255 are thrown away rather than biasing 0..5. */
static int bbt_random_digits(char *out, size_t n)
{
    unsigned char pool[32];
    size_t have = 0, used = 0;
    int rv = 0;

    while (have < n) {
        if (used == 0 || used == sizeof(pool)) {
            if (RAND_bytes(pool, (int)sizeof(pool)) != 1) {
                rv = -1;
                break;
            }
            used = 0;
        }
        if (pool[used] < 250)
            out[have++] = (char)('0' + pool[used] % 10);
        used++;
    }
    OPENSSL_cleanse(pool, sizeof(pool));
    return rv;
}

int bbt_token_generate(char out[BBT_TOKEN_MAX_LEN + 1],
                       char id[BBT_TOKEN_ID_LEN + 1])
{
    unsigned char raw[BBT_TOKEN_RAW_LEN];
    char digits[BBT_TOKEN_ID_LEN];
    int rv = -1, draws;

    if (!out || !id)
        return -1;
    out[0] = '\0';
    id[0] = '\0';

    if (bbt_random_digits(digits, sizeof(digits)) != 0)
        goto done;
    memcpy(raw, digits, BBT_TOKEN_ID_LEN);
    raw[BBT_TOKEN_ID_LEN] = ':';
    memcpy(out, BBT_TOKEN_PREFIX, BBT_TOKEN_PREFIX_LEN);
    /* Standard base64, Bitbucket's, has '+' and '/', which a clone URL's
     * password must percent-encode: a token with either is drawn again
     * (the digits and the colon never encode to them).  About four in ten
     * draws have neither, so the secret keeps some 127 of its 128 bits;
     * BBT_TOKEN_DRAWS failing draws take only a broken generator. */
    for (draws = 0;; draws++) {
        if (draws == BBT_TOKEN_DRAWS ||
            RAND_bytes(raw + BBT_TOKEN_ID_LEN + 1, BBT_TOKEN_RANDOM_LEN) != 1 ||
            bbt_token_checksum(raw, raw + BBT_TOKEN_CHECKED_LEN) != 0 ||
            /* 44 characters and a NUL: exactly what is left of out. */
            EVP_EncodeBlock((unsigned char *)out + BBT_TOKEN_PREFIX_LEN, raw,
                            BBT_TOKEN_RAW_LEN) != BBT_TOKEN_B64_LEN) {
            OPENSSL_cleanse(out, BBT_TOKEN_MAX_LEN + 1);
            out[0] = '\0';
            goto done;
        }
        if (!strpbrk(out + BBT_TOKEN_PREFIX_LEN, "+/"))
            break;
    }
    out[BBT_TOKEN_MAX_LEN] = '\0';
    memcpy(id, digits, BBT_TOKEN_ID_LEN);
    id[BBT_TOKEN_ID_LEN] = '\0';
    rv = 0;

done:
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(digits, sizeof(digits));
    return rv;
}

static void bbt_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

/* Each lower-case hex digit's value plus one; 0 for any other byte. */
static const unsigned char bbt_hex_value[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,
    ['6'] = 7,  ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
    ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16};

int bbt_token_unhex(const char *hex, unsigned char *out, size_t n)
{
    size_t i;

    if (!hex)
        return -1;
    for (i = 0; i < n; i++) {
        unsigned hi = bbt_hex_value[(unsigned char)hex[2 * i]];
        unsigned lo;

        /* Not past a NUL: a short value stops at it. */
        if (!hi || !(lo = bbt_hex_value[(unsigned char)hex[2 * i + 1]]))
            return -1;
        out[i] = (unsigned char)((hi - 1) << 4 | (lo - 1));
    }
    return 0;
}

/* Decode exactly 2n lower-case hex digits followed by a NUL.  Stored values
 * are lower case (the schema says so); anything else is malformed.  Reads
 * at most 2n + 1 bytes of hex. */
static int bbt_unhex(const char *hex, unsigned char *out, size_t n)
{
    return bbt_token_unhex(hex, out, n) == 0 && hex[2 * n] == '\0' ? 0 : -1;
}

int bbt_salt_generate(char hex[BBT_SALT_HEX_LEN + 1])
{
    unsigned char salt[BBT_SALT_LEN];

    if (!hex)
        return -1;
    hex[0] = '\0';
    if (RAND_bytes(salt, sizeof(salt)) != 1)
        return -1;
    bbt_hex(salt, sizeof(salt), hex);
    OPENSSL_cleanse(salt, sizeof(salt));
    return 0;
}

/* HMAC-SHA-256(salt_hex as bytes, raw) into md. */
static int bbt_token_mac(const char *salt_hex, const bbt_token_t *tok,
                         unsigned char md[BBT_HASH_LEN])
{
    unsigned char salt[BBT_SALT_LEN];
    int rv = -1;

    if (!tok || bbt_unhex(salt_hex, salt, sizeof(salt)) != 0)
        goto done;
    if (bbt_hmac_sha256(salt, sizeof(salt), tok->raw, sizeof(tok->raw), md) !=
        0) {
        OPENSSL_cleanse(md, BBT_HASH_LEN);
        goto done;
    }
    rv = 0;
done:
    OPENSSL_cleanse(salt, sizeof(salt));
    return rv;
}

int bbt_token_hash_hex(const char *salt_hex, const bbt_token_t *tok,
                       char out[BBT_HASH_HEX_LEN + 1])
{
    unsigned char md[BBT_HASH_LEN];

    if (!out)
        return -1;
    out[0] = '\0';
    if (bbt_token_mac(salt_hex, tok, md) != 0)
        return -1;
    bbt_hex(md, sizeof(md), out);
    OPENSSL_cleanse(md, sizeof(md));
    return 0;
}

int bbt_token_verify_raw(const unsigned char salt[BBT_SALT_LEN],
                         const unsigned char hash[BBT_HASH_LEN],
                         const bbt_token_t *tok)
{
    unsigned char md[BBT_HASH_LEN];
    int ok = 0;

    /* One fixed-size CRYPTO_memcmp.  An HMAC that failed is -1: taken for
     * a mismatch, a right token would be refused as a wrong secret,
     * counted as a guess and kept as a refusal. */
    if (tok && salt && hash) {
        if (bbt_hmac_sha256(salt, BBT_SALT_LEN, tok->raw, sizeof(tok->raw),
                            md) != 0)
            ok = -1;
        else
            ok = CRYPTO_memcmp(md, hash, sizeof(md)) == 0;
    }
    OPENSSL_cleanse(md, sizeof(md));
    return ok;
}

int bbt_token_verify(const char *salt_hex, const char *hash_hex,
                     const bbt_token_t *tok)
{
    unsigned char salt[BBT_SALT_LEN], stored[BBT_HASH_LEN];
    int ok = 0;

    /* Compare bytes, not hex. */
    if (bbt_unhex(salt_hex, salt, sizeof(salt)) == 0 &&
        bbt_unhex(hash_hex, stored, sizeof(stored)) == 0)
        ok = bbt_token_verify_raw(salt, stored, tok);
    OPENSSL_cleanse(salt, sizeof(salt));
    OPENSSL_cleanse(stored, sizeof(stored));
    return ok;
}

int bbt_token_verify_fresh(const char *salt_hex, const char *hash_hex,
                           const bbt_token_t *tok)
{
    bbt_crypto_tls_t *t = bbt_hmac_tls();

    if (t)
        t->klen = 0;
    return bbt_token_verify(salt_hex, hash_hex, tok);
}

const char *bbt_token_crypto_why(void)
{
    unsigned long e, last = 0;
    const char *why;

    while ((e = ERR_get_error()) != 0)
        last = e;
    why = last ? ERR_reason_error_string(last) : NULL;
    return why ? why : "OpenSSL gave no reason";
}

void bbt_token_wipe(bbt_token_t *tok)
{
    if (tok)
        OPENSSL_cleanse(tok, sizeof(*tok));
}

int bbt_token_mint(bbt_minted_t *out)
{
    bbt_token_t tok;
    int rv = -1;

    if (!out)
        return -1;
    memset(out, 0, sizeof(*out));
    memset(&tok, 0, sizeof(tok));
    if (bbt_token_generate(out->token, out->id) == 0 &&
        bbt_salt_generate(out->salt) == 0 &&
        bbt_token_parse(out->token, strlen(out->token), &tok) == BBT_TOKEN_OK &&
        bbt_token_hash_hex(out->salt, &tok, out->hash) == 0)
        rv = 0;
    bbt_token_wipe(&tok);
    if (rv != 0)
        bbt_minted_wipe(out);
    return rv;
}

void bbt_minted_wipe(bbt_minted_t *m)
{
    if (m)
        OPENSSL_cleanse(m, sizeof(*m));
}
