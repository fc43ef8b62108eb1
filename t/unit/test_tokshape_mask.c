/*
 * bbt_token_mask, bbt_token_in_text and bbt_token_in_name against the
 * plainest reading of their rules (bbt_tokshape.c): every byte of the text
 * tried as a token's start, every word walked again for each token found
 * in it, white space decoded at every byte.  The module's own reading
 * remembers what it learnt of a word and of a byte; over texts made of
 * tokens (whole, mistyped, cut short, split by white space, run on), their
 * ids repeated, quotes, punctuation and words, it must find, hide and
 * keep exactly what the plain reading does, in a buffer of any size.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "bbt_input.h"
#include "bbt_token.h"
#include "bbt_tokshape.h"
#include "tap.h"

/* The plain reading: bbt_tokshape.c as it was before it remembered
 * anything, its comments there. */
#define REF_NONE ((size_t)-1)
#define REF_HIDDEN_LEN (sizeof(BBT_TOKSHAPE_HIDDEN) - 1)

typedef struct {
    size_t first, end;
} ref_span_t;

static int ref_fits(unsigned char c, size_t j)
{
    int v = bbt_b64_digit(c);

    if (v < 0)
        return 0;
    if (j >= 18)
        return 1;
    if (j == 16)
        return v == 14;
    if (j == 17)
        return v >= 32 && v <= 47;
    switch (j % 4) {
    case 0:
        return v >= 12 && v <= 14;
    case 1:
        return (v & 15) == 3;
    case 2:
        return v % 4 == 0 && v <= 36;
    default:
        return v >= 48 && v <= 57;
    }
}

static size_t ref_space(const char *s, size_t n, size_t i)
{
    return i < n ? bbt_input_white_space(s + i, n - i) : 0;
}

static int ref_space_before(const char *s, size_t i)
{
    size_t k;

    for (k = 1; k <= 3 && k <= i; k++) {
        if (bbt_input_white_space(s + i - k, k) == k)
            return 1;
    }
    return 0;
}

static size_t ref_skip(const char *s, size_t n, size_t i)
{
    size_t w;

    while ((w = ref_space(s, n, i)) > 0)
        i += w;
    return i;
}

static int ref_rest(const char *s, size_t n, size_t i, size_t j, int open,
                    ref_span_t *sp)
{
    for (; j < BBT_TOKSHAPE_LEN; j++, i++) {
        i = ref_skip(s, n, i);
        if (i >= n)
            return open && j >= BBT_TOKSHAPE_OPEN_LEN;
        if (!ref_fits((unsigned char)s[i], j))
            return 0;
        if (sp->first == REF_NONE)
            sp->first = i;
        sp->end = i + 1;
    }
    return 1;
}

static int ref_at(const char *s, size_t n, size_t i, int open, ref_span_t *sp)
{
    ref_span_t read = {REF_NONE, 0}, tried;
    size_t j = 0;

    for (; j < BBT_TOKSHAPE_LEN; j++, i++) {
        i = ref_skip(s, n, i);
        if (i >= n || !ref_fits((unsigned char)s[i], j))
            break;
        if (read.first == REF_NONE)
            read.first = i;
        read.end = i + 1;
    }
    if (j == BBT_TOKSHAPE_LEN ||
        (i >= n &&
         (j + 1 == BBT_TOKSHAPE_LEN || (open && j >= BBT_TOKSHAPE_OPEN_LEN)))) {
        *sp = read;
        return 1;
    }
    if (i >= n)
        return 0;
    tried = read;
    if (ref_rest(s, n, i + 1, j + 1, open, &tried) ||
        (tried = read, ref_rest(s, n, i, j + 1, open, &tried)) ||
        (tried = read, ref_rest(s, n, i + 1, j, open, &tried))) {
        *sp = tried;
        return 1;
    }
    return 0;
}

static int ref_in(const char *s, size_t len, int open)
{
    ref_span_t sp;
    size_t i;

    for (i = 0; i < len; i++) {
        if (!ref_space(s, len, i) && ref_at(s, len, i, open, &sp))
            return 1;
    }
    return 0;
}

static size_t ref_word_from(const char *s, size_t p)
{
    size_t w = p;

    while (w > 0 && !ref_space_before(s, w))
        w--;
    while (w < p && strchr("'\"(", s[w]))
        w++;
    return w;
}

static size_t ref_word_to(const char *s, size_t n, size_t e)
{
    size_t w = e;

    while (w < n && !ref_space(s, n, w))
        w++;
    while (w > e && strchr("'\"),.:;", s[w - 1]))
        w--;
    return w;
}

static size_t ref_tail(const char *s, size_t n, size_t e)
{
    size_t i = e, j;

    for (j = BBT_TOKSHAPE_LEN; j < BBT_TOKEN_B64_LEN; j++, i++) {
        i = ref_skip(s, n, i);
        if (i >= n || bbt_b64_digit((unsigned char)s[i]) < 0)
            break;
        e = i + 1;
    }
    return e;
}

