/*
 * Token codec tests.  Known vectors were computed independently (Python's
 * hashlib, hmac and base64), so these tests check the format, not just that
 * the code agrees with itself.
 */
#include "bbt_token.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* id "000000000042", random bytes 00..0f. */
#define VEC1 "MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwNDg/w0LwU"
/* id "987654321098", random bytes ff x 16: has '/' in it. */
#define VEC2 "OTg3NjU0MzIxMDk4Ov////////////////////8VTya4"
/* HMAC-SHA-256(key = bytes 10..1f, VEC1's raw 33 bytes). */
#define VEC1_SALT "101112131415161718191a1b1c1d1e1f"
#define VEC1_HASH                                                              \
    "479f3af3bf8024f8a328ca8aba6dd73876635cf95f7992a3dbe1cc3c9668ae4e"

#define NGEN 200

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int in_b64(int c)
{
    return c != 0 && strchr(b64chars, c) != NULL;
}

static bbt_token_status_t parse_str(const char *s, bbt_token_t *t)
{
    return bbt_token_parse(s, strlen(s), t);
}

/* Build a 44-char token body from id/sep/random, with a checksum computed
 * here (label may be altered to test domain separation). */
static void build(const char *id12, char sep, const unsigned char rnd[16],
                  const char *label, int corrupt_check, char out[45])
{
    unsigned char raw[33], msg[64], md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    size_t ll = strlen(label);

    memcpy(raw, id12, 12);
    raw[12] = (unsigned char)sep;
    memcpy(raw + 13, rnd, 16);
    memcpy(msg, label, ll);
    memcpy(msg + ll, raw, 29);
    EVP_Digest(msg, ll + 29, md, &mdlen, EVP_sha256(), NULL);
    memcpy(raw + 29, md, 4);
    if (corrupt_check)
        raw[32] ^= 0x01;
    EVP_EncodeBlock((unsigned char *)out, raw, 33);
}

static void test_vectors(void)
{
    bbt_token_t t;
    char body[45];
    unsigned char rnd[16];
    int i;

    is_int(parse_str(VEC1, &t), BBT_TOKEN_OK, "vector 1 parses");
    is_str(t.id, "000000000042", "vector 1 id keeps its leading zeros");
    ok(memcmp(t.raw, "000000000042:", 13) == 0 && t.raw[13] == 0x00 &&
           t.raw[28] == 0x0f,
       "vector 1 raw bytes");
    is_int(parse_str("BBDC-" VEC1, &t), BBT_TOKEN_OK,
           "vector 1 parses with prefix");
    is_str(t.id, "000000000042", "vector 1 id with prefix");
    is_int(parse_str(VEC2, &t), BBT_TOKEN_OK, "vector 2 parses");
    is_str(t.id, "987654321098", "vector 2 id");
    is_int(parse_str("BBDC-" VEC2, &t), BBT_TOKEN_OK,
           "vector 2 parses with prefix");

    /* The test's own builder agrees with the independent vector. */
    for (i = 0; i < 16; i++)
        rnd[i] = (unsigned char)i;
    build("000000000042", ':', rnd, "bbtoken-v1:", 0, body);
    is_str(body, VEC1, "test builder reproduces vector 1");
}

