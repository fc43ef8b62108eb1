/*
 * libFuzzer target: how long a WebDAV lock may last (bbt_locktime.h).  The
 * input is split at its first NUL: a LOCK's Timeout header, then a
 * BBTokenDAVLockMaxTimeout argument (without a NUL, no argument: the
 * default cap).  Held to models written here:
 *
 * - the argument is taken exactly when it is digits only and, its leading
 *   zeros dropped, a number from 1 to BBT_LOCKTIME_CAP_MAX compared as
 *   text; what is taken is that number, which printed again is the
 *   argument without its leading zeros;
 * - the seconds granted are never more than the cap nor less than 0, and
 *   exactly what the header's contract says: the first white-space
 *   separated word that starts with "Infinite" or "Second-" decides (none:
 *   the cap); Infinite is the cap, Second- the digits after it when there
 *   are some and they are at most the cap, else the cap;
 * - where the header starts with a word (no white space first, which
 *   mod_dav would read as an empty word and stop at), mod_dav reads the
 *   same word: its ap_getword_white and atol, written out here, read a
 *   number no greater than the cap exactly where one is granted, and the
 *   same number;
 * - the header the module writes in its place, "Second-N", is read by
 *   both as N again.
 *
 * Any broken rule aborts.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_locktime.h"
#include "fuzz_fields.h"

static int space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
           c == '\f';
}

/* The run of digits at s, its leading zeros dropped, as a number when it
 * is at most max, else -1; -2 when there is no digit at s. */
static long digits_upto(const char *s, long max)
{
    char text[32], limit[32];
    size_t n = strspn(s, "0123456789"), z = 0;

    if (n == 0)
        return -2;
    while (z + 1 < n && s[z] == '0')
        z++;
    snprintf(limit, sizeof(limit), "%ld", max);
    if (n - z > strlen(limit) ||
        (n - z == strlen(limit) && strncmp(s + z, limit, n - z) > 0))
        return -1;
    memcpy(text, s + z, n - z);
    text[n - z] = '\0';
    return strtol(text, NULL, 10);
}

/* The contract: the seconds granted for Timeout t under cap max. */
static long contract(const char *t, long max)
{
    const char *w;
    long n;

    if (!t)
        return max;
    for (;;) {
        while (space(*t))
            t++;
        if (!*t)
            return max;
        w = t;
        while (*t && !space(*t))
            t++;
        if (strncmp(w, "Infinite", 8) == 0)
            return max;
        if (strncmp(w, "Second-", 7) == 0) {
            n = digits_upto(w + 7, max);
            return n < 0 ? max : n;
        }
    }
}

/* mod_dav's dav_get_timeout: words as ap_getword_white cuts them (no
 * white space skipped before the first), an empty one ending the search;
 * the first Infinite or Second-N decides.  1 and *n when it reads a plain
 * number (digits first, as atol reads them) no greater than max; 0 for
 * Infinite, nothing understood, or anything else. */
static int mod_dav(const char *t, long max, long *n)
{
    const char *w;

    for (;;) {
        w = t;
        while (*t && !isspace((unsigned char)*t))
            t++;
        if (t == w)
            return 0;
        if (strncmp(w, "Infinite", 8) == 0)
            return 0;
        if (strncmp(w, "Second-", 7) == 0) {
            *n = digits_upto(w + 7, max);
            return *n >= 0;
        }
        while (isspace((unsigned char)*t))
            t++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    int has_arg = memchr(data, '\0', size) != NULL, read;
    char *timeout = fuzz_field(&p, end);
    char *arg = has_arg ? fuzz_field(&p, end) : NULL;
    char again[32];
    long cap = arg ? bbt_locktime_cap(arg) : -1, want, max, secs, dav = -1;
    size_t z;

    if (arg) {
        want = strspn(arg, "0123456789") == strlen(arg)
                   ? digits_upto(arg, BBT_LOCKTIME_CAP_MAX)
                   : -1;
        if (cap != (want < 1 ? -1 : want))
            abort();
        if (cap > 0) {
            for (z = 0; arg[z] == '0' && arg[z + 1]; z++)
                ;
            snprintf(again, sizeof(again), "%ld", cap);
            if (strcmp(again, arg + z) != 0)
                abort();
        }
    }
    max = cap > 0 ? cap : BBT_LOCKTIME_DEFAULT;
    secs = bbt_locktime(timeout, max);
    if (secs < 0 || secs > max || secs != contract(timeout, max) ||
        bbt_locktime(NULL, max) != max)
        abort();
    if (!space(timeout[0])) {
        read = mod_dav(timeout, max, &dav);
        if (read ? dav != secs : secs != max)
            abort();
    }
    snprintf(again, sizeof(again), "Second-%ld", secs);
    if (bbt_locktime(again, max) != secs || !mod_dav(again, max, &dav) ||
        dav != secs)
        abort();
    free(timeout);
    free(arg);
    return 0;
}
