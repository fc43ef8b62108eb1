/*
 * Text that holds a token, right or wrong (bbt_tokshape.c): a token, with
 * its prefix or without, with what it was pasted with, with any one
 * character mistyped, left out or added, cut short down to its first 29
 * characters; and never a password of random characters, nor base64 of
 * anything else.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "bbt_token.h"
#include "bbt_tokshape.h"
#include "tap.h"

#define BODY BBT_TOKEN_B64_LEN

static int shaped(const char *s)
{
    return bbt_token_shaped(s, strlen(s));
}

static int in_text(const char *s)
{
    return bbt_token_in_text(s, strlen(s));
}

static int in_name(const char *s)
{
    return bbt_token_in_name(s, strlen(s));
}

static void test_pasted(void)
{
    static const char tok[] = "MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwNDg/w0LwU";
    static const char typo[] = "MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwNDg/w0LwV";

    ok(shaped(tok), "shaped: a token");
    ok(shaped(typo), "shaped: a token with a wrong checksum (mistyped)");
    ok(shaped("BBDC-"), "shaped: the prefix alone");
    ok(shaped("BBDC-anything"), "shaped: the prefix and more");
    ok(!in_text("BBDC-") && !in_text("BBDC-deploy") &&
           !in_text("BBDC-MDAwMDAwMDAwMDQyOgABAgMEBQ"),
       "  but in text, no token: the prefix, a word after it, or a token "
       "cut to 26 characters after it");
    ok(!in_name("BBDC-deploy") && !in_name("BBDC-Jenkins") &&
           !in_name("bbdc-svc") && !in_name("BBDC-prod read-only") &&
           !in_name("deploy (BBDC-1234)") && !in_name("BBDC"),
       "  nor in a name");
    ok(!shaped("alice"), "not shaped: a user name");
    ok(!shaped("BBD"), "not shaped: less than the prefix");
    ok(!shaped("YWxpY2UtbGFwdG9wLXdpdGgtYS12ZXJ5LWxvbmctbmFtZQ"),
       "not shaped: base64 of something else");
    ok(!bbt_token_shaped(NULL, 0), "not shaped: NULL");
    ok(shaped("  BBDC-x"), "shaped: the prefix after spaces");
    ok(shaped(" MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwNDg/w0LwU "),
       "shaped: a token between spaces");
    ok(shaped("bbdc-MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwNDg/w0LwU"),
       "shaped: a token with its prefix in lower case");
    ok(shaped("Bearer \"BBDC-MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwNDg/w0LwV\""),
       "shaped: a mistyped token in quotes after its scheme");
    ok(shaped("xMDAwMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwNDg/w0LwUx"),
       "shaped: a token run together with other base64 characters");
    ok(!shaped("bbdc-x"), "not shaped: bbdc- with no token");
    ok(!shaped("x BBDC-x"),
       "not shaped: the prefix after other text, with no token");
    ok(shaped("MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwNDg/w0Lw"),
       "shaped: a token's first 43 characters");
    ok(shaped("MDAwMDAwMDAwMDQyOgABAgMEBQYHC"),
       "shaped: its first 29 characters");
    ok(!shaped("MDAwMDAwMDAwMDQyOgABAgMEBQYH"),
       "not shaped: its first 28 (the id and 64 of the secret's bits)");
    ok(shaped("MDAxMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwNDg/w0LwU"),
       "shaped: a typo in its id that keeps it digits");
    ok(shaped("MDAwMD.wMDAwMDQyOgABAgMEBQYHCAkKCwwNDg/w0LwU"),
       "shaped: a character of its id typed as a dot");
    ok(shaped("MDAwMDAwMDAwMDQyOgABAgMEBQYH\0AkKCwwNDg/w0LwU") == 0,
       "a C string ends at its NUL (the 28 characters before it)");
    ok(bbt_token_shaped("MDAwMDAwMDAwMDQyOgABAgMEBQYH\0AkKCwwNDg/w0LwU", BODY),
       "  but as bytes, a NUL in its secret is one character mistyped");
}

/* Every token edited once, every way: each is shaped. */
static void test_edits(void)
{
    char full[BBT_TOKEN_MAX_LEN + 1], id[BBT_TOKEN_ID_LEN + 1];
    char buf[BODY + 2];
    const char *body = full + BBT_TOKEN_PREFIX_LEN;
    /* Each token takes every path, each edit of it at every place: under
     * memcheck (tap.h) two tokens. */
    int tokens = tap_memcheck() ? 2 : 16;
    int t, c, missed = 0, tried = 0, generated = 1;
    size_t i;

    for (t = 0; t < tokens; t++) {
        if (bbt_token_generate(full, id) != 0) {
            generated = 0;
            break;
        }
        for (i = 0; i < BODY; i++) {
            for (c = 0; c < 256; c++) {
                memcpy(buf, body, BODY);
                buf[i] = (char)c;
                missed += !bbt_token_shaped(buf, BODY);
                tried++;
            }
            memcpy(buf, body, i);
            memcpy(buf + i, body + i + 1, BODY - i - 1);
            missed += !bbt_token_shaped(buf, BODY - 1);
            tried++;
        }
        for (i = 0; i <= BODY; i++) {
            for (c = 0; c < 256; c++) {
                memcpy(buf, body, i);
                buf[i] = (char)c;
                memcpy(buf + i + 1, body + i, BODY - i);
                missed += !bbt_token_shaped(buf, BODY + 1);
                tried++;
            }
        }
        for (i = BBT_TOKSHAPE_LEN - 1; i <= BODY; i++) {
            missed += !bbt_token_shaped(body, i);
            tried++;
        }
    }
    ok(generated, "%d tokens generated", tokens);
    ok(missed == 0 && tried > tokens * 20000,
       "every one mistyped (any byte), missing or added a character, or "
       "cut to 29 characters or more: shaped (%d of %d missed)",
       missed, tried);
}