static void test_generate(void)
{
    static char toks[NGEN][BBT_TOKEN_MAX_LEN + 1];
    char id[BBT_TOKEN_ID_LEN + 1];
    int counts[10] = {0};
    int gen_ok = 1, shape_ok = 1, parse_ok = 1, bare_ok = 1, id_ok = 1;
    int distinct = 1, leading_zero = 0, slash_or_plus = 0, raw_ok = 1;
    int i, j, d, spread_ok = 1;
    bbt_token_t a, b;

    for (i = 0; i < NGEN; i++) {
        if (bbt_token_generate(toks[i], id) != 0) {
            gen_ok = 0;
            continue;
        }
        if (strlen(toks[i]) != BBT_TOKEN_MAX_LEN ||
            strncmp(toks[i], "BBDC-", 5) != 0 ||
            strspn(toks[i] + 5, b64chars) != BBT_TOKEN_B64_LEN)
            shape_ok = 0;
        if (strlen(id) != 12 || strspn(id, "0123456789") != 12)
            id_ok = 0;
        if (parse_str(toks[i], &a) != BBT_TOKEN_OK || strcmp(a.id, id) != 0)
            parse_ok = 0;
        if (parse_str(toks[i] + 5, &b) != BBT_TOKEN_OK || strcmp(b.id, id))
            bare_ok = 0;
        if (memcmp(a.raw, b.raw, sizeof(a.raw)) != 0 ||
            memcmp(a.raw, id, 12) != 0 || a.raw[12] != ':')
            raw_ok = 0;
        if (id[0] == '0')
            leading_zero = 1;
        if (strpbrk(toks[i] + 5, "+/"))
            slash_or_plus = 1;
        for (j = 0; j < 12; j++)
            counts[id[j] - '0']++;
        bbt_token_wipe(&a);
        bbt_token_wipe(&b);
    }
    for (i = 0; i < NGEN && distinct; i++)
        for (j = i + 1; j < NGEN; j++)
            if (strcmp(toks[i], toks[j]) == 0 ||
                strncmp(toks[i] + 5, toks[j] + 5, 16) == 0) {
                distinct = 0;
                break;
            }
    /* 2400 digits, 240 expected each; +-90 is six standard deviations. */
    for (d = 0; d < 10; d++)
        if (counts[d] < 150 || counts[d] > 330) {
            spread_ok = 0;
            diag("digit %d occurs %d times", d, counts[d]);
        }

    ok(gen_ok, "bbt_token_generate succeeds %d times", NGEN);
    ok(shape_ok, "generated tokens are BBDC- and 44 base64 characters");
    ok(id_ok, "generated ids are 12 decimal digits");
    ok(parse_ok, "generated tokens parse with the prefix, same id");
    ok(bare_ok, "generated tokens parse without the prefix, same id");
    ok(raw_ok, "raw bytes are id ':' secret, the same either way");
    ok(distinct, "generated tokens and ids are all distinct");
    ok(leading_zero, "some generated ids start with 0 (ids are text)");
    /* Four in ten plain draws have neither: 200 by chance, 10^-72. */
    ok(!slash_or_plus, "no generated token has + or / (a URL takes it as is)");
    ok(spread_ok, "id digits are roughly uniform");
    ok(bbt_token_generate(NULL, id) == -1, "generate refuses NULL out");
}

/* Every single-byte change of the 44-character body must be refused, with
 * the right status: alphabet for foreign bytes, else shape or checksum. */
static void mutate_all(const char *tok, const char *label)
{
    char buf[BBT_TOKEN_MAX_LEN + 1];
    size_t len = strlen(tok), off = len - BBT_TOKEN_B64_LEN, i;
    int c, accepted = 0, wrong_alpha = 0, wrong_other = 0, n = 0;
    bbt_token_t t;

    for (i = off; i < len; i++) {
        for (c = 0; c < 256; c++) {
            bbt_token_status_t st;

            if (c == (unsigned char)tok[i])
                continue;
            memcpy(buf, tok, len + 1);
            buf[i] = (char)c;
            st = bbt_token_parse(buf, len, &t);
            n++;
            if (st == BBT_TOKEN_OK)
                accepted++;
            else if (!in_b64(c) && st != BBT_TOKEN_BAD_ALPHABET)
                wrong_alpha++;
            else if (in_b64(c) && st != BBT_TOKEN_BAD_SHAPE &&
                     st != BBT_TOKEN_BAD_CHECKSUM)
                wrong_other++;
        }
    }
    is_int(accepted, 0, "%s: none of %d single-byte mutations accepted", label,
           n);
    is_int(wrong_alpha, 0, "%s: foreign bytes give BAD_ALPHABET", label);
    is_int(wrong_other, 0, "%s: base64 bytes give BAD_SHAPE or BAD_CHECKSUM",
           label);
}

