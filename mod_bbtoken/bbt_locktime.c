/*
 * How long a WebDAV lock may last: see bbt_locktime.h.
 */
#include <string.h>

#include "bbt_locktime.h"

static int bbt_lt_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
           c == '\f';
}

/* Second-N's N, up to its word's end: a plain decimal no greater than max,
 * or max (mod_dav's atol would take a sign, leading space, overflow). */
static long bbt_lt_seconds(const char *p, long max)
{
    long n = 0;

    if (*p < '0' || *p > '9') {
        return max;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (*p - '0');
        if (n > max) {
            return max;
        }
    }
    /* "Second-10," as one word of a list: mod_dav's atol stops there too. */
    return n;
}

long bbt_locktime(const char *timeout, long max)
{
    const char *p = timeout;

    if (!p) {
        return max;
    }
    for (;;) {
        const char *w;

        while (bbt_lt_space(*p)) {
            p++;
        }
        if (!*p) {
            return max;
        }
        w = p;
        while (*p && !bbt_lt_space(*p)) {
            p++;
        }
        /* As mod_dav: the word's start decides, what follows is ignored. */
        if (!strncmp(w, "Infinite", 8)) {
            return max;
        }
        if (!strncmp(w, "Second-", 7)) {
            return bbt_lt_seconds(w + 7, max);
        }
    }
}

long bbt_locktime_cap(const char *arg)
{
    long n = 0;

    if (!arg || !*arg) {
        return -1;
    }
    for (; *arg; arg++) {
        if (*arg < '0' || *arg > '9') {
            return -1;
        }
        /* Stops before it could overflow, however many digits follow. */
        n = n * 10 + (*arg - '0');
        if (n > BBT_LOCKTIME_CAP_MAX) {
            return -1;
        }
    }
    return n >= 1 ? n : -1;
}