/* A reproducible stream, for the same strings in every run. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* What is not a token stays unrecognised: a password manager's random
 * base64 (openssl rand -base64 33 and longer), random printable
 * passwords, base64 of hashes and of ASCII text with digits. */
static void test_not_tokens(void)
{
    unsigned char raw[96];
    char s[160];
    /* Under memcheck (tap.h) a fiftieth: every length, still. */
    int scale = tap_memcheck() ? 50 : 1;
    int n, k, found = 0;
    size_t j;

    for (n = 0; n < 100000 / scale; n++) {
        for (j = 0; j < sizeof(raw); j++)
            raw[j] = (unsigned char)next();
        EVP_EncodeBlock((unsigned char *)s, raw, 33 + n % 64);
        found += shaped(s);
    }
    ok(found == 0, "random base64 of 44 to 128 characters: none (%d)", found);
    for (found = 0, n = 0; n < 100000 / scale; n++) {
        for (j = 0; j < 64; j++)
            s[j] = (char)(' ' + next() % 95);
        s[64] = '\0';
        found += shaped(s) && strstr(s, "BBDC-") == NULL;
    }
    ok(found == 0, "random printable passwords of 64: none (%d)", found);
    for (found = 0, n = 0; n < 20000 / scale; n++) {
        k = snprintf((char *)raw, sizeof(raw),
                     "order %d placed 2026-12-04T15:%02d:%02d by 1234567%d", n,
                     n % 60, (n / 60) % 60, n % 10);
        EVP_EncodeBlock((unsigned char *)s, raw, k);
        found += shaped(s);
    }
    ok(found == 0, "base64 of text with dates and numbers: none (%d)", found);
}

/* mask(s, size): bbt_token_mask on a copy of s in a buffer of size. */
static const char *mask(const char *s, size_t size, int *hidden)
{
    static char buf[512];

    snprintf(buf, sizeof(buf), "%s", s);
    *hidden = bbt_token_mask(buf, size);
    return buf;
}

/* A server's message with a token in it: the token's word hidden, the
 * words and punctuation around it kept. */
