/*
 * Method overrides (see bbt_override.h).  What is refused is whatever a
 * backend could read as another method than the request line's; where
 * backends read a name or a value differently, the reading that finds an
 * override wins, so that none of them finds one the module let through.
 */
#include "bbt_override.h"

#include <string.h>

/* The header names, lower case, "-" where a backend may also read "_". */
static const char *const bbt_override_names[] = {
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
};

static int bbt_ov_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

int bbt_override_header(const char *name)
{
    size_t i, k;

    /* Most headers are turned away by their first two bytes. */
    if (bbt_ov_lower((unsigned char)name[0]) != 'x' ||
        (name[1] != '-' && name[1] != '_')) {
        return 0;
    }
    for (k = 0; k < sizeof(bbt_override_names) / sizeof(*bbt_override_names);
         k++) {
        const char *want = bbt_override_names[k];

        for (i = 2; want[i]; i++) {
            int c = bbt_ov_lower((unsigned char)name[i]);

            if (c != want[i] && !(want[i] == '-' && c == '_')) {
                break;
            }
        }
        if (!want[i] && !name[i]) {
            return 1;
        }
    }
    return 0;
}

int bbt_override_value_ok(const char *method, const char *value)
{
    size_t mlen = strlen(method);
    const char *s, *e;

    if (mlen == 0) {
        return 0;
    }
    for (;;) {
        e = value + strcspn(value, ",");
        for (s = value; s < e && (*s == ' ' || *s == '\t'); s++) {
        }
        while (e > s && (e[-1] == ' ' || e[-1] == '\t')) {
            e--;
        }
        if ((size_t)(e - s) != mlen || memcmp(s, method, mlen) != 0) {
            return 0;
        }
        value += strcspn(value, ",");
        if (!*value) {
            return 1;
        }
        value++;
    }
}

static int bbt_ov_hex(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = bbt_ov_lower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The next byte of [*p, end) percent-decoded ("+" a space, a broken
 * escape its "%" as it is), or -1 at the end.  Decoded as it is read:
 * nothing is allocated or copied. */
static int bbt_ov_next(const char **p, const char *end)
{
    const unsigned char *s = (const unsigned char *)*p;
    int hi, lo;

    if (*p >= end) {
        return -1;
    }
    if (s[0] == '%' && end - *p >= 3 && (hi = bbt_ov_hex(s[1])) >= 0 &&
        (lo = bbt_ov_hex(s[2])) >= 0) {
        *p += 3;
        return hi * 16 + lo;
    }
    (*p)++;
    return s[0] == '+' ? ' ' : s[0];
}

/* Whether the raw parameter name [p, end) is _method as some backend
 * reads it: any case; PHP drops leading spaces, reads "." as "_", takes
 * "_method[...]" for an array named _method and ends a name at a NUL. */
static int bbt_ov_is_method_name(const char *p, const char *end)
{
    static const char rest[] = "method";
    size_t i;
    int c;

    while ((c = bbt_ov_next(&p, end)) == ' ') {
    }
    if (c != '_' && c != '.') {
        return 0;
    }
    for (i = 0; rest[i]; i++) {
        if (bbt_ov_lower(bbt_ov_next(&p, end)) != rest[i]) {
            return 0;
        }
    }
    c = bbt_ov_next(&p, end);
    return c == -1 || c == '[' || c == 0;
}

/* Whether the raw value [p, end), decoded, is method exactly. */
static int bbt_ov_is_value(const char *p, const char *end, const char *method)
{
    if (!*method) {
        return 0;
    }
    for (; *method; method++) {
        if (bbt_ov_next(&p, end) != (unsigned char)*method) {
            return 0;
        }
    }
    return p == end;
}

int bbt_override_query_ok(const char *method, const char *args)
{
    const char *end, *eq;

    if (!args) {
        return 1;
    }
    for (;;) {
        end = args + strcspn(args, "&;");
        eq = memchr(args, '=', (size_t)(end - args));
        if (bbt_ov_is_method_name(args, eq ? eq : end) &&
            !bbt_ov_is_value(eq ? eq + 1 : end, end, method)) {
            return 0;
        }
        if (!*end) {
            return 1;
        }
        args = end + 1;
    }
}
