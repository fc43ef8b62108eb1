/*
 * The Cache-Control value of a private response (see bbt_cachectl.h).
 * Directives are split at every comma outside a quoted string (a value such
 * as no-cache="Set-Cookie, Authorization" is one directive) and trimmed of
 * spaces and tabs; empty ones are dropped.
 *
 * A quoted string that is never closed (RFC 9110's quoted-string ends with
 * its DQUOTE) leaves no way to tell where its directive ends: a reader
 * that honours the quote sees one directive to the end of the value, one
 * that splits at commas sees every "no-store" or "public" inside it.  So
 * that directive and the rest of the value, all inside the quote, are
 * dropped: nothing in it is read as a directive or passed on.
 */
#include "bbt_cachectl.h"

#include <string.h>
#include <strings.h>

static const char bbt_cc_private[] = "private";
#define BBT_CC_LEAD "private, "

size_t bbt_cachectl_private_size(const char *value)
{
    /* "a,b" comes out as "a, b": at most one byte more per comma. */
    return 2 * (value ? strlen(value) : 0) + sizeof(BBT_CC_LEAD);
}

/* d[0..len) is the directive name, alone or with "=value". */
static int bbt_cc_is(const char *d, size_t len, const char *name)
{
    size_t n = strlen(name);

    return len >= n && strncasecmp(d, name, n) == 0 &&
           (len == n || d[n] == '=');
}

/* Whether d[0..len), not empty, is a directive a private response drops.
 * Most directives start with neither letter and are compared with none. */
static int bbt_cc_dropped(const char *d, size_t len)
{
    switch (*d) {
    case 'p':
    case 'P':
        return bbt_cc_is(d, len, "public") || bbt_cc_is(d, len, "private");
    case 's':
    case 'S':
        return bbt_cc_is(d, len, "s-maxage");
    default:
        return 0;
    }
}

/* Where the directive at p ends: at the first comma outside a quoted
 * string, or at the end of the value; NULL if a quoted string in it is
 * never closed.  The bytes between are skipped a run at a time. */
static const char *bbt_cc_end(const char *p)
{
    for (;;) {
        p += strcspn(p, ",\"");
        if (*p != '"') {
            return p;
        }
        /* In the quoted string: to its closing quote, each backslash
         * escaping the byte after it. */
        for (p++;; p += 2) {
            p += strcspn(p, "\"\\");
            if (*p == '"') {
                break;
            }
            if (*p == '\0' || p[1] == '\0') {
                return NULL;
            }
        }
        p++;
    }
}

/* Append d[0..len) to out at *used, after ", " unless it is the first. */
static void bbt_cc_append(char *out, size_t *used, const char *d, size_t len)
{
    if (*used > 0) {
        memcpy(out + *used, ", ", 2);
        *used += 2;
    }
    memcpy(out + *used, d, len);
    *used += len;
}

/* "private" leads even beside "no-store": a cache that understands
 * must-understand and the status ignores no-store (RFC 9111, 5.2.2.3, the
 * pair it advises backends to send), and must-revalidate then lets a
 * shared cache reuse the answer to a request with credentials (3.5). */
char *bbt_cachectl_private(const char *value, char *out, size_t outlen)
{
    const char *p = value;
    size_t used, lead = sizeof(BBT_CC_LEAD) - 1;

    if (!out || outlen < bbt_cachectl_private_size(value)) {
        return NULL;
    }
    /* The kept directives go after room for the lead. */
    used = 0;
    while (p && *p) {
        const char *d = p, *end = bbt_cc_end(p);
        size_t len;

        if (!end) {
            break; /* unclosed: see above */
        }
        p = *end == ',' ? end + 1 : end;
        while (d < end && (*d == ' ' || *d == '\t')) {
            d++;
        }
        while (end > d && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }
        len = (size_t)(end - d);
        if (len == 0 || bbt_cc_dropped(d, len)) {
            continue;
        }
        bbt_cc_append(out + lead, &used, d, len);
    }
    if (used == 0) {
        memcpy(out, bbt_cc_private, sizeof(bbt_cc_private));
    } else {
        memcpy(out, BBT_CC_LEAD, lead);
        out[lead + used] = '\0';
    }
    return out;
}