static void test_mutations(void)
{
    char tok[BBT_TOKEN_MAX_LEN + 1], id[BBT_TOKEN_ID_LEN + 1];
    char buf[BBT_TOKEN_MAX_LEN + 1];
    bbt_token_t t;
    int i, bad = 0;

    mutate_all(VEC1, "vector 1");
    mutate_all("BBDC-" VEC2, "vector 2 with prefix");
    if (bbt_token_generate(tok, id) == 0) {
        mutate_all(tok, "generated");
        mutate_all(tok + 5, "generated, bare");
    } else {
        ok(0, "generate for mutation test");
    }

    /* The checksum bytes alone: the last 5 characters carry them. */
    for (i = 39; i < 44; i++) {
        memcpy(buf, VEC1, 45);
        buf[i] = buf[i] == 'A' ? 'B' : 'A';
        if (parse_str(buf, &t) != BBT_TOKEN_BAD_CHECKSUM)
            bad++;
    }
    is_int(bad, 0, "changing a checksum character gives BAD_CHECKSUM");

    /* The prefix is exact: any change makes it a 49-character non-token. */
    bad = 0;
    for (i = 0; i < 5; i++) {
        memcpy(buf, "BBDC-" VEC1, 50);
        buf[i] = (char)(buf[i] ^ 0x20); /* case flip, '-' -> '\r' */
        if (parse_str(buf, &t) != BBT_TOKEN_BAD_LENGTH)
            bad++;
    }
    is_int(bad, 0, "a mangled prefix is refused");
    is_int(parse_str("bbdc-" VEC1, &t), BBT_TOKEN_BAD_LENGTH,
           "lower-case prefix refused");
}

static void test_lengths(void)
{
    char buf[128];
    bbt_token_t t;

    is_int(bbt_token_parse("", 0, &t), BBT_TOKEN_BAD_LENGTH, "empty");
    is_int(bbt_token_parse(NULL, 44, &t), BBT_TOKEN_BAD_LENGTH, "NULL");
    is_int(bbt_token_parse(VEC1, 43, &t), BBT_TOKEN_BAD_LENGTH, "43 chars");
    is_int(parse_str(VEC1 "A", &t), BBT_TOKEN_BAD_LENGTH, "45 chars");
    is_int(parse_str(VEC1 "AAAA", &t), BBT_TOKEN_BAD_LENGTH, "48 chars");
    is_int(parse_str(VEC1 "\n", &t), BBT_TOKEN_BAD_LENGTH, "trailing LF");
    is_int(parse_str(" " VEC1, &t), BBT_TOKEN_BAD_LENGTH, "leading space");
    is_int(parse_str("BBDC-", &t), BBT_TOKEN_BAD_LENGTH, "prefix alone");
    is_int(bbt_token_parse("BBDC-" VEC1, 48, &t), BBT_TOKEN_BAD_LENGTH,
           "prefix and 43 chars");
    is_int(parse_str("BBDC-" VEC1 "A", &t), BBT_TOKEN_BAD_LENGTH,
           "prefix and 45 chars");
    is_int(parse_str("BBDC-BBDC-" VEC1, &t), BBT_TOKEN_BAD_LENGTH,
           "doubled prefix");
    is_int(parse_str("XXXXX" VEC1, &t), BBT_TOKEN_BAD_LENGTH,
           "49 chars without the prefix");
    is_int(parse_str(VEC1 VEC1, &t), BBT_TOKEN_BAD_LENGTH, "88 chars");

    /* Only len bytes are read: trailing garbage outside len is ignored. */
    snprintf(buf, sizeof(buf), "%s!!garbage", VEC1);
    is_int(bbt_token_parse(buf, 44, &t), BBT_TOKEN_OK,
           "bytes past len are not read");
    is_str(t.id, "000000000042", "and the id is right");

    /* The id and raw are zeroed when parsing fails. */
    parse_str(VEC1, &t);
    parse_str(VEC1 "A", &t);
    ok(t.id[0] == '\0' && t.raw[0] == 0, "failed parse clears the output");
}