static void test_mask(void)
{
    static const char tok[] =
        "BBDC-MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwNDg/w0LwU";
    char in[256], want[256];
    int hidden;

    is_str(mask("user alice already has 1 live tokens", 512, &hidden),
           "user alice already has 1 live tokens", "no token: unchanged");
    ok(!hidden, "  and said so");
    snprintf(in, sizeof(in), "user %s2 already has 1 live tokens", tok);
    is_str(mask(in, 512, &hidden),
           "user " BBT_TOKSHAPE_HIDDEN " already has 1 live tokens",
           "a user named like a token: its word hidden");
    ok(hidden, "  and said so");
    snprintf(in, sizeof(in),
             "user alice already has a token named '%s': "
             "token 000000000042",
             tok + 5);
    is_str(mask(in, 512, &hidden),
           "user alice already has a token named '" BBT_TOKSHAPE_HIDDEN
           "': token 000000000042",
           "a token's name quoted: its quotes and colon kept");
    snprintf(in, sizeof(in), "user is disabled: %s", tok);
    is_str(mask(in, 512, &hidden), "user is disabled: " BBT_TOKSHAPE_HIDDEN,
           "at the end");
    snprintf(in, sizeof(in), "Key (user_id, name)=(5, %s) already exists.",
             tok);
    is_str(mask(in, 512, &hidden),
           "Key (user_id, name)=(5, " BBT_TOKSHAPE_HIDDEN ") already exists.",
           "a DETAIL's row");
    snprintf(in, sizeof(in), "no such user: %.20s %s", tok + 5, tok + 25);
    is_str(mask(in, 512, &hidden), "no such user: " BBT_TOKSHAPE_HIDDEN,
           "a token with a space typed into it: both its words hidden");
    snprintf(in, sizeof(in), "user %s x", tok);
    snprintf(want, sizeof(want), "user %s", BBT_TOKSHAPE_HIDDEN);
    want[20] = '\0';
    is_str(mask(in, 21, &hidden), want, "cut to fit its buffer");
    is_str(mask(tok, 4, &hidden), "(no", "  however small");
    ok(!bbt_token_mask(NULL, 8), "NULL: nothing hidden");
    is_str(mask("user 'BBDC-deploy' is disabled: BBDC-", 512, &hidden),
           "user 'BBDC-deploy' is disabled: BBDC-",
           "the prefix without a token: kept");
    ok(!hidden, "  and said so");
    is_str(mask("user alice already has a token named 'deploy (BBDC-1234)': "
                "token 000000000042",
                512, &hidden),
           "user alice already has a token named 'deploy (BBDC-1234)': "
           "token 000000000042",
           "a name with the prefix inside: kept whole");
}

/* A token with white space typed into it, at every place in it, with or
 * without its prefix: nothing of it is left but what follows its first
 * 30 characters (never 16 in a row), and the words around it are kept. */
static void test_mask_split(void)
{
    static const char body[] = "MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwNDg/w0LwU";
    static const char *const spaces[] = {
        " ",        "  ",           "\t",           "\n",          " \r\n",
        "\xc2\xa0", "\xe2\x80\x89", "\xe2\x80\xaf", "\xe3\x80\x80"};
    static const char *const prefixes[] = {"", "BBDC-", "bbdc-", "BB DC-"};
    char in[256], out[512], run[17];
    size_t cut, k, sp, pre, left = 0, tried = 0, moved = 0, kept = 0;
    int hidden;

    for (pre = 0; pre < 4; pre++) {
        for (sp = 0; sp < sizeof(spaces) / sizeof(*spaces); sp++) {
            for (cut = 1; cut < BODY; cut++) {
                snprintf(in, sizeof(in), "no such user: %s%.*s%s%s x",
                         prefixes[pre], (int)cut, body, spaces[sp], body + cut);
                snprintf(out, sizeof(out), "%s", mask(in, 256, &hidden));
                for (k = 0; k + 16 <= BODY; k++) {
                    memcpy(run, body + k, 16);
                    run[16] = '\0';
                    left += strstr(out, run) != NULL;
                }
                moved += strncmp(out, "no such user: ", 14) != 0 ||
                         strcmp(out + strlen(out) - 2, " x") != 0 ||
                         (pre == 3 && strncmp(out + 14, "BB ", 3) != 0) ||
                         !hidden;
                /* Not a character of it left, however late the split. */
                kept += pre != 3 &&
                        strcmp(out, "no such user: " BBT_TOKSHAPE_HIDDEN " x");
                tried++;
            }
        }
    }
    ok(left == 0,
       "split anywhere, by any white space: no 16 characters of "
       "it left (%zu of %zu)",
       left, tried);
    ok(moved == 0, "  the words around it kept (%zu of %zu not)", moved, tried);
    ok(kept == 0, "  and nothing of it kept (%zu of %zu)", kept, tried);
    snprintf(
        in, sizeof(in),
        "no such user: BBDC-MDAwMDAwMDAwMDQyO gABAgMEBQYHCAkKCwwNDg/w0LwU");
    is_str(mask(in, 256, &hidden), "no such user: " BBT_TOKSHAPE_HIDDEN,
           "split after its prefix and 17 characters: both halves hidden");
    snprintf(in, sizeof(in),
             "user MDAwM DAwMD AwMDQyOgAB AgMEBQYHCAkKCwwNDg/w0LwU x");
    is_str(mask(in, 256, &hidden), "user " BBT_TOKSHAPE_HIDDEN " x",
           "split three times: all of it hidden, once");
}

