/*
 * libFuzzer target: method overrides (bbt_override.h) on hostile bytes.
 * The input is a method, a newline, then the text read as a header name,
 * a header's value and a query string (to its first NUL).  Held to models
 * written apart from the parser, each copying and decoding whole strings
 * where the module reads in place:
 *
 * - a header name is an override exactly when, lower-cased with "_" read
 *   as "-", it is one of the three names;
 * - a value passes exactly when every comma-separated element, trimmed,
 *   is the method;
 * - a query string passes exactly when no parameter (split at "&" and
 *   ";"), its name decoded, leading spaces dropped, is "_method" or
 *   ".method" in any case, alone or before "[" or a NUL, with a decoded
 *   value that is not the method;
 * - the method itself, as a value and as _method's value percent-encoded
 *   whole, always passes (when it is not empty).
 *
 * Any broken rule aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_override.h"

static int fz_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int fz_header(const char *name)
{
    static const char *const names[] = {"x-http-method-override",
                                        "x-http-method", "x-method-override"};
    char *n = strdup(name);
    size_t i;
    int hit = 0;

    if (!n) {
        abort();
    }
    for (i = 0; n[i]; i++) {
        n[i] = (char)(n[i] == '_' ? '-' : fz_lower((unsigned char)n[i]));
    }
    for (i = 0; i < 3; i++) {
        hit |= strcmp(n, names[i]) == 0;
    }
    free(n);
    return hit;
}

static int fz_value(const char *method, const char *value)
{
    char *v = strdup(value), *el = v, *end;
    int ok = *method != '\0';

    if (!v) {
        abort();
    }
    for (;;) {
        char *comma = strchr(el, ',');

        if (comma) {
            *comma = '\0';
        }
        while (*el == ' ' || *el == '\t') {
            el++;
        }
        end = el + strlen(el);
        while (end > el && (end[-1] == ' ' || end[-1] == '\t')) {
            *--end = '\0';
        }
        ok &= strcmp(el, method) == 0;
        if (!comma) {
            break;
        }
        el = comma + 1;
    }
    free(v);
    return ok;
}

static int fz_hex(int c)
{
    c = fz_lower(c);
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* s[0..n) percent-decoded into a fresh buffer: its length in *len. */
static char *fz_decode(const char *s, size_t n, size_t *len)
{
    char *out = malloc(n + 1);
    size_t i, o = 0;

    if (!out) {
        abort();
    }
    for (i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && fz_hex((unsigned char)s[i + 1]) >= 0 &&
            fz_hex((unsigned char)s[i + 2]) >= 0) {
            out[o++] = (char)(fz_hex((unsigned char)s[i + 1]) * 16 +
                              fz_hex((unsigned char)s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    out[o] = '\0';
    *len = o;
    return out;
}

static int fz_query(const char *method, const char *args)
{
    const char *p = args;
    int ok = 1;

    for (;;) {
        size_t plen = strcspn(p, "&;"), nlen, vlen, i;
        const char *eq = memchr(p, '=', plen);
        size_t rawn = eq ? (size_t)(eq - p) : plen;
        char *name = fz_decode(p, rawn, &nlen);
        char *val =
            fz_decode(eq ? eq + 1 : p + plen, eq ? plen - rawn - 1 : 0, &vlen);
        char *nm = name;
        int is_name;

        while (*nm == ' ' && nm < name + nlen) {
            nm++;
        }
        /* What is left of the decoded name, as bytes (a %00 is one). */
        nlen -= (size_t)(nm - name);
        is_name = nlen >= 7 && (nm[0] == '_' || nm[0] == '.');
        for (i = 1; is_name && i < 7; i++) {
            is_name = fz_lower((unsigned char)nm[i]) == "_method"[i];
        }
        is_name = is_name && (nlen == 7 || nm[7] == '[' || nm[7] == '\0');
        if (is_name && !(*method && vlen == strlen(method) &&
                         memcmp(val, method, vlen) == 0)) {
            ok = 0;
        }
        free(name);
        free(val);
        if (!p[plen]) {
            break;
        }
        p += plen + 1;
    }
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    char method[33], *text, *q;
    size_t mlen = nl ? (size_t)(nl - data) : 0, i;

    if (mlen > 32) {
        return 0;
    }
    memcpy(method, data, mlen);
    method[mlen] = '\0';
    if (strlen(method) != mlen) {
        return 0;
    }
    if (!nl) {
        strcpy(method, "POST");
        nl = data - 1;
    }
    size -= (size_t)(nl + 1 - data);
    if (!(text = malloc(size + 1))) {
        abort();
    }
    memcpy(text, nl + 1, size);
    text[size] = '\0';

    if (bbt_override_header(text) != fz_header(text)) {
        abort();
    }
    if (bbt_override_value_ok(method, text) != fz_value(method, text)) {
        abort();
    }
    if (bbt_override_query_ok(method, text) != fz_query(method, text)) {
        abort();
    }
    free(text);

    /* The method passes as itself. */
    if (*method && !strpbrk(method, ", \t") &&
        !bbt_override_value_ok(method, method)) {
        abort();
    }
    if (*method) {
        q = malloc(8 + 3 * strlen(method) + 1);
        if (!q) {
            abort();
        }
        strcpy(q, "_method=");
        for (i = 0; method[i]; i++) {
            sprintf(q + 8 + 3 * i, "%%%02X", (unsigned char)method[i]);
        }
        if (!bbt_override_query_ok(method, q)) {
            abort();
        }
        free(q);
    }
    return 0;
}
