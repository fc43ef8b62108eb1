/*
 * Fuzz inputs made of fields split at NUL bytes: the next field, copied
 * and NUL-terminated.
 */
#ifndef FUZZ_FIELDS_H
#define FUZZ_FIELDS_H

#include <stdlib.h>
#include <string.h>

/* The field at *p (up to a NUL or end) in a copy of its own (free it),
 * and *p moved past it and its NUL. */
static inline char *fuzz_field(const char **p, const char *end)
{
    const char *nul = memchr(*p, '\0', (size_t)(end - *p));
    size_t len = (size_t)((nul ? nul : end) - *p);
    char *s = malloc(len + 1);

    if (!s) {
        abort();
    }
    memcpy(s, *p, len);
    s[len] = '\0';
    *p = nul ? nul + 1 : end;
    return s;
}

#endif
