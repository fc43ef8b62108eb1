/*
 * Whether text holds a token, right or wrong (see bbt_tokshape.h).
 *
 * A token's body is the base64 of its id's twelve ASCII digits, a colon
 * and its secret.  Three digits make four characters, each from a small
 * class of its own: the first holds a digit's high six bits (0x30-0x39:
 * 12-14, "MNO"), the second the low two of one and the high four of the
 * next (always 3: "DTjz"), the third the low four of one (0-9) and the high
 * two of the next (0), the fourth a digit's low six bits (48-57).  After
 * four such groups the colon gives "O" and then 32-47 ("g" to "v").  What
 * follows is the secret: any base64 character.
 *
 * A token holds no white space, so white space typed into one is read
 * past: the text is read as if it had none.  Then the characters of two
 * words may be read as one token's, which is how a token split by a space,
 * a tab, a line break or a no-break space is still found.
 */
#include <string.h>

#include "bbt_tokshape.h"
#include "bbt_input.h"
#include "bbt_token.h"

/* The characters of a token's body that its id decides. */
#define BBT_TOKSHAPE_ID_CHARS 18

/* No byte yet. */
#define BBT_TOKSHAPE_NONE ((size_t)-1)

/* What stands where text was hidden, without its NUL. */
#define BBT_TOKSHAPE_HIDDEN_LEN (sizeof(BBT_TOKSHAPE_HIDDEN) - 1)