static int ref_stretch(const char *s, size_t n, size_t i, size_t *from,
                       size_t *to)
{
    ref_span_t sp;
    size_t f, t, start = i;
    int found = 0;

    for (; i < n && (!found || i < *to); i++) {
        if (ref_space(s, n, i) || !ref_at(s, n, i, 0, &sp))
            continue;
        f = ref_word_from(s, sp.first);
        t = ref_word_to(s, n, ref_tail(s, n, sp.end));
        if (!found) {
            *from = f < start ? start : f;
            *to = t;
            found = 1;
        } else if (f > *to) {
            break;
        } else if (t > *to) {
            *to = t;
        }
    }
    return found;
}

static size_t ref_hide(char *buf, size_t size, size_t len, size_t from,
                       size_t to, size_t *after)
{
    size_t m = REF_HIDDEN_LEN, tail = len - to;

    if (from + m > size - 1)
        m = size - 1 - from;
    if (from + m + tail > size - 1)
        tail = size - 1 - from - m;
    memmove(buf + from + m, buf + to, tail);
    memcpy(buf + from, BBT_TOKSHAPE_HIDDEN, m);
    buf[from + m + tail] = '\0';
    *after = from + m;
    return from + m + tail;
}

static int ref_mask(char *buf, size_t size)
{
    size_t len = strlen(buf), i = 0, from = 0, to = 0;
    int hidden = 0;

    while (ref_stretch(buf, len, i, &from, &to)) {
        len = ref_hide(buf, size, len, from, to, &i);
        hidden = 1;
    }
    if (hidden && ref_in(buf, len, 0))
        ref_hide(buf, size, len, 0, len, &i);
    return hidden;
}

/* A reproducible stream, for the same texts in every run. */
static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static size_t pick(size_t n)
{
    return (size_t)(next() % n);
}

/* A token's body: an id of twelve digits (zeros, one digit repeated, or
 * any), a colon and a random secret, in base64. */
static void make_body(char *body)
{
    unsigned char raw[BBT_TOKEN_RAW_LEN];
    size_t i, kind = pick(3);
    char d = (char)('0' + pick(10));

    for (i = 0; i < BBT_TOKEN_ID_LEN; i++) {
        raw[i] = kind == 0 ? '0' : kind == 1 ? d : (char)('0' + pick(10));
    }
    raw[BBT_TOKEN_ID_LEN] = ':';
    for (i = BBT_TOKEN_ID_LEN + 1; i < BBT_TOKEN_RAW_LEN; i++) {
        raw[i] = (unsigned char)next();
    }
    EVP_EncodeBlock((unsigned char *)body, raw, BBT_TOKEN_RAW_LEN);
}

/* Unicode's White_Space, some of it twice; then what is not: a lead byte
 * alone, a sequence cut short, controls and a zero-width space. */
#define SPACES 13
static const char *const spaces[] = {" ",
                                     "  ",
                                     "\t",
                                     "\n",
                                     "\r\n",
                                     "\v",
                                     "\f",
                                     "\xc2\xa0",
                                     "\xc2\x85",
                                     "\xe1\x9a\x80",
                                     "\xe2\x80\x89",
                                     "\xe2\x80\xaf",
                                     "\xe3\x80\x80",
                                     "\xc2",
                                     "\xe3\x80",
                                     "\x1c",
                                     "\x1f",
                                     "\xe2\x80\x8b"};

/* Appends at most cap - 1 - *len bytes of s to out. */
static void put(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    if (n > cap - 1 - *len)
        n = cap - 1 - *len;
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
}

/* A token as pasted or typed: maybe its prefix, maybe cut short, one
 * character mistyped, left out or added, white space typed into it. */
static void put_token(char *out, size_t cap, size_t *len)
{
    char body[BBT_TOKEN_B64_LEN + 1], t[BBT_TOKEN_B64_LEN + 8];
    size_t n = BBT_TOKEN_B64_LEN, k, at, split = BBT_TOKEN_B64_LEN + 1;

    make_body(body);
    memcpy(t, body, n);
    switch (pick(6)) {
    case 0:
        n = BBT_TOKSHAPE_OPEN_LEN - 2 + pick(n - BBT_TOKSHAPE_OPEN_LEN + 2);
        break;
    case 1:
        t[pick(n)] = (char)next();
        break;
    case 2:
        at = pick(n);
        memmove(t + at, t + at + 1, n - at - 1);
        n--;
        break;
    case 3:
        at = pick(n + 1);
        memmove(t + at + 1, t + at, n - at);
        t[at] = "xM/.'\"("[pick(7)];
        n++;
        break;
    default:
        break;
    }
    if (pick(2))
        put(out, cap, len, pick(2) ? "BBDC-" : "bbdc-", 5);
    if (pick(3) == 0)
        split = 1 + pick(n - 1);
    for (k = 0; k < n; k++) {
        if (k == split) {
            const char *w = spaces[pick(SPACES)];

            put(out, cap, len, w, strlen(w));
        }
        if (t[k])
            put(out, cap, len, t + k, 1);
    }
}