/* A token with a character of Unicode's White_Space that is not ASCII
 * typed into it, at any place: no name, and found in text. */
static void test_unicode_space(void)
{
    static const char body[] = "MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwNDg/w0LwU";
    static const char *const spaces[] = {"\xc2\xa0", "\xe2\x80\x89",
                                         "\xe2\x80\xaf", "\xe3\x80\x80",
                                         "\xc2\xa0\xe3\x80\x80 "};
    static const char *const prefixes[] = {"", "BBDC-", "deploy "};
    char in[256];
    size_t cut, sp, pre, missed = 0, tried = 0;

    for (pre = 0; pre < 3; pre++) {
        for (sp = 0; sp < sizeof(spaces) / sizeof(*spaces); sp++) {
            for (cut = 1; cut < BODY; cut++) {
                snprintf(in, sizeof(in), "%s%.*s%s%s", prefixes[pre], (int)cut,
                         body, spaces[sp], body + cut);
                missed += !in_name(in) || !in_text(in);
                tried++;
            }
        }
    }
    ok(missed == 0,
       "split by U+00A0, U+2009, U+202F, U+3000: found (%zu of "
       "%zu not)",
       missed, tried);
    ok(!in_name("deploy\xc2\xa0key") && !in_name("\xe3\x80\x80"
                                                 "BBDC-deploy"),
       "names with such spaces are names");
}

/* A name bbt_token_in_name takes is kept whole in every message that
 * quotes one, and one whose words the mask would hide it does not take. */
static void test_names(void)
{
    static const char *const quoted[][2] = {
        {"user ", " already has 1 live tokens, the most the token policy "
                  "allows (revoke one first)"},
        {"user alice already has a token named '", "': token 000000000042"},
        {"no such user: ", ""},
        {"not permitted: ", " is not an active user"},
        {"Key (user_id, name)=(5, ", ") already exists."},
    };
    static const char *const names[] = {
        "deploy", "BBDC-deploy", "BBDC-Jenkins", "BBDC-prod read-only",
        "deploy (BBDC-1234)", "Bitbucket BBDC-migration", "BBDC-", "BBDC",
        /* A token's id in base64 but one character */
        "MDAwMDAwMDAwMDQ", "ci MDAwMDAwMDAwMDQ", "MDAwMDAwMDAwMDQy-ci"};
    static const char *const refused[] = {
        "MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwNDg/w0LwU",
        "BBDC-MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwNDg/w0LwU",
        "BBDC-MDAwMDAwMDAwMDQyO gABAgMEBQYHCAkKCwwNDg/w0LwU",
        "deploy (BBDC-MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkK)",
        "MDAwMDAwMDAwMDQyOgABAgMEBQYHC",
        /* What " already has ..." would make a token of */
        "MDAwMDAwMDAwMDQyOgABAg", "MDAwMDAwMDAwMDQy", "x MDAwMDAwMDAwMDQy'",
        "MDAwMDAwMDAwMDQyOg "};
    char in[512];
    size_t i, q, changed = 0;
    int hidden;

    for (i = 0; i < sizeof(names) / sizeof(*names); i++) {
        ok(!in_name(names[i]), "a name: '%s'", names[i]);
        for (q = 0; q < sizeof(quoted) / sizeof(*quoted); q++) {
            snprintf(in, sizeof(in), "%s%s%s", quoted[q][0], names[i],
                     quoted[q][1]);
            changed += strcmp(mask(in, 512, &hidden), in) != 0 || hidden;
        }
    }
    ok(changed == 0, "each kept whole where a message quotes it (%zu not)",
       changed);
    for (i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
        ok(in_name(refused[i]), "not a name: '%.22s...'", refused[i]);
    }
    snprintf(in, sizeof(in), "user %s already has 1 live tokens", refused[5]);
    ok(strcmp(mask(in, 512, &hidden), in) != 0,
       "  which, quoted, a message would not show");
}

int main(void)
{
    test_pasted();
    test_edits();
    test_not_tokens();
    test_mask();
    test_mask_split();
    test_names();
    test_unicode_space();
    return done_testing();
}