/* A byte's value in base64 (bbt_b64_digit), or -1. */
#define BBT_TOKSHAPE_B64(c)                                                    \
    ((c) >= 'A' && (c) <= 'Z'   ? (c) - 'A'                                    \
     : (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26                               \
     : (c) >= '0' && (c) <= '9' ? (c) - '0' + 52                               \
     : (c) == '+'               ? 62                                           \
     : (c) == '/'               ? 63                                           \
                                : -1)

/* The places in a token a character of base64 value v fits, a bit each:
 * in its id's four groups, by place in the group (bit 0 to 3: the first
 * holds a digit's high six bits, 12-14; the second always 3 in its low
 * four; the third 0-9 in its high four and 0 in its low two; the fourth a
 * digit's low six bits, 48-57), the colon's (bit 4: 14; bit 5: 32-47),
 * then the secret's (bit 6: any). */
#define BBT_TOKSHAPE_PLACES(v)                                                 \
    ((v) < 0 ? 0                                                               \
             : ((v) >= 12 && (v) <= 14) | (((v)&15) == 3) << 1 |               \
                   ((v) % 4 == 0 && (v) <= 36) << 2 |                          \
                   ((v) >= 48 && (v) <= 57) << 3 | ((v) == 14) << 4 |          \
                   ((v) >= 32 && (v) <= 47) << 5 | 1 << 6)

/* ASCII's white space (Unicode's White_Space below 0x80), bit 7. */
#define BBT_TOKSHAPE_ASCII_SPACE 0x80
#define BBT_TOKSHAPE_BYTE(c)                                                   \
    (BBT_TOKSHAPE_PLACES(BBT_TOKSHAPE_B64(c)) |                                \
     ((c) == ' ' || ((c) >= '\t' && (c) <= '\r') ? BBT_TOKSHAPE_ASCII_SPACE    \
                                                 : 0))
#define BBT_TOKSHAPE_BYTES4(c)                                                 \
    BBT_TOKSHAPE_BYTE(c), BBT_TOKSHAPE_BYTE((c) + 1),                          \
        BBT_TOKSHAPE_BYTE((c) + 2), BBT_TOKSHAPE_BYTE((c) + 3)
#define BBT_TOKSHAPE_BYTES16(c)                                                \
    BBT_TOKSHAPE_BYTES4(c), BBT_TOKSHAPE_BYTES4((c) + 4),                      \
        BBT_TOKSHAPE_BYTES4((c) + 8), BBT_TOKSHAPE_BYTES4((c) + 12)
#define BBT_TOKSHAPE_BYTES64(c)                                                \
    BBT_TOKSHAPE_BYTES16(c), BBT_TOKSHAPE_BYTES16((c) + 16),                   \
        BBT_TOKSHAPE_BYTES16((c) + 32), BBT_TOKSHAPE_BYTES16((c) + 48)

/* What each byte is to a token, looked up rather than worked out: the
 * text's every byte is read, most of them several times. */
static const unsigned char bbt_tokshape_byte[256] = {
    BBT_TOKSHAPE_BYTES64(0), BBT_TOKSHAPE_BYTES64(64),
    BBT_TOKSHAPE_BYTES64(128), BBT_TOKSHAPE_BYTES64(192)};

/* The bit of bbt_tokshape_byte of each of a token's first characters. */
static const unsigned char bbt_tokshape_place[] = {
    1, 2,  4,  8,  1,  2,  4,  8,  1,  2,  4,  8,  1,  2,  4,
    8, 16, 32, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64};
_Static_assert(sizeof(bbt_tokshape_place) == BBT_TOKSHAPE_LEN &&
                   BBT_TOKSHAPE_LEN > BBT_TOKSHAPE_ID_CHARS,
               "a place for each character recognised");

/* Whether c can be a token's character number j (from 0, below
 * BBT_TOKSHAPE_LEN). */
static int bbt_tokshape_fits(unsigned char c, size_t j)
{
    return (bbt_tokshape_byte[c] & bbt_tokshape_place[j]) != 0;
}

/* How many of the n bytes at s from byte i are a character of white
 * space (Unicode's, as a name's ends are held to), or 0. */
static size_t bbt_tokshape_space(const char *s, size_t n, size_t i)
{
    unsigned char c;

    if (i >= n)
        return 0;
    c = (unsigned char)s[i];
    if (c < 0x80)
        return (bbt_tokshape_byte[c] & BBT_TOKSHAPE_ASCII_SPACE) != 0;
    return bbt_input_white_space(s + i, n - i);
}

/* Whether the bytes at s before byte i end with a character of white
 * space: a character of it is 1 to 3 bytes. */
static int bbt_tokshape_space_before(const char *s, size_t i)
{
    size_t k;

    for (k = 1; k <= 3 && k <= i; k++) {
        if (bbt_input_white_space(s + i - k, k) == k)
            return 1;
    }
    return 0;
}

/* The first byte at or after i of the n at s that is not white space. */
static size_t bbt_tokshape_skip(const char *s, size_t n, size_t i)
{
    size_t w;

    while ((w = bbt_tokshape_space(s, n, i)) > 0)
        i += w;
    return i;
}

/* Where a token's characters were read: its first and after its last byte
 * that is one (an edited byte at either end is not). */
typedef struct {
    size_t first, end;
} bbt_tokshape_span_t;

/* Whether the n bytes at s, from byte i, white space read past, are a
 * token's characters from number j to BBT_TOKSHAPE_LEN, one for one; open:
 * or they are until the text ends, at character BBT_TOKSHAPE_OPEN_LEN or
 * later.  sp is moved over the bytes read. */
static int bbt_tokshape_rest(const char *s, size_t n, size_t i, size_t j,
                             int open, bbt_tokshape_span_t *sp)
{
    for (; j < BBT_TOKSHAPE_LEN; j++, i++) {
        i = bbt_tokshape_skip(s, n, i);
        if (i >= n)
            return open && j >= BBT_TOKSHAPE_OPEN_LEN;
        if (!bbt_tokshape_fits((unsigned char)s[i], j))
            return 0;
        if (sp->first == BBT_TOKSHAPE_NONE)
            sp->first = i;
        sp->end = i + 1;
    }
    return 1;
}

/* Whether the n bytes at s, from byte i, start with a token's first
 * BBT_TOKSHAPE_LEN characters, read with at most one edit (open: or hold
 * them until the text ends, as bbt_tokshape_rest); *sp where they were.
 * Up to the first byte that does not fit there is nothing to edit; there,
 * the edit is that byte in the place of the token's character, the
 * token's character left out, or that byte added. */
static int bbt_tokshape_at(const char *s, size_t n, size_t i, int open,
                           bbt_tokshape_span_t *sp)
{
    bbt_tokshape_span_t read = {BBT_TOKSHAPE_NONE, 0}, tried;
    size_t j = 0;

    for (; j < BBT_TOKSHAPE_LEN; j++, i++) {
        i = bbt_tokshape_skip(s, n, i);
        if (i >= n || !bbt_tokshape_fits((unsigned char)s[i], j))
            break;
        if (read.first == BBT_TOKSHAPE_NONE)
            read.first = i;
        read.end = i + 1;
    }
    /* All of them, or the text ends with one left out at the end. */
    if (j == BBT_TOKSHAPE_LEN ||
        (i >= n &&
         (j + 1 == BBT_TOKSHAPE_LEN || (open && j >= BBT_TOKSHAPE_OPEN_LEN)))) {
        *sp = read;
        return 1;
    }
    if (i >= n)
        return 0;
    tried = read;
    if (bbt_tokshape_rest(s, n, i + 1, j + 1, open, &tried) ||
        (tried = read, bbt_tokshape_rest(s, n, i, j + 1, open, &tried)) ||
        (tried = read, bbt_tokshape_rest(s, n, i + 1, j, open, &tried))) {
        *sp = tried;
        return 1;
    }
    return 0;
}

/* Whether bbt_tokshape_at may find a token's characters from byte i (not
 * white space) of the n at s: not unless that byte or the next one (white
 * space read past) is a token's first or second character (its first; its
 * second, after a first left out or mistyped; its first, after a byte
 * added).  Asked at every byte, and answered in two look-ups where
 * bbt_tokshape_at would try each of those before it said no. */
static int bbt_tokshape_may_start(const char *s, size_t n, size_t i)
{
    unsigned char two = bbt_tokshape_place[0] | bbt_tokshape_place[1];
    size_t k;

    if (bbt_tokshape_byte[(unsigned char)s[i]] & two)
        return 1;
    k = bbt_tokshape_skip(s, n, i + 1);
    return k < n && (bbt_tokshape_byte[(unsigned char)s[k]] & two);
}

/* Whether the len bytes at s hold a token's first characters anywhere
 * (open: or end with them, as bbt_tokshape_rest). */
static int bbt_tokshape_in(const char *s, size_t len, int open)
{
    bbt_tokshape_span_t sp;
    size_t i;

    if (!s) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (!bbt_tokshape_space(s, len, i) &&
            bbt_tokshape_may_start(s, len, i) &&
            bbt_tokshape_at(s, len, i, open, &sp))
            return 1;
    }
    return 0;
}