static void test_not_nul_terminated(void)
{
    char *p = malloc(BBT_TOKEN_MAX_LEN);
    bbt_token_t t;

    if (!p) {
        ok(0, "malloc");
        return;
    }
    memcpy(p, "BBDC-" VEC1, BBT_TOKEN_MAX_LEN); /* no NUL: valgrind checks */
    is_int(bbt_token_parse(p, BBT_TOKEN_MAX_LEN, &t), BBT_TOKEN_OK,
           "parse of an exact, unterminated buffer");
    free(p);
}

static void test_shape(void)
{
    unsigned char rnd[16];
    char body[45];
    bbt_token_t t;
    int i;

    for (i = 0; i < 16; i++)
        rnd[i] = (unsigned char)(i * 17);

    build("123456789012", ':', rnd, "bbtoken-v1:", 0, body);
    is_int(parse_str(body, &t), BBT_TOKEN_OK, "builder: well formed token");
    is_str(t.id, "123456789012", "builder: id");

    build("12345678901a", ':', rnd, "bbtoken-v1:", 0, body);
    is_int(parse_str(body, &t), BBT_TOKEN_BAD_SHAPE,
           "letter in id, valid checksum: BAD_SHAPE");
    build(" 23456789012", ':', rnd, "bbtoken-v1:", 0, body);
    is_int(parse_str(body, &t), BBT_TOKEN_BAD_SHAPE, "space in id");
    build("-23456789012", ':', rnd, "bbtoken-v1:", 0, body);
    is_int(parse_str(body, &t), BBT_TOKEN_BAD_SHAPE, "sign in id");
    build("\xd9"
          "23456789012",
          ':', rnd, "bbtoken-v1:", 0, body);
    is_int(parse_str(body, &t), BBT_TOKEN_BAD_SHAPE, "high byte in id");
    build("123456789012", ';', rnd, "bbtoken-v1:", 0, body);
    is_int(parse_str(body, &t), BBT_TOKEN_BAD_SHAPE, "';' for ':'");
    build("123456789012", '0', rnd, "bbtoken-v1:", 0, body);
    is_int(parse_str(body, &t), BBT_TOKEN_BAD_SHAPE, "13 digits, no ':'");
    build("123456789012", ':', rnd, "bbtoken-v1:", 1, body);
    is_int(parse_str(body, &t), BBT_TOKEN_BAD_CHECKSUM, "one checksum bit");
    build("123456789012", ':', rnd, "", 0, body);
    is_int(parse_str(body, &t), BBT_TOKEN_BAD_CHECKSUM,
           "checksum without the label is refused");
    build("123456789012", ':', rnd, "bbtoken-v2:", 0, body);
    is_int(parse_str(body, &t), BBT_TOKEN_BAD_CHECKSUM,
           "checksum with another label is refused");

    /* 32 bytes encode to 44 characters with one '=': not a token. */
    is_int(parse_str("MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwNDg/w0Lw=", &t),
           BBT_TOKEN_BAD_ALPHABET, "padded 44 chars: BAD_ALPHABET");
    is_int(parse_str("MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwNDg/w0L==", &t),
           BBT_TOKEN_BAD_ALPHABET, "double padding: BAD_ALPHABET");
    is_int(parse_str("MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwNDg_w0LwU", &t),
           BBT_TOKEN_BAD_ALPHABET, "URL-safe '_': BAD_ALPHABET");
    is_int(parse_str("MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwNDg-w0LwU", &t),
           BBT_TOKEN_BAD_ALPHABET, "URL-safe '-': BAD_ALPHABET");
    is_int(parse_str("MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwNDg%2FLwU", &t),
           BBT_TOKEN_BAD_ALPHABET, "percent-encoded '/': BAD_ALPHABET");
    is_int(bbt_token_parse("MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwNDg/w0Lw\0", 44,
                           &t),
           BBT_TOKEN_BAD_ALPHABET, "embedded NUL: BAD_ALPHABET");
}

