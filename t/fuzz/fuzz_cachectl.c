/*
 * libFuzzer target: the Cache-Control of a private response
 * (bbt_cachectl.h) from whatever a backend sent.  Held to the contract:
 *
 * - the value is written within the size bbt_cachectl_private_size
 *   says, and refused into less;
 * - it starts with the directive "private", whatever else it holds
 *   (a cache may ignore "no-store");
 * - no directive of it is "public" or "s-maxage", in any case;
 * - it is its own private value: applied again it changes nothing;
 * - no quoted string of it is left open;
 * - a value that is RFC 9110's #cache-directive exactly (token [ "="
 *   ( token / quoted-string ) ], OWS and commas between) comes out as a
 *   model written from that grammar, not from the parser, says: its
 *   directives but public, s-maxage and private, in order, after
 *   "private";
 * - a value whose last quoted string is never closed comes out as the
 *   value cut before the directive that quote is in: nothing inside it is
 *   a directive.
 *
 * Any broken rule aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bbt_cachectl.h"

/* Whether a directive of v (split at commas outside quoted strings,
 * trimmed) is name, alone or with a value. */
static int fz_has(const char *v, const char *name)
{
    size_t n = strlen(name);
    const char *p = v;

    while (*p) {
        const char *d = p, *end;
        int quoted = 0;

        while (*p && (quoted || *p != ',')) {
            if (quoted && *p == '\\' && p[1]) {
                p++;
            } else if (*p == '"') {
                quoted = !quoted;
            }
            p++;
        }
        end = p;
        if (*p) {
            p++;
        }
        while (d < end && (*d == ' ' || *d == '\t')) {
            d++;
        }
        while (end > d && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }
        if ((size_t)(end - d) >= n && strncasecmp(d, name, n) == 0 &&
            ((size_t)(end - d) == n || d[n] == '=')) {
            return 1;
        }
    }
    return 0;
}

/* RFC 9110 5.6.2: tchar. */
static int fz_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* 5.6.4: qdtext, and what may follow a backslash in a quoted-pair. */
static int fz_qdtext(unsigned char c)
{
    return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
           (c >= 0x5d && c <= 0x7e) || c >= 0x80;
}

static int fz_pairable(unsigned char c)
{
    return c == '\t' || c == ' ' || (c >= 0x21 && c <= 0x7e) || c >= 0x80;
}

static int fz_named(const char *d, size_t n, const char *name)
{
    return n == strlen(name) && strncasecmp(d, name, n) == 0;
}

/* The value v as the grammar's model says it comes out, into want (room
 * for strlen(v) * 2 + 16): 1, or 0 if v is not #cache-directive. */
static int fz_model(const char *v, char *want)
{
    const unsigned char *p = (const unsigned char *)v;
    size_t used = 0;
    int first = 1;

    want[0] = '\0';
    for (;;) {
        const unsigned char *d, *name_end;

        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        if (!*p) {
            break;
        }
        d = p;
        while (fz_tchar(*p)) {
            p++;
        }
        if (p == d) {
            return 0;
        }
        name_end = p;
        if (*p == '=') {
            p++;
            if (*p == '"') {
                for (p++; *p != '"'; p++) {
                    if (*p == '\\' && fz_pairable(p[1])) {
                        p++;
                    } else if (!fz_qdtext(*p)) {
                        return 0; /* the end of v included: unclosed */
                    }
                }
                p++;
            } else if (!fz_tchar(*p)) {
                return 0;
            } else {
                while (fz_tchar(*p)) {
                    p++;
                }
            }
        }
        {
            size_t n = (size_t)(name_end - d), len = (size_t)(p - d);

            while (*p == ' ' || *p == '\t') {
                p++;
            }
            if (*p && *p != ',') {
                return 0;
            }
            if (fz_named((const char *)d, n, "public") ||
                fz_named((const char *)d, n, "s-maxage") ||
                fz_named((const char *)d, n, "private")) {
                continue;
            }
            if (!first) {
                memcpy(want + used, ", ", 2);
                used += 2;
            }
            memcpy(want + used, d, len);
            used += len;
            want[used] = '\0';
            first = 0;
        }
    }
    memmove(want + (used ? 9 : 7), want, used + 1);
    memcpy(want, used ? "private, " : "private", used ? 9 : 7);
    return 1;
}

/* Where v's last quoted string opens, if it is never closed: 1 and *cut,
 * the offset of the comma before the directive it is in (0 if none), or
 * 0.  Quotes as RFC 9110 lexes them: a backslash inside one escapes the
 * byte after it. */
static int fz_unclosed(const char *v, size_t *cut)
{
    size_t i, comma = 0;
    int in = 0;

    for (i = 0; v[i]; i++) {
        if (in && v[i] == '\\' && v[i + 1]) {
            i++;
        } else if (v[i] == '"') {
            in = !in;
        } else if (!in && v[i] == ',') {
            comma = i;
        }
    }
    *cut = comma;
    return in;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cut;
    char *want;
    char *v, *out, *again;
    size_t need, need2;

    if (!(v = malloc(size + 1))) {
        return 0;
    }
    memcpy(v, data, size);
    v[size] = '\0';
    need = bbt_cachectl_private_size(v);
    out = malloc(need);
    if (!out) {
        abort();
    }
    if (need > 0 && bbt_cachectl_private(v, out, need - 1) != NULL) {
        abort();
    }
    if (bbt_cachectl_private(v, out, need) != out || strlen(out) >= need) {
        abort();
    }
    if (!(strncmp(out, "private", 7) == 0 && (!out[7] || out[7] == ','))) {
        abort();
    }
    if (fz_has(out, "public") || fz_has(out, "s-maxage")) {
        abort();
    }
    need2 = bbt_cachectl_private_size(out);
    if (!(again = malloc(need2)) ||
        bbt_cachectl_private(out, again, need2) != again ||
        strcmp(again, out) != 0) {
        abort();
    }
    free(again);
    if (fz_unclosed(out, &cut)) {
        abort();
    }
    if (!(want = malloc(2 * size + 16))) {
        abort();
    }
    if (fz_model(v, want) && strcmp(want, out) != 0) {
        abort();
    }
    if (fz_unclosed(v, &cut)) {
        v[cut] = '\0';
        need2 = bbt_cachectl_private_size(v);
        if (!(again = malloc(need2)) ||
            bbt_cachectl_private(v, again, need2) != again ||
            strcmp(again, out) != 0) {
            abort();
        }
        free(again);
    }
    free(want);
    free(out);
    free(v);
    return 0;
}