int bbt_token_in_text(const char *s, size_t len)
{
    return bbt_tokshape_in(s, len, 0);
}

int bbt_token_in_name(const char *s, size_t len)
{
    return bbt_tokshape_in(s, len, 1);
}

int bbt_token_shaped(const char *s, size_t len)
{
    size_t i;

    if (!s) {
        return 0;
    }
    /* Given where a token goes, the prefix says a token was meant, however
     * mistyped or cut short what follows: spaces before it, a password
     * field, a Bearer value. */
    for (i = 0; i < len && s[i] == ' '; i++)
        ;
    if (len - i >= BBT_TOKEN_PREFIX_LEN &&
        memcmp(s + i, BBT_TOKEN_PREFIX, BBT_TOKEN_PREFIX_LEN) == 0) {
        return 1;
    }
    return bbt_token_in_text(s, len);
}

/* What a stretch's search learnt of the words it looked at.  At byte i
 * a token's characters begin at i or at the first after i and white space,
 * so each token the search finds begins at or after the last one's first
 * character, and most are in the last one's word: a long word that holds
 * many tokens' characters is walked once, not once for each of them. */
typedef struct {
    /* No word begins after byte from_w up to from_p: the word of any byte
     * in [from_w, from_p] begins at from_w, and the quotes it begins with
     * end at from_q, or go on past from_p.  from_p NONE: nothing known. */
    size_t from_w, from_p, from_q;
    /* No white space from byte to_lo up to to_w, where white space or the
     * text's end is; the punctuation the word ends with begins at to_p, or
     * at or before to_lo.  to_w NONE: nothing known yet. */
    size_t to_lo, to_w, to_p;
} bbt_tokshape_words_t;

/* The quotes and punctuation a message puts around a value ('NAME': ...)
 * are no token's characters: what is hidden is a word without them.  From
 * byte p, where a token's characters begin: where its word does, what it
 * begins with of "'\"(" left out (up to p). */
static size_t bbt_tokshape_word_from(const char *s, size_t p,
                                     bbt_tokshape_words_t *ws)
{
    int known = ws->from_p != BBT_TOKSHAPE_NONE && p >= ws->from_p;
    size_t low = known ? ws->from_p : 0, w = p;

    while (w > low && !bbt_tokshape_space_before(s, w))
        w--;
    if (!known || w > low) {
        ws->from_w = ws->from_q = w;
    }
    ws->from_p = p;
    while (ws->from_q < p && strchr("'\"(", s[ws->from_q]))
        ws->from_q++;
    return ws->from_q;
}

/* Where the punctuation that ends the bytes at s from lo up to w begins. */
static size_t bbt_tokshape_punct(const char *s, size_t lo, size_t w)
{
    while (w > lo && strchr("'\"),.:;", s[w - 1]))
        w--;
    return w;
}

