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
 */
#include <string.h>

#include "bbt_tokshape.h"
#include "bbt_token.h"

/* The characters of a token's body that its id decides. */
#define BBT_TOKSHAPE_ID_CHARS 18

/* Whether c can be a token's character number j (from 0). */
static int bbt_tokshape_fits(unsigned char c, size_t j)
{
    int v = bbt_b64_digit(c);

    if (v < 0)
        return 0;
    if (j >= BBT_TOKSHAPE_ID_CHARS)
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

/* Whether the n bytes at s, from byte i, are a token's characters from
 * number j to BBT_TOKSHAPE_LEN, one for one. */
static int bbt_tokshape_rest(const char *s, size_t n, size_t i, size_t j)
{
    if (i > n || n - i < BBT_TOKSHAPE_LEN - j)
        return 0;
    for (; j < BBT_TOKSHAPE_LEN; i++, j++) {
        if (!bbt_tokshape_fits((unsigned char)s[i], j))
            return 0;
    }
    return 1;
}

/* Whether the n bytes at s start with a token's first BBT_TOKSHAPE_LEN
 * characters, read with at most one edit.  Up to the first byte that does
 * not fit there is nothing to edit; there, the edit is that byte in the
 * place of the token's character, the token's character left out, or that
 * byte added. */
static int bbt_tokshape_at(const char *s, size_t n)
{
    size_t j = 0;

    while (j < BBT_TOKSHAPE_LEN && j < n &&
           bbt_tokshape_fits((unsigned char)s[j], j))
        j++;
    if (j == BBT_TOKSHAPE_LEN)
        return 1;
    return bbt_tokshape_rest(s, n, j + 1, j + 1) ||
           bbt_tokshape_rest(s, n, j, j + 1) ||
           bbt_tokshape_rest(s, n, j + 1, j);
}

int bbt_token_shaped(const char *s, size_t len)
{
    size_t i;

    if (!s) {
        return 0;
    }
    /* A token is pasted with what surrounded it: spaces, quotes, its
     * scheme ("Bearer BBDC-..."), its prefix in lower case.  Then it still
     * starts with the prefix once the spaces are gone, or its characters
     * are somewhere in it. */
    for (i = 0; i < len && s[i] == ' '; i++)
        ;
    if (len - i >= BBT_TOKEN_PREFIX_LEN &&
        memcmp(s + i, BBT_TOKEN_PREFIX, BBT_TOKEN_PREFIX_LEN) == 0) {
        return 1;
    }
    /* One left out at the end leaves one character fewer. */
    for (i = 0; i + BBT_TOKSHAPE_LEN - 1 <= len; i++) {
        if (bbt_tokshape_at(s + i, len - i))
            return 1;
    }
    return 0;
}

static int bbt_tokshape_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* buf[from, to) replaced by BBT_TOKSHAPE_HIDDEN in the len bytes of text
 * in buf (size bytes), what follows moved and cut at size - 1: the new
 * length. */
static size_t bbt_tokshape_hide(char *buf, size_t size, size_t len, size_t from,
                                size_t to)
{
    size_t m = sizeof(BBT_TOKSHAPE_HIDDEN) - 1, tail = len - to;

    if (from + m > size - 1) {
        m = size - 1 - from;
    }
    if (from + m + tail > size - 1) {
        tail = size - 1 - from - m;
    }
    memmove(buf + from + m, buf + to, tail);
    memcpy(buf + from, BBT_TOKSHAPE_HIDDEN, m);
    buf[from + m + tail] = '\0';
    return from + m + tail;
}

int bbt_token_mask(char *buf, size_t size)
{
    size_t len, i = 0, e, cs, ce;
    int hidden = 0;

    if (!buf || !size) {
        return 0;
    }
    len = strlen(buf);
    while (i < len) {
        if (bbt_tokshape_space(buf[i])) {
            i++;
            continue;
        }
        for (e = i; e < len && !bbt_tokshape_space(buf[e]); e++)
            ;
        /* The quotes and punctuation a message puts around a value
         * ('NAME': ...) are no token's characters. */
        for (cs = i; cs < e && strchr("'\"(", buf[cs]); cs++)
            ;
        for (ce = e; ce > cs && strchr("'\"),.:;", buf[ce - 1]); ce--)
            ;
        if (!bbt_token_shaped(buf + cs, ce - cs)) {
            if (!bbt_token_shaped(buf + i, e - i)) {
                i = e;
                continue;
            }
            cs = i;
            ce = e;
        }
        len = bbt_tokshape_hide(buf, size, len, cs, ce);
        hidden = 1;
        i = cs + sizeof(BBT_TOKSHAPE_HIDDEN) - 1;
    }
    if (bbt_token_shaped(buf, len)) {
        bbt_tokshape_hide(buf, size, len, 0, len);
        hidden = 1;
    }
    return hidden;
}