static void test_status_str(void)
{
    const char *s[5];
    int i, j, distinct = 1, shortish = 1;

    for (i = 0; i < 5; i++) {
        s[i] = bbt_token_status_str((bbt_token_status_t)i);
        if (!s[i] || strlen(s[i]) == 0 || strlen(s[i]) > 60)
            shortish = 0;
    }
    for (i = 0; i < 5 && shortish; i++)
        for (j = i + 1; j < 5; j++)
            if (strcmp(s[i], s[j]) == 0)
                distinct = 0;
    ok(shortish, "every status has a short reason");
    ok(shortish && distinct, "the reasons differ");
    ok(bbt_token_status_str((bbt_token_status_t)99) != NULL,
       "an unknown status still has a string");
}

static void test_salt_hash(void)
{
    char s1[BBT_SALT_HEX_LEN + 1], s2[BBT_SALT_HEX_LEN + 1];
    char h[BBT_HASH_HEX_LEN + 1], h2[BBT_HASH_HEX_LEN + 1];
    char bad[BBT_HASH_HEX_LEN + 2];
    bbt_token_t t, u;

    ok(bbt_salt_generate(s1) == 0 && bbt_salt_generate(s2) == 0,
       "salts generated");
    ok(strlen(s1) == 32 && strspn(s1, "0123456789abcdef") == 32,
       "salt is 32 lower-case hex digits");
    ok(strcmp(s1, s2) != 0, "two salts differ");

    parse_str(VEC1, &t);
    is_int(bbt_token_hash_hex(VEC1_SALT, &t, h), 0, "hash of vector 1");
    is_str(h, VEC1_HASH, "hash matches the independent HMAC-SHA-256");
    is_int(bbt_token_verify(VEC1_SALT, VEC1_HASH, &t), 1,
           "verify: known vector matches");

    /* The thread's HMAC context keeps the last key: the same salt again
     * is hashed under it, a salt one bit away is not. */
    is_int(bbt_token_hash_hex(VEC1_SALT, &t, h), 0, "vector 1 again");
    is_str(h, VEC1_HASH, "  the same hash under the salt the context holds");
    is_int(bbt_token_hash_hex("101112131415161718191a1b1c1d1e1e", &t, h2), 0,
           "vector 1 under a salt whose last bit differs");
    ok(strcmp(h, h2) != 0, "  another hash");
    is_int(bbt_token_verify(VEC1_SALT, VEC1_HASH, &t), 1,
           "  and vector 1's salt after it verifies again");

    is_int(bbt_token_hash_hex(s1, &t, h), 0, "hash under a random salt");
    ok(strlen(h) == 64 && strspn(h, "0123456789abcdef") == 64,
       "hash is 64 lower-case hex digits");
    is_int(bbt_token_hash_hex(s2, &t, h2), 0, "hash under another salt");
    ok(strcmp(h, h2) != 0, "different salts give different hashes");
    is_int(bbt_token_verify(s1, h, &t), 1, "verify: match");
    is_int(bbt_token_verify(s2, h, &t), 0, "verify: wrong salt");

    parse_str(VEC2, &u);
    is_int(bbt_token_verify(s1, h, &u), 0, "verify: another token");

    memcpy(bad, h, sizeof(h));
    bad[63] = bad[63] == '0' ? '1' : '0';
    is_int(bbt_token_verify(s1, bad, &t), 0, "verify: last digit changed");
    memcpy(bad, h, sizeof(h));
    bad[0] = bad[0] == '0' ? '1' : '0';
    is_int(bbt_token_verify(s1, bad, &t), 0, "verify: first digit changed");

    /* Malformed stored values never verify. */
    memcpy(bad, h, sizeof(h));
    bad[63] = '\0';
    is_int(bbt_token_verify(s1, bad, &t), 0, "verify: 63-digit hash");
    memcpy(bad, h, sizeof(h));
    bad[64] = '0';
    bad[65] = '\0';
    is_int(bbt_token_verify(s1, bad, &t), 0, "verify: 65-digit hash");
    is_int(bbt_token_verify(VEC1_SALT,
                            "479F3AF3BF8024F8A328CA8ABA6DD73876635CF9"
                            "5F7992A3DBE1CC3C9668AE4E",
                            &t),
           0, "verify: upper-case hash is malformed");
    is_int(bbt_token_verify(s1, "", &t), 0, "verify: empty hash");
    is_int(bbt_token_verify(s1, NULL, &t), 0, "verify: NULL hash");
    is_int(bbt_token_verify(NULL, h, &t), 0, "verify: NULL salt");
    is_int(bbt_token_verify(s1, h, NULL), 0, "verify: NULL token");
    is_int(bbt_token_verify("", VEC1_HASH, &t), 0, "verify: empty salt");
    is_int(bbt_token_verify("101112131415161718191a1b1c1d1e1", VEC1_HASH, &t),
           0, "verify: 31-digit salt");
    is_int(bbt_token_verify("101112131415161718191a1b1c1d1e1f0", VEC1_HASH, &t),
           0, "verify: 33-digit salt");
    is_int(bbt_token_verify("101112131415161718191A1B1C1D1E1F", VEC1_HASH, &t),
           0, "verify: upper-case salt is malformed");
    is_int(bbt_token_verify("101112131415161718191a1b1c1d1e1g", VEC1_HASH, &t),
           0, "verify: non-hex salt");

    /* The same from bytes, as the lookup's row gives them. */
    {
        unsigned char sb[BBT_SALT_LEN], hb[BBT_HASH_LEN];

        ok(bbt_token_unhex(VEC1_SALT, sb, sizeof(sb)) == 0 &&
               bbt_token_unhex(VEC1_HASH, hb, sizeof(hb)) == 0,
           "unhex: vector 1's salt and hash");
        is_int(sb[0] << 8 | sb[15], 0x101f,
               "  the salt's first and last bytes");
        is_int(bbt_token_verify_raw(sb, hb, &t), 1, "verify_raw: vector 1");
        is_int(bbt_token_verify_raw(sb, hb, &u), 0,
               "verify_raw: another token");
        hb[BBT_HASH_LEN - 1] ^= 1;
        is_int(bbt_token_verify_raw(sb, hb, &t), 0,
               "verify_raw: the hash's last bit changed");
        hb[BBT_HASH_LEN - 1] ^= 1;
        sb[0] ^= 0x80;
        is_int(bbt_token_verify_raw(sb, hb, &t), 0,
               "verify_raw: the salt's first bit changed");
        sb[0] ^= 0x80;
        is_int(bbt_token_verify_raw(sb, hb, NULL), 0, "verify_raw: NULL token");
        is_int(bbt_token_verify_raw(NULL, hb, &t), 0, "verify_raw: NULL salt");
        is_int(bbt_token_unhex("0f", sb, 1) == 0 && sb[0] == 0x0f, 1,
               "unhex: 0f");
        is_int(bbt_token_unhex("0f ", sb, 1), 0,
               "unhex: what follows is the caller's");
        is_int(bbt_token_unhex("0F", sb, 1), -1, "unhex: upper case refused");
        is_int(bbt_token_unhex("0", sb, 1), -1, "unhex: a NUL stops it");
        is_int(bbt_token_unhex("g0", sb, 1), -1, "unhex: not hex");
        is_int(bbt_token_unhex(NULL, sb, 1), -1, "unhex: NULL");
    }

    is_int(bbt_token_hash_hex("xyz", &t, h), -1, "hash: bad salt refused");
    is_str(h, "", "hash: output emptied on failure");
    is_int(bbt_token_hash_hex(NULL, &t, h), -1, "hash: NULL salt refused");
    is_int(bbt_token_hash_hex(VEC1_SALT, NULL, h), -1,
           "hash: NULL token refused");

    bbt_token_wipe(&t);
    {
        static const unsigned char zero[BBT_TOKEN_RAW_LEN];
        ok(memcmp(t.raw, zero, sizeof(zero)) == 0 && t.id[0] == '\0',
           "wipe zeroes id and secret");
    }
    is_int(bbt_token_verify(VEC1_SALT, VEC1_HASH, &t), 0,
           "a wiped token no longer verifies");
    bbt_token_wipe(NULL);
    ok(1, "wipe(NULL) does not crash");
    bbt_token_wipe(&u);
}

