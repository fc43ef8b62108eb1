/*
 * The README's regular expression for secret scanners against the token
 * codec: what the expression matches is exactly what bbt_token_parse takes
 * for a token's shape (twelve digits, a colon, twenty bytes), so a scanner
 * that adds the checksum finds every token and nothing the module would
 * refuse as malformed.  The expression is read from the README (argv[1],
 * or ./README), as a reader copies it.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "bbt_token.h"
#include "tap.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#define NRAND 20000

/* The indented line beginning "BBDC-" that follows "For secret
 * scanners" in the README, into rx; 0, or -1. */
static int readme_regex(const char *path, char *rx, size_t cap)
{
    FILE *f = fopen(path, "r");
    char line[512];
    int seen = 0, rc = -1;

    if (!f) {
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        char *s = line + strspn(line, " ");

        if (strstr(line, "For secret scanners")) {
            seen = 1;
        } else if (seen && s != line && strncmp(s, "BBDC-", 5) == 0) {
            s[strcspn(s, "\r\n")] = '\0';
            if (strlen(s) < cap) {
                strcpy(rx, s);
                rc = 0;
            }
            break;
        }
    }
    fclose(f);
    return rc;
}

static int matches(pcre2_code *re, pcre2_match_data *md, const char *s)
{
    return pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, md, NULL) >= 0;
}

/* A byte near a digit's: the digits, the colon and their neighbours in
 * the same base64 letters ('/', ';' to '?'), a digit most often. */
static unsigned char near_digit(void)
{
    static const char near[] = "/:;<=>?";
    unsigned char b;

    RAND_bytes(&b, 1);
    if (b < 240) {
        return (unsigned char)('0' + b % 10);
    }
    return (unsigned char)near[b % (sizeof(near) - 1)];
}

/* The separator: the colon most often, else a neighbour or a digit. */
static unsigned char near_colon(void)
{
    unsigned char b;

    RAND_bytes(&b, 1);
    return b < 224 ? ':' : near_digit();
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "README";
    char rx[256], tok[BBT_TOKEN_MAX_LEN + 1];
    unsigned char raw[BBT_TOKEN_RAW_LEN];
    pcre2_code *re;
    pcre2_match_data *md;
    int err, i, j, shaped = 0, disagree = 0, missed = 0;
    /* Under memcheck (tap.h) a tenth of the strings and tokens. */
    int nrand = tap_memcheck() ? NRAND / 10 : NRAND;
    int nminted = nrand / 10;
    PCRE2_SIZE off;
    bbt_token_t t;

    if (readme_regex(path, rx, sizeof(rx)) != 0) {
        ok(0, "the README holds the scanners' expression");
        return done_testing();
    }
    diag("README: %s", rx);
    re = pcre2_compile((PCRE2_SPTR)rx, PCRE2_ZERO_TERMINATED, PCRE2_ANCHORED,
                       &err, &off, NULL);
    ok(re != NULL, "the expression compiles");
    if (!re) {
        return done_testing();
    }
    md = pcre2_match_data_create_from_pattern(re, NULL);
    memcpy(tok, BBT_TOKEN_PREFIX, BBT_TOKEN_PREFIX_LEN);

    /* Strings whose first 13 bytes are digits or their neighbours: what
     * the expression matches is what the codec takes for a shape. */
    for (i = 0; i < nrand; i++) {
        int want, got;

        for (j = 0; j < BBT_TOKEN_ID_LEN; j++) {
            raw[j] = near_digit();
        }
        raw[BBT_TOKEN_ID_LEN] = near_colon();
        RAND_bytes(raw + BBT_TOKEN_ID_LEN + 1, BBT_TOKEN_SECRET_LEN);
        EVP_EncodeBlock((unsigned char *)tok + BBT_TOKEN_PREFIX_LEN, raw,
                        BBT_TOKEN_RAW_LEN);
        want = bbt_token_parse_unchecked(tok, strlen(tok), &t) == BBT_TOKEN_OK;
        got = matches(re, md, tok);
        shaped += want;
        disagree += want != got;
    }
    diag("%d of %d strings shaped", shaped, nrand);
    ok(shaped > nrand / 20 && shaped < nrand - nrand / 20,
       "the strings tried hold shapes and near misses");
    is_int(disagree, 0,
           "the expression matches a string exactly when the "
           "codec takes it for a token's shape");

    /* Tokens as the module mints them: every one matches. */
    for (i = 0; i < nminted; i++) {
        char id[BBT_TOKEN_ID_LEN + 1];

        if (bbt_token_generate(tok, id) != 0 || !matches(re, md, tok)) {
            missed++;
        }
    }
    is_int(missed, 0, "every minted token matches");

    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return done_testing();
}
