/*
 * Token codec: Bitbucket Data Center's personal access token shape.
 *
 *   token  = [ "BBDC-" ] base64( id ":" secret )
 *   id     = 12 random decimal digits (kept as text: leading zeros occur)
 *   secret = 16 random bytes || 4 checksum bytes (a new token's random
 *            bytes are drawn until the base64 has no '+' or '/':
 *            bbt_token_generate)
 *   check  = first 4 bytes of SHA-256( "bbtoken-v1:" || id ":" || random16 )
 *
 * 33 raw bytes encode to exactly 44 characters of standard base64 with no
 * padding, so a token is 44 characters, or 49 with the prefix.  The checksum
 * lets a mistyped or invented token be refused before any cache or database
 * work.  The database keeps only HMAC-SHA-256(salt, raw33).
 *
 * This file knows nothing of httpd, APR or libpq: the module, the CLI and the
 * unit tests all link it.
 */
#ifndef BBT_TOKEN_H
#define BBT_TOKEN_H

#include <stddef.h>

#include "bbt_input.h"

#define BBT_TOKEN_PREFIX "BBDC-"
#define BBT_TOKEN_PREFIX_LEN 5
#define BBT_TOKEN_RANDOM_LEN 16
#define BBT_TOKEN_CHECK_LEN 4
#define BBT_TOKEN_SECRET_LEN (BBT_TOKEN_RANDOM_LEN + BBT_TOKEN_CHECK_LEN)
#define BBT_TOKEN_RAW_LEN (BBT_TOKEN_ID_LEN + 1 + BBT_TOKEN_SECRET_LEN)
#define BBT_TOKEN_B64_LEN 44
#define BBT_TOKEN_MAX_LEN (BBT_TOKEN_PREFIX_LEN + BBT_TOKEN_B64_LEN)
#define BBT_SALT_LEN 16
#define BBT_SALT_HEX_LEN (2 * BBT_SALT_LEN)
#define BBT_HASH_LEN 32
#define BBT_HASH_HEX_LEN (2 * BBT_HASH_LEN)

/* A parsed token.  raw holds the secret: wipe it with bbt_token_wipe(). */
typedef struct {
    char id[BBT_TOKEN_ID_LEN + 1];
    unsigned char raw[BBT_TOKEN_RAW_LEN];
} bbt_token_t;

typedef enum {
    BBT_TOKEN_OK = 0,
    BBT_TOKEN_BAD_LENGTH,   /* not 44 or 49 characters */
    BBT_TOKEN_BAD_ALPHABET, /* a character outside standard base64 */
    BBT_TOKEN_BAD_SHAPE,    /* decodes, but not 12 digits ":" 20 bytes */
    BBT_TOKEN_BAD_CHECKSUM, /* well formed, but the checksum is wrong */
    BBT_TOKEN_CHECK_FAILED  /* well formed, but its checksum could not be
                               computed (OpenSSL failed: out of memory):
                               no verdict on the token, never a refusal */
} bbt_token_status_t;

/* Parse len bytes at s (with or without the prefix).  Never reads past len;
 * s need not be NUL-terminated.  On success fills *out. */
bbt_token_status_t bbt_token_parse(const char *s, size_t len, bbt_token_t *out);

/* The same but for the checksum: BBT_TOKEN_OK means well formed, its
 * checksum not looked at; bbt_token_checksum_ok looks: 1 right, 0 wrong, or
 * -1 if SHA-256 failed (which says nothing of the token: a caller answers
 * a server error, not a refusal).  For a caller that finds a token it has
 * seen pass the checksum before (the cache, whose key covers every byte)
 * without checking again. */
bbt_token_status_t bbt_token_parse_unchecked(const char *s, size_t len,
                                             bbt_token_t *out);
int bbt_token_checksum_ok(const bbt_token_t *tok);

/* A short English reason for a status, for logs and error bodies. */
const char *bbt_token_status_str(bbt_token_status_t st);