/* Decode with a guard region after outcap bytes to catch overruns. */
static int dec(const char *in, size_t len, size_t outcap, unsigned char *out,
               size_t *outlen, int *overrun)
{
    unsigned char buf[256];
    int rv;
    size_t i;

    memset(buf, 0xa5, sizeof(buf));
    rv = bbt_b64_decode_strict(in, len, buf, outcap, outlen);
    *overrun = 0;
    for (i = outcap; i < sizeof(buf); i++)
        if (buf[i] != 0xa5)
            *overrun = 1;
    if (out)
        memcpy(out, buf, outcap < sizeof(buf) ? outcap : sizeof(buf));
    return rv;
}

static void b64_good(const char *in, const char *want)
{
    unsigned char out[256];
    size_t n = 99;
    int over, rv;

    rv = dec(in, strlen(in), strlen(want), out, &n, &over);
    ok(rv == 0 && n == strlen(want) && memcmp(out, want, n) == 0 && !over,
       "base64 '%s' decodes to '%s' (exact buffer)", in, want);
}

static void b64_bad(const char *in, size_t len, const char *name)
{
    size_t n = 99;
    int over, rv;

    rv = dec(in, len, 200, NULL, &n, &over);
    ok(rv == -1 && n == 0, "base64 refused: %s", name);
}