/* From byte e of the n at s, after a token's characters: where their word
 * ends, what it ends with of "'\"),.:;" left out (down to e). */
static size_t bbt_tokshape_word_to(const char *s, size_t n, size_t e,
                                   bbt_tokshape_words_t *ws)
{
    size_t w = e;

    if (ws->to_w == BBT_TOKSHAPE_NONE || e < ws->to_lo || e > ws->to_w) {
        while (w < n && !bbt_tokshape_space(s, n, w))
            w++;
        ws->to_lo = e;
        ws->to_w = w;
        ws->to_p = bbt_tokshape_punct(s, e, w);
    }
    return e > ws->to_p ? e : ws->to_p;
}

/* After byte e of the n at s, where a token's first BBT_TOKSHAPE_LEN
 * characters were read: after the rest of its characters, as many as
 * follow of the BBT_TOKEN_B64_LEN (white space read past), which hold the
 * rest of its secret whatever word they are in. */
static size_t bbt_tokshape_tail(const char *s, size_t n, size_t e)
{
    size_t i = e, j;

    for (j = BBT_TOKSHAPE_LEN; j < BBT_TOKEN_B64_LEN; j++, i++) {
        i = bbt_tokshape_skip(s, n, i);
        if (i >= n ||
            !bbt_tokshape_fits((unsigned char)s[i], BBT_TOKSHAPE_ID_CHARS))
            break;
        e = i + 1;
    }
    return e;
}

/* The first stretch of the n bytes at s to hide that starts at or after
 * byte i: [*from, *to), the words (without their quotes) holding the
 * characters of a token found there, to its full length, and of every
 * other found before its end.  0 if there is none. */
static int bbt_tokshape_stretch(const char *s, size_t n, size_t i, size_t *from,
                                size_t *to)
{
    bbt_tokshape_words_t ws = {0, BBT_TOKSHAPE_NONE, 0,
                               0, BBT_TOKSHAPE_NONE, 0};
    bbt_tokshape_span_t sp;
    size_t f, t, start = i;
    int found = 0;

    for (; i < n && (!found || i < *to); i++) {
        if (bbt_tokshape_space(s, n, i) || !bbt_tokshape_may_start(s, n, i) ||
            !bbt_tokshape_at(s, n, i, 0, &sp))
            continue;
        f = bbt_tokshape_word_from(s, sp.first, &ws);
        t = bbt_tokshape_word_to(s, n, bbt_tokshape_tail(s, n, sp.end), &ws);
        if (!found) {
            *from = f < start ? start : f;
            *to = t;
            found = 1;
        } else if (f > *to) {
            /* Its characters are all after this stretch (the byte it
             * starts with is an edit): read again from there. */
            break;
        } else if (t > *to) {
            *to = t;
        }
    }
    return found;
}

/* buf[from, to) replaced by BBT_TOKSHAPE_HIDDEN in the len bytes of text
 * in buf (size bytes), what follows moved and cut at size - 1: the new
 * length; *after where what followed now starts. */
static size_t bbt_tokshape_hide(char *buf, size_t size, size_t len, size_t from,
                                size_t to, size_t *after)
{
    size_t m = BBT_TOKSHAPE_HIDDEN_LEN, tail = len - to;

    if (from + m > size - 1) {
        m = size - 1 - from;
    }
    if (from + m + tail > size - 1) {
        tail = size - 1 - from - m;
    }
    memmove(buf + from + m, buf + to, tail);
    memcpy(buf + from, BBT_TOKSHAPE_HIDDEN, m);
    buf[from + m + tail] = '\0';
    *after = from + m;
    return from + m + tail;
}

int bbt_token_mask(char *buf, size_t size)
{
    size_t len, i = 0, from = 0, to = 0;
    int hidden = 0;

    if (!buf || !size) {
        return 0;
    }
    len = strlen(buf);
    /* Each stretch is found in the text as it was given: what was hidden
     * before it is behind it, and no token's characters are read
     * backwards. */
    while (bbt_tokshape_stretch(buf, len, i, &from, &to)) {
        len = bbt_tokshape_hide(buf, size, len, from, to, &i);
        hidden = 1;
    }
    /* What was kept next to what stands for the hidden may read as a
     * token's first characters (text like a token's id before a word that
     * was hidden): then none of it is shown. */
    if (hidden && bbt_token_in_text(buf, len)) {
        bbt_tokshape_hide(buf, size, len, 0, len, &i);
    }
    return hidden;
}
