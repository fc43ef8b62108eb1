/*
 * The cache's marks (see bbt_cmark.h).
 */
#include <string.h>

#include "bbt_cmark.h"
#include "bbt_input.h"

long bbt_cmark_of(const char *s, size_t len)
{
    unsigned long long v = 0;
    size_t i;

    if (!s || !bbt_input_token_id(s, len)) {
        return -1;
    }
    /* Twelve digits: below 10^12, no overflow. */
    for (i = 0; i < len; i++) {
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    return (long)(v % BBT_CMARKS);
}

long bbt_cmark_payload(const char *payload)
{
    size_t len;

    if (!payload || strncmp(payload, "t:", 2) != 0) {
        return -1;
    }
    len = strlen(payload + 2);
    return bbt_cmark_of(payload + 2, len);
}