static void test_b64(void)
{
    unsigned char src[64], enc[100], out[256];
    size_t n, len;
    int over, rv, all = 1;

    /* RFC 4648 section 10. */
    b64_good("", "");
    b64_good("Zg==", "f");
    b64_good("Zm8=", "fo");
    b64_good("Zm9v", "foo");
    b64_good("Zm9vYg==", "foob");
    b64_good("Zm9vYmE=", "fooba");
    b64_good("Zm9vYmFy", "foobar");
    b64_good("YWxpY2U6c2VjcmV0", "alice:secret");
    b64_good("+/+/", "\xfb\xff\xbf");

    b64_bad("Zg", 2, "length 2");
    b64_bad("Zg=", 3, "length 3");
    b64_bad("Zm9vY", 5, "length 5");
    b64_bad("Zg===", 5, "three '='");
    b64_bad("Z===", 4, "'Z==='");
    b64_bad("====", 4, "all padding");
    b64_bad("Zm9vYg==Zg==", 12, "padding in the middle");
    b64_bad("Zg==Zm9v", 8, "padding before more data");
    b64_bad("Zm=v", 4, "'=' not at the end");
    b64_bad("Z=g=", 4, "'=' inside the last group");
    b64_bad("Zh==", 4, "non-zero bits under '=='");
    b64_bad("Zm9=", 4, "non-zero bits under '='");
    b64_bad("Zm9v\n", 5, "trailing newline");
    b64_bad("Zm9v\nZm9v", 9, "embedded newline");
    b64_bad(" Zm9", 4, "leading space");
    b64_bad("Zm9 ", 4, "trailing space");
    b64_bad("Zm 9v", 5, "inner space");
    b64_bad("Zm9v\tAAA", 8, "tab");
    b64_bad("Zm9v\0AAA", 8, "embedded NUL");
    b64_bad("Zm-_", 4, "URL-safe alphabet");
    b64_bad("Zm9.", 4, "'.'");
    b64_bad("Zm9\xc3", 4, "high byte");
    b64_bad("Zm9v%3D", 7, "percent-encoding");
    b64_bad(NULL, 4, "NULL input");

    /* outcap is exact: the real bytes must fit, the padding's need not. */
    rv = dec("Zg==", 4, 1, out, &n, &over);
    ok(rv == 0 && n == 1 && out[0] == 'f' && !over,
       "one byte fits in a one-byte buffer");
    rv = dec("Zm8=", 4, 2, out, &n, &over);
    ok(rv == 0 && n == 2 && !over, "two bytes fit in a two-byte buffer");
    rv = dec("Zm9vYmFy", 8, 5, out, &n, &over);
    ok(rv == -1 && !over, "six bytes refused into five");
    rv = dec("Zg==", 4, 0, out, &n, &over);
    ok(rv == -1 && !over, "one byte refused into zero");
    rv = dec("Zm9vYg==", 8, 4, out, &n, &over);
    ok(rv == 0 && n == 4 && memcmp(out, "foob", 4) == 0 && !over,
       "four bytes, padded, into four");

    /* Round trips of every length 0..63 against OpenSSL's encoder. */
    for (len = 0; len < sizeof(src); len++) {
        int m, i;

        for (i = 0; i < (int)len; i++)
            src[i] = (unsigned char)(i * 37 + len * 11);
        m = EVP_EncodeBlock(enc, src, (int)len);
        rv = dec((char *)enc, (size_t)m, len, out, &n, &over);
        if (rv != 0 || n != len || memcmp(out, src, len) != 0 || over) {
            all = 0;
            diag("round trip failed at length %zu", len);
        }
    }
    ok(all, "round trips of lengths 0..63, exact buffers");

    /* With room for the padding's bytes too, as a Basic header's buffer
     * has: decoded in one call, nothing written past the room. */
    for (all = 1, len = 0; len < sizeof(src); len++) {
        int m, i;

        for (i = 0; i < (int)len; i++)
            src[i] = (unsigned char)(i * 41 + len * 7);
        m = EVP_EncodeBlock(enc, src, (int)len);
        rv = dec((char *)enc, (size_t)m, len + 2, out, &n, &over);
        if (rv != 0 || n != len || memcmp(out, src, len) != 0 || over) {
            all = 0;
            diag("round trip with room failed at length %zu", len);
        }
    }
    ok(all, "round trips of lengths 0..63, buffers with room for padding");
    rv = dec("Zh==", 4, 8, out, &n, &over);
    ok(rv == -1 && n == 0 && !over,
       "non-zero bits under '==' refused with room as well");

    /* Every byte value. */
    {
        unsigned char every[256];
        unsigned char e[400];
        unsigned char o[256];
        int i, m;

        for (i = 0; i < 256; i++)
            every[i] = (unsigned char)i;
        m = EVP_EncodeBlock(e, every, 256);
        n = 0;
        rv = bbt_b64_decode_strict((char *)e, (size_t)m, o, sizeof(o), &n);
        ok(rv == 0 && n == 256 && memcmp(o, every, 256) == 0,
           "all 256 byte values round trip");
    }
}

int main(void)
{
    test_vectors();
    test_generate();
    test_mutations();
    test_lengths();
    test_not_nul_terminated();
    test_shape();
    test_status_str();
    test_salt_hash();
    test_b64();
    return done_testing();
}
