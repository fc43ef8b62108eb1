/*
 * The query string's rules written out for the fuzzers of its readings
 * (fuzz_restargs.c, fuzz_qparams.c), by another road than APR's decoder:
 * "+" a space, %XX the byte XX, a "%" not followed by two hexadecimal
 * digits a broken escape, a %00 a NUL.
 */
#ifndef FUZZ_QUERY_H
#define FUZZ_QUERY_H

#include <stdlib.h>
#include <string.h>

typedef enum {
    FUZZ_Q_OK = 0,
    FUZZ_Q_BROKEN, /* a "%" without two hexadecimal digits (first) */
    FUZZ_Q_NUL     /* a %00, and no broken escape */
} fuzz_q_t;

static inline int fuzz_q_hex(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* s[0..n) decoded into a new string (free it; *outlen its length): how
 * it went. */
static inline fuzz_q_t fuzz_q_decode(const char *s, size_t n, char **out,
                                     size_t *outlen)
{
    char *d = malloc(n + 1);
    size_t i, k = 0;
    int broken = 0, nul = 0;

    if (!d)
        abort();
    for (i = 0; i < n; i++) {
        if (s[i] == '+') {
            d[k++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && fuzz_q_hex(s[i + 1]) >= 0 &&
                   fuzz_q_hex(s[i + 2]) >= 0) {
            d[k] = (char)(fuzz_q_hex(s[i + 1]) * 16 + fuzz_q_hex(s[i + 2]));
            nul |= d[k++] == '\0';
            i += 2;
        } else {
            broken |= s[i] == '%';
            d[k++] = s[i];
        }
    }
    d[k] = '\0';
    *out = d;
    *outlen = k;
    return broken ? FUZZ_Q_BROKEN : nul ? FUZZ_Q_NUL : FUZZ_Q_OK;
}

/* Every byte but letters and digits as %XX: a query's text for s. */
static inline char *fuzz_q_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *e = malloc(3 * strlen(s) + 1), *d = e;

    if (!e)
        abort();
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if ((c >= '0' && c <= '9') ||
            ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')) {
            *d++ = (char)c;
        } else {
            *d++ = '%';
            *d++ = hex[c >> 4];
            *d++ = hex[c & 15];
        }
    }
    *d = '\0';
    return e;
}

#endif