/* Make a new token from OpenSSL's CSPRNG.  out receives the NUL-terminated
 * token with its prefix (BBT_TOKEN_MAX_LEN + 1 bytes), id the id.  A new
 * token has neither '+' nor '/', which a URL would have to encode.
 * Returns 0 on success, -1 if the random generator failed. */
int bbt_token_generate(char out[BBT_TOKEN_MAX_LEN + 1],
                       char id[BBT_TOKEN_ID_LEN + 1]);

/* A new random salt as lower-case hex (BBT_SALT_HEX_LEN + 1 bytes).
 * Returns 0 on success, -1 if the random generator failed. */
int bbt_salt_generate(char hex[BBT_SALT_HEX_LEN + 1]);

/* HMAC-SHA-256(salt, raw) as lower-case hex.  salt_hex must be
 * BBT_SALT_HEX_LEN hex digits.  Returns 0, or -1 on bad salt or if the
 * HMAC failed. */
int bbt_token_hash_hex(const char *salt_hex, const bbt_token_t *tok,
                       char out[BBT_HASH_HEX_LEN + 1]);

/* 1 if the token hashes to hash_hex under salt_hex, else 0.  The comparison
 * is constant time; malformed stored values (and a NULL argument) compare
 * unequal.  -1 if the HMAC itself failed (OpenSSL, out of memory): neither
 * a match nor a mismatch, and never to be taken for a wrong secret. */
int bbt_token_verify(const char *salt_hex, const char *hash_hex,
                     const bbt_token_t *tok);

/* The same, the HMAC keyed again whatever this thread hashed last: the
 * same work under every salt.  bbt_token_verify spares the keying when the
 * salt is the one before (half a hash), so a run of checks under one salt,
 * the dummy one of ids that do not exist, costs less than checks under
 * each row's own: where which tokens exist must not show (revoke-by-value
 * answers many in one request), this one. */
int bbt_token_verify_fresh(const char *salt_hex, const char *hash_hex,
                           const bbt_token_t *tok);

/* The same with the salt and hash as bytes (a row the caller decoded). */
int bbt_token_verify_raw(const unsigned char salt[BBT_SALT_LEN],
                         const unsigned char hash[BBT_HASH_LEN],
                         const bbt_token_t *tok);

/* Decode exactly 2n lower-case hex digits, hex[0..2n), into out[0..n): 0,
 * or -1 if any is not one (nothing read past a NUL).  What follows them is
 * the caller's to check. */
int bbt_token_unhex(const char *hex, unsigned char *out, size_t n);

/* A new token and what the database stores of it. */
typedef struct {
    char token[BBT_TOKEN_MAX_LEN + 1]; /* shown once, to its owner */
    char id[BBT_TOKEN_ID_LEN + 1];
    char salt[BBT_SALT_HEX_LEN + 1];
    char hash[BBT_HASH_HEX_LEN + 1]; /* HMAC-SHA-256(salt, raw) */
} bbt_minted_t;

/* The reason OpenSSL gave for its last failure on this thread, or a
 * fixed text where it gave none; the thread's error queue is emptied, so
 * that a later failure is not told this one's reason. */
const char *bbt_token_crypto_why(void);

/* Make a new token with a fresh salt and its hash: the one way the CLI and
 * the REST API make tokens.  Returns 0, or -1 if the random generator or
 * the hash failed (then *out holds nothing).  Wipe with bbt_minted_wipe. */
int bbt_token_mint(bbt_minted_t *out);

void bbt_minted_wipe(bbt_minted_t *m);

/* Burn a token's secret bytes. */
void bbt_token_wipe(bbt_token_t *tok);

/* The 6-bit value of a character of standard base64, or -1. */
int bbt_b64_digit(unsigned char c);

/* Strict standard base64 (RFC 4648 section 4) decoding: length a multiple of
 * 4, padding only at the end, no whitespace, no other characters.  Writes at
 * most outcap bytes and sets *outlen.  Returns 0, or -1 on any fault. */
int bbt_b64_decode_strict(const char *in, size_t len, unsigned char *out,
                          size_t outcap, size_t *outlen);

#endif
