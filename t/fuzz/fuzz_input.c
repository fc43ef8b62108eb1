/*
 * libFuzzer target: the input rules (bbt_input.h) on hostile bytes, each
 * held to its own contract rather than merely run.  What a rule accepts is
 * what the schema stores and what URLs, logs and mail carry, so:
 *
 * - a user name is ASCII of its class; its slug is a user name, its own
 *   slug, lower case without "@"; "~" and it is a personal key;
 * - a key's canonical form is a key, its own canonical form, and the same
 *   for any spelling in another case;
 * - a slug is ASCII of its class and never ends ".git";
 * - UTF-8 is judged as glibc's iconv judges it (shortest forms of scalar
 *   values only, as PostgreSQL's UTF8), with no control character; a token
 *   name or display name is that, non-empty, at most BBT_NAME_MAX
 *   characters, no invisible formatting character, and a token name
 *   neither begins nor ends with white space (Unicode's White_Space); an
 *   e-mail address is that with one inner "@", no space,
 *   at most BBT_EMAIL_MAX bytes;
 * - a number is digits only, its value the digits' and within range;
 * - a network is of its shape and never /0 however its bits are spelled.
 *
 * Any broken rule aborts.
 */
#include <iconv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_input.h"

static iconv_t bbt_fz_cd = (iconv_t)-1;

/* Unicode's White_Space (PropList.txt), written out again. */
static int bbt_fz_white(uint32_t cp)
{
    return (cp >= 0x9 && cp <= 0xd) || cp == 0x20 || cp == 0x85 || cp == 0xa0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/* The number of code points in s[0..len) when iconv takes it as UTF-8
 * and none is a control character; -1 when it refuses, -2 for a control
 * character.  *hidden says whether one is an invisible formatting
 * character, *edged whether the first or the last is white space. */
static long bbt_fz_chars(const char *s, size_t len, int *hidden, int *edged)
{
    uint32_t out[8];
    char *in = (char *)s;
    size_t il = len;
    long chars = 0;

    if (bbt_fz_cd == (iconv_t)-1 &&
        (bbt_fz_cd = iconv_open("UTF-32LE", "UTF-8")) == (iconv_t)-1) {
        abort();
    }
    iconv(bbt_fz_cd, NULL, NULL, NULL, NULL);
    *hidden = 0;
    *edged = 0;
    while (il > 0) {
        char *o = (char *)out;
        size_t ol = sizeof(out), i, got;

        if (iconv(bbt_fz_cd, &in, &il, &o, &ol) == (size_t)-1 &&
            o == (char *)out) {
            return -1;
        }
        got = (sizeof(out) - ol) / 4;
        for (i = 0; i < got; i++) {
            if (bbt_is_control((long)out[i])) {
                return -2;
            }
            *hidden |= bbt_is_invisible((long)out[i]);
        }
        if (got > 0 && chars == 0) {
            *edged = bbt_fz_white(out[0]);
        }
        if (got > 0 && il == 0) {
            *edged |= bbt_fz_white(out[got - 1]);
        }
        chars += (long)got;
    }
    return chars;
}

static int bbt_fz_user_char(unsigned char c)
{
    return bbt_is_alnum(c) || c == '.' || c == '_' || c == '@' || c == '-';
}

static void bbt_fz_user(const char *s, size_t len)
{
    char slug[BBT_USER_MAX + 1], again[BBT_USER_MAX + 1];
    char tilde[BBT_KEY_BUF + 1], key[BBT_KEY_BUF];
    int ok = bbt_input_user_name(s, len);
    size_t i;

    if ((bbt_input_user_slug(s, len, slug) == 0) != ok) {
        abort();
    }
    if (!ok) {
        if (slug[0]) {
            abort();
        }
        return;
    }
    if (len == 0 || len > BBT_USER_MAX || !bbt_is_alnum((unsigned char)s[0])) {
        abort();
    }
    for (i = 0; i < len; i++) {
        if (!bbt_fz_user_char((unsigned char)s[i]) ||
            slug[i] != (s[i] == '@' ? '_' : (char)bbt_to_lower(s[i]))) {
            abort();
        }
    }
    if (strlen(slug) != len || strchr(slug, '@') ||
        !bbt_input_user_name(slug, len) ||
        bbt_input_user_slug(slug, len, again) != 0 || strcmp(slug, again)) {
        abort();
    }
    /* A personal project's key is "~" and the slug, whatever the name's
     * spelling. */
    tilde[0] = '~';
    memcpy(tilde + 1, s, len);
    if (bbt_input_key(tilde, len + 1, key) != 0 || key[0] != '~' ||
        strlen(key) != len + 1 || strcmp(key + 1, slug) != 0) {
        abort();
    }
}

static void bbt_fz_key(const char *s, size_t len)
{
    char key[BBT_KEY_BUF], again[BBT_KEY_BUF], other[BBT_KEY_BUF];
    char flipped[BBT_KEY_BUF + 1];
    size_t i;
    int ok = bbt_input_key(s, len, key) == 0;

    if (!ok) {
        if (key[0]) {
            abort();
        }
        return;
    }
    if (strlen(key) != len || len >= BBT_KEY_BUF ||
        bbt_input_key(key, len, again) != 0 || strcmp(key, again)) {
        abort();
    }
    if (key[0] != '~') {
        if (len > BBT_KEY_MAX || !bbt_is_alpha((unsigned char)key[0])) {
            abort();
        }
        for (i = 0; i < len; i++) {
            unsigned char c = (unsigned char)key[i];

            if (!((c >= 'A' && c <= 'Z') || bbt_is_digit(c) || c == '_')) {
                abort();
            }
        }
    } else if (!bbt_input_user_name(key + 1, len - 1) || strchr(key, '@')) {
        abort();
    }
    /* Another spelling of the same key, in other cases. */
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        flipped[i] =
            (char)(bbt_to_upper(c) == c ? bbt_to_lower(c) : bbt_to_upper(c));
    }
    if (bbt_input_key(flipped, len, other) != 0 || strcmp(other, key)) {
        abort();
    }
}