/* A text of words, tokens, tokens' ids alone or repeated, quotes and
 * punctuation, separated by white space or not. */
static size_t make_text(char *out, size_t cap)
{
    static const char *const words[] = {
        "user",  "already", "has",   "no",       "such", "Key",
        "(5,",   "'",       "\"",    "):",       ".",    "deploy",
        "BBDC-", "BBDC-ci", "named", "MDAwMDAw", "OgAB", "wMDA"};
    char body[BBT_TOKEN_B64_LEN + 1];
    size_t len = 0, parts = 1 + pick(8), p, r;

    out[0] = '\0';
    for (p = 0; p < parts && len + 1 < cap; p++) {
        switch (pick(8)) {
        case 0:
        case 1:
            put_token(out, cap, &len);
            break;
        case 2:
            /* An id, or an id run on several times. */
            make_body(body);
            for (r = 1 + pick(3); r > 0; r--)
                put(out, cap, &len, body, 12 + pick(8));
            break;
        case 3:
            /* A long word of base64 characters. */
            for (r = pick(120); r > 0; r--)
                put(out, cap, &len, &"MDOTjzwAgv0123+/"[pick(16)], 1);
            break;
        case 4:
            for (r = 1 + pick(30); r > 0; r--)
                put(out, cap, &len, &"'\"(),.:;"[pick(8)], 1);
            break;
        default:
            r = pick(sizeof(words) / sizeof(*words));
            put(out, cap, &len, words[r], strlen(words[r]));
            break;
        }
        if (pick(4)) {
            const char *w = spaces[pick(sizeof(spaces) / sizeof(*spaces))];

            put(out, cap, &len, w, strlen(w));
        }
    }
    return len;
}

/* Texts with a token in most: the module's reading and the plain one
 * agree on each, masked in a buffer that never cuts them and in ones that
 * do. */
static void test_same(void)
{
    /* Under memcheck (tap.h) a fiftieth. */
    int texts = tap_memcheck() ? 1000 : 20000;
    char text[700], *got, *want;
    size_t len, size, sizes[3];
    int t, k, differ = 0, hid = 0, cut = 0, in_text = 0, in_name = 0;

    for (t = 0; t < texts; t++) {
        len = make_text(text, sizeof(text));
        in_text += bbt_token_in_text(text, len) != ref_in(text, len, 0);
        in_name += bbt_token_in_name(text, len) != ref_in(text, len, 1);
        sizes[0] = BBT_TOKSHAPE_MASK_SIZE(len);
        sizes[1] = len + 1;
        sizes[2] = 1 + pick(len + 40);
        for (k = 0; k < 3; k++) {
            size = sizes[k];
            got = malloc(sizes[0]);
            want = malloc(sizes[0]);
            if (!got || !want) {
                free(got);
                free(want);
                differ++;
                continue;
            }
            memcpy(got, text, len + 1);
            memcpy(want, text, len + 1);
            if (len + 1 > size) {
                got[size - 1] = want[size - 1] = '\0';
            }
            if (bbt_token_mask(got, size) != ref_mask(want, size) ||
                strcmp(got, want) != 0) {
                if (differ++ < 3)
                    diag("size %zu: '%s'\n#   masked '%s'\n#   not '%s'", size,
                         text, got, want);
            }
            hid += k == 0 && strcmp(got, text) != 0;
            cut += k > 0 && strlen(want) + 1 == size;
            free(got);
            free(want);
        }
    }
    ok(hid > texts / 3 && cut > texts / 3,
       "%d texts: %d with something to hide, %d masked in a buffer that "
       "cuts them",
       texts, hid, cut);
    ok(in_text == 0, "bbt_token_in_text as the plain reading (%d differ)",
       in_text);
    ok(in_name == 0, "bbt_token_in_name as the plain reading (%d differ)",
       in_name);
    ok(differ == 0, "bbt_token_mask as the plain reading (%d differ)", differ);
}

/* A word of 4,000 base64 characters with a token's id at every fourth:
 * the module's reading hides it as the plain one does. */
static void test_long_word(void)
{
    static char text[8192], got[8192 * 8], want[8192 * 8];
    size_t i, n = 0;

    n += (size_t)snprintf(text, sizeof(text), "user '");
    for (i = 0; i < 1000; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "MDAw");
    snprintf(text + n, sizeof(text) - n,
             "OgABAgMEBQYHCAkKCwwNDg/w0LwU',,,,: done");
    memcpy(got, text, strlen(text) + 1);
    memcpy(want, text, strlen(text) + 1);
    ok(bbt_token_mask(got, sizeof(got)) == ref_mask(want, sizeof(want)) &&
           strcmp(got, want) == 0,
       "a word of 4,000 characters: '%.60s'", got);
}

int main(void)
{
    test_same();
    test_long_word();
    return done_testing();
}
