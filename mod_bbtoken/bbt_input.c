/*
 * The input rules (bbt_input.h).  The schema holds stored values to the
 * same rules; these exist so that a mistake gets a clear message before it
 * reaches the database, and so that the module can refuse a request
 * without asking it.
 */
#include "bbt_input.h"
#include "bbt_tokshape.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <limits.h>
#include <string.h>

/* A user name's body: letters, digits and ". _ @ -" after the first. */
static int bbt_user_char(unsigned char c)
{
    return bbt_is_alnum(c) || c == '.' || c == '_' || c == '@' || c == '-';
}

int bbt_input_user_name(const char *s, size_t len)
{
    size_t i;

    if (!s || len == 0 || len > BBT_USER_MAX ||
        !bbt_is_alnum((unsigned char)s[0])) {
        return 0;
    }
    for (i = 1; i < len; i++) {
        if (!bbt_user_char((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

int bbt_input_user_slug(const char *s, size_t len, char *out)
{
    size_t i;

    if (out) {
        out[0] = '\0';
    }
    if (!out || !bbt_input_user_name(s, len)) {
        return -1;
    }
    for (i = 0; i < len; i++) {
        out[i] = s[i] == '@' ? '_' : (char)bbt_to_lower((unsigned char)s[i]);
    }
    out[len] = '\0';
    return 0;
}

/* The code point of the UTF-8 sequence at s, stepping *len over it; -1 for
 * anything but the shortest encoding of a scalar value (no surrogates,
 * nothing above U+10FFFF), as PostgreSQL's UTF8 accepts. */
static long bbt_utf8_next(const unsigned char *s, size_t *len)
{
    static const long min[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t n, i;
    long cp;

    if (s[0] < 0x80) {
        *len = 1;
        return s[0];
    }
    if ((s[0] & 0xe0) == 0xc0) {
        n = 2;
        cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        n = 3;
        cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        n = 4;
        cp = s[0] & 0x07;
    } else {
        return -1;
    }
    for (i = 1; i < n; i++) {
        /* A NUL ends the string, and is no continuation byte either. */
        if ((s[i] & 0xc0) != 0x80) {
            return -1;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return -1;
    }
    *len = n;
    return cp;
}

int bbt_input_utf8(const char *s)
{
    const unsigned char *p;
    size_t n = 0;
    long cp;

    if (!s) {
        return 0;
    }
    for (p = (const unsigned char *)s; *p; p += n) {
        if ((cp = bbt_utf8_next(p, &n)) < 0 || bbt_is_control(cp)) {
            return 0;
        }
    }
    return 1;
}

/* Characters that change how the text around them reads, or show nothing:
 * Unicode's Default_Ignorable_Code_Point (the bidi embeddings, overrides
 * and isolates, the zero-width characters, the soft hyphen, the tags, the
 * Hangul fillers, the unassigned rest of those blocks) but its variation
 * selectors, which only pick a glyph for the character before them (an
 * emoji typed on a phone carries U+FE0F); and the line and paragraph
 * separators and the interlinear annotation characters, which break or
 * hide text.  Sorted, for the search. */
static const struct {
    long lo, hi;
} bbt_invisible[] = {
    {0x00ad, 0x00ad},   {0x034f, 0x034f},   {0x061c, 0x061c},
    {0x115f, 0x1160},   {0x17b4, 0x17b5},   {0x180e, 0x180e},
    {0x200b, 0x200f},   {0x2028, 0x202e},   {0x2060, 0x206f},
    {0x3164, 0x3164},   {0xfeff, 0xfeff},   {0xffa0, 0xffa0},
    {0xfff0, 0xfffb},   {0x1bca0, 0x1bca3}, {0x1d173, 0x1d17a},
    {0xe0000, 0xe00ff}, {0xe01f0, 0xe0fff},
};

int bbt_is_invisible(long cp)
{
    size_t lo = 0, hi = sizeof(bbt_invisible) / sizeof(bbt_invisible[0]);

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (cp < bbt_invisible[mid].lo) {
            hi = mid;
        } else if (cp > bbt_invisible[mid].hi) {
            lo = mid + 1;
        } else {
            return 1;
        }
    }
    return 0;
}

size_t bbt_input_shown(const char *s, char *out)
{
    const unsigned char *p = (const unsigned char *)s;
    char *w = out;
    size_t n = 0;
    long cp;

    while (*p) {
        if ((cp = bbt_utf8_next(p, &n)) < 0) {
            n = 1;
            *w++ = '?';
        } else if (bbt_is_control(cp) || bbt_is_invisible(cp)) {
            *w++ = '?';
        } else {
            memcpy(w, p, n);
            w += n;
        }
        p += n;
    }
    *w = '\0';
    return (size_t)(w - out);
}

/* Unicode's White_Space: what a name that begins or ends with it hides in
 * a list, and what tells "deploy" from "deploy " apart when nothing else
 * does.  The controls and separators in it are refused anywhere already. */
static int bbt_is_white_space(long cp)
{
    if (cp < 0x80) {
        return cp == 0x20 || (cp >= 0x09 && cp <= 0x0d);
    }
    return cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/* Whether a character of more than one byte that begins with byte c may
 * be white space: the UTF-8 of U+0085 and U+00A0 begins with 0xc2, of
 * U+1680 with 0xe1, of U+2000 to U+205F with 0xe2, of U+3000 with 0xe3. */
static int bbt_white_space_lead(unsigned char c)
{
    return c == 0xc2 || (c >= 0xe1 && c <= 0xe3);
}

size_t bbt_input_white_space(const char *s, size_t len)
{
    /* Copied to a string: bbt_utf8_next reads up to a NUL, and these bytes
     * need not end with one. */
    unsigned char b[5] = {0};
    size_t n = 0;
    long cp;

    if (!s || !len) {
        return 0;
    }
    /* Asked at every byte of a message (bbt_tokshape.c): most are ASCII,
     * or begin no white space, and are told without decoding. */
    if ((unsigned char)s[0] < 0x80) {
        return bbt_is_white_space((unsigned char)s[0]);
    }
    if (!bbt_white_space_lead((unsigned char)s[0])) {
        return 0;
    }
    memcpy(b, s, len < 4 ? len : 4);
    cp = bbt_utf8_next(b, &n);
    return cp >= 0 && bbt_is_white_space(cp) ? n : 0;
}

/* What a label (a token name, a display name) may not be, in the words of
 * its kind; edge NULL where white space may begin or end it. */
typedef struct {
    const char *empty, *utf8, *control, *invisible, *edge, *too_long, *token;
} bbt_label_msgs_t;

static const char *bbt_label(const char *s, const bbt_label_msgs_t *m)
{
    const unsigned char *p;
    size_t chars = 0, n = 0;
    long cp, first = 0, last = 0;
    int invisible = 0;

    if (!s || !*s) {
        return m->empty;
    }
    /* A control anywhere is said before an invisible character anywhere,
     * as the database's CASE asks them. */
    for (p = (const unsigned char *)s; *p; p += n) {
        if ((cp = bbt_utf8_next(p, &n)) < 0) {
            return m->utf8;
        }
        if (bbt_is_control(cp)) {
            return m->control;
        }
        invisible |= bbt_is_invisible(cp);
        if (!chars++) {
            first = cp;
        }
        last = cp;
    }
    if (invisible) {
        return m->invisible;
    }
    if (m->edge && (bbt_is_white_space(first) || bbt_is_white_space(last))) {
        return m->edge;
    }
    if (chars > BBT_NAME_MAX) {
        return m->too_long;
    }
    /* A label is shown wherever its token or user is (a list, the page, a
     * notice's mail) and kept in the audit trail for ever: a token pasted
     * into the name's field would go with it, never to be taken back. */
    return bbt_token_in_name(s, strlen(s)) ? m->token : NULL;
}

const char *bbt_input_token_name(const char *s)
{
    static const bbt_label_msgs_t m = {
        "token name must not be empty",
        "token name is not valid UTF-8",
        "token name must not contain control characters",
        "token name must not contain invisible formatting characters",
        "token name must not begin or end with white space",
        "token name is longer than 255 characters",
        "token name must not look like a token: a name is listed and kept "
        "in the audit trail, and a token is a secret"};

    return bbt_label(s, &m);
}

const char *bbt_input_display_name(const char *s)
{
    static const bbt_label_msgs_t m = {
        "display name must not be empty",
        "display name is not valid UTF-8",
        "display name must not contain control characters",
        "display name must not contain invisible formatting characters",
        NULL,
        "display name is longer than 255 characters",
        "display name must not look like a token: a name is shown and kept "
        "in the audit trail, and a token is a secret"};

    return bbt_label(s, &m);
}

const char *bbt_input_email(const char *s)
{
    const unsigned char *p;
    const char *at;
    size_t n = 0;
    long cp;

    if (!s || !*s) {
        return "e-mail address must not be empty";
    }
    if (strlen(s) > BBT_EMAIL_MAX) {
        return "e-mail address is longer than 254 bytes";
    }
    for (p = (const unsigned char *)s; *p; p += n) {
        if ((cp = bbt_utf8_next(p, &n)) < 0) {
            return "e-mail address is not valid UTF-8";
        }
        if (cp == ' ' || bbt_is_control(cp)) {
            return "e-mail address must not contain spaces or control "
                   "characters";
        }
        if (bbt_is_invisible(cp)) {
            return "e-mail address must not contain invisible formatting "
                   "characters";
        }
    }
    at = strchr(s, '@');
    if (!at || strchr(at + 1, '@') || at == s || !at[1]) {
        return "e-mail address must be one @ with a name before it and a "
               "domain after it";
    }
    return NULL;
}

int bbt_input_token_id(const char *s, size_t len)
{
    size_t i;

    if (!s || len != BBT_TOKEN_ID_LEN) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (!bbt_is_digit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

int bbt_input_number(const char *s, long lo, long hi, long *out)
{
    long v = 0;
    size_t i;

    if (!s || !*s) {
        return -1;
    }
    for (i = 0; s[i]; i++) {
        /* Where a long is 32 bits (i386, armhf), 18 digits overflow it:
         * refused before they do, not wrapped into the range. */
        if (!bbt_is_digit((unsigned char)s[i]) || i >= 18 ||
            v > (LONG_MAX - (s[i] - '0')) / 10) {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi) {
        return -1;
    }
    if (out) {
        *out = v;
    }
    return 0;
}

int bbt_input_key(const char *key, size_t len, char *out)
{
    const unsigned char *k = (const unsigned char *)key;
    size_t i;

    if (out) {
        out[0] = '\0';
    }
    if (!key || !out || len == 0) {
        return -1;
    }
    if (k[0] == '~') {
        /* A personal project: "~" and its owner's slug, as Bitbucket keys
         * it and its clients build its URLs.  The name in any case names
         * the same project: the slug rule is byte for byte, so the key
         * keeps its length (bbt_translate rewrites it in place). */
        if (bbt_input_user_slug(key + 1, len - 1, out + 1) != 0) {
            return -1;
        }
        out[0] = '~';
        return 0;
    }
    if (len > BBT_KEY_MAX || !bbt_is_alpha(k[0])) {
        return -1;
    }
    for (i = 1; i < len; i++) {
        if (!bbt_is_alnum(k[i]) && k[i] != '_') {
            return -1;
        }
    }
    for (i = 0; i < len; i++) {
        out[i] = (char)bbt_to_upper(k[i]);
    }
    out[len] = '\0';
    return 0;
}

int bbt_input_slug(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i;

    if (!s || len == 0 || len > BBT_SLUG_MAX || !bbt_is_alnum(u[0])) {
        return 0;
    }
    for (i = 1; i < len; i++) {
        if (!bbt_is_alnum(u[i]) && u[i] != '_' && u[i] != '.' && u[i] != '-') {
            return 0;
        }
    }
    if (len >= 4 && memcmp(s + len - 4, ".git", 4) == 0) {
        return 0;
    }
    return 1;
}

/* The shape of a network: 1 to BBT_NET_TEXT_MAX hex digits, dots, colons
 * and at most one slash, not first or last. */
static int bbt_net_shaped(const char *s, size_t len)
{
    size_t i, slashes = 0;

    if (!s || len == 0 || len > BBT_NET_TEXT_MAX) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '/') {
            slashes++;
        } else if (!bbt_is_digit(c) && !(c >= 'a' && c <= 'f') &&
                   !(c >= 'A' && c <= 'F') && c != '.' && c != ':') {
            return 0;
        }
    }
    return slashes <= 1 && s[0] != '/' && s[len - 1] != '/';
}

const char *bbt_input_net_problem(const char *s, size_t len)
{
    char buf[BBT_NET_TEXT_MAX + 1], *slash;
    struct in6_addr a6;

    if (!bbt_net_shaped(s, len)) {
        return "not a network (an IPv4 or IPv6 address, or one with /bits)";
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    if ((slash = strchr(buf, '/')) != NULL) {
        *slash++ = '\0';
        /* Other masks are the database's to judge.  Zero bits in any
         * number of digits: PostgreSQL reads an IPv4 "/000...0" as /0. */
        if (slash[strspn(slash, "0")] == '\0') {
            return "a /0 network, which httpd cannot match: a token "
                   "without an allow-list is taken from anywhere";
        }
    }
    /* APR refuses these, so the token would be refused from everywhere;
     * it matches an IPv4-mapped client with IPv4 networks instead. */
    if (strchr(buf, ':') && inet_pton(AF_INET6, buf, &a6) == 1 &&
        IN6_IS_ADDR_V4MAPPED(&a6)) {
        return "an IPv4-mapped IPv6 network, which httpd cannot match: "
               "write it as IPv4 (::ffff:10.0.0.0/104 is 10.0.0.0/8), which "
               "matches IPv4-mapped clients too";
    }
    return NULL;
}

int bbt_input_net(const char *s, size_t len)
{
    return bbt_input_net_problem(s, len) == NULL;
}