static void bbt_fz_slug(const char *s, size_t len)
{
    size_t i;

    if (!bbt_input_slug(s, len)) {
        return;
    }
    if (len == 0 || len > BBT_SLUG_MAX || !bbt_is_alnum((unsigned char)s[0]) ||
        (len >= 4 && memcmp(s + len - 4, ".git", 4) == 0)) {
        abort();
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!bbt_is_alnum(c) && c != '_' && c != '.' && c != '-') {
            abort();
        }
    }
}

/* The NUL-terminated rules, on s up to its first NUL. */
static void bbt_fz_text(const char *s)
{
    size_t len = strlen(s);
    int hidden, edged;
    long chars = bbt_fz_chars(s, len, &hidden, &edged);
    const char *why;
    const char *at;

    if (bbt_input_utf8(s) != (chars >= 0)) {
        abort();
    }
    why = bbt_input_token_name(s);
    if ((why == NULL) !=
        (chars > 0 && chars <= BBT_NAME_MAX && !hidden && !edged)) {
        abort();
    }
    /* A display name may begin or end with white space. */
    if ((bbt_input_display_name(s) == NULL) !=
        (chars > 0 && chars <= BBT_NAME_MAX && !hidden)) {
        abort();
    }
    why = bbt_input_email(s);
    at = strchr(s, '@');
    if ((why == NULL) !=
        (chars > 0 && len <= BBT_EMAIL_MAX && !strchr(s, ' ') && !hidden &&
         at && at != s && at[1] && !strchr(at + 1, '@'))) {
        abort();
    }
}

static void bbt_fz_number(const char *s)
{
    size_t len = strlen(s), digits = strspn(s, "0123456789");
    long lo = 0, hi = 0, v = -1;
    long long ref;
    int ok;

    /* The bounds come from the input's length, so both ends are tried. */
    switch (len % 4) {
    case 0:
        lo = 1, hi = BBT_EXPIRY_DAYS_MAX;
        break;
    case 1:
        lo = 0, hi = 128;
        break;
    case 2:
        lo = 1, hi = BBT_POLICY_MAX_TOKENS;
        break;
    default:
        lo = 0, hi = 999999;
        break;
    }
    ok = bbt_input_number(s, lo, hi, &v) == 0;
    if (!ok) {
        /* Refusing 19 digits or more is the rule's own limit. */
        if (len > 0 && digits == len && len <= 18) {
            ref = strtoll(s, NULL, 10);
            if (ref >= lo && ref <= hi) {
                abort();
            }
        }
        return;
    }
    if (len == 0 || digits != len || v < lo || v > hi ||
        strtoll(s, NULL, 10) != v) {
        abort();
    }
    if ((bbt_input_token_id(s, len) != 0) != (len == BBT_TOKEN_ID_LEN)) {
        abort();
    }
}

/* Whether the bits after a slash are zero however many digits spell
 * them: PostgreSQL's cidr reads "/00" as /0. */
static int bbt_fz_zero_bits(const char *s, size_t len)
{
    const char *slash = memchr(s, '/', len);
    size_t i;

    if (!slash || slash + 1 == s + len) {
        return 0;
    }
    for (i = (size_t)(slash + 1 - s); i < len; i++) {
        if (s[i] != '0') {
            return 0;
        }
    }
    return 1;
}

static void bbt_fz_net(const char *s, size_t len)
{
    const char *why = bbt_input_net_problem(s, len);
    size_t i, slashes = 0;

    if ((why == NULL) != bbt_input_net(s, len)) {
        abort();
    }
    if (why) {
        return;
    }
    if (len == 0 || len > BBT_NET_TEXT_MAX || s[0] == '/' ||
        s[len - 1] == '/' || bbt_fz_zero_bits(s, len)) {
        abort();
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        slashes += c == '/';
        if (c != '/' && c != '.' && c != ':' && !bbt_is_digit(c) &&
            !((c | 0x20) >= 'a' && (c | 0x20) <= 'f')) {
            abort();
        }
    }
    if (slashes > 1) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;
    size_t len;

    if (size < 1) {
        return 0;
    }
    len = size - 1;
    /* Exactly the bytes after the selector, so an overread is ASan's. */
    if (!(s = malloc(len + 1))) {
        return 0;
    }
    memcpy(s, data + 1, len);
    s[len] = '\0';
    switch (data[0] % 6) {
    case 0:
        bbt_fz_user(s, len);
        break;
    case 1:
        bbt_fz_key(s, len);
        break;
    case 2:
        bbt_fz_slug(s, len);
        break;
    case 3:
        bbt_fz_text(s);
        break;
    case 4:
        bbt_fz_number(s);
        break;
    default:
        bbt_fz_net(s, len);
        break;
    }
    free(s);
    return 0;
}
