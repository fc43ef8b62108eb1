/*
 * The cache's marks (see bbt_cmark.h).
 */
#include <string.h>

#include "bbt_cmark.h"
#include "bbt_input.h"

long bbt_cmark_of(const char *s, size_t len)
{
    unsigned long long v = 0;
    unsigned d, bad = 0;
    size_t i;

    if (!s || len != BBT_TOKEN_ID_LEN) {
        return -1;
    }
    /* Read and checked in one pass, each cached request's id: a byte that
     * is no digit marks bad (its "value" wraps, and is not used).  Twelve
     * digits are below 10^12, no overflow. */
    for (i = 0; i < BBT_TOKEN_ID_LEN; i++) {
        d = (unsigned)(unsigned char)s[i] - '0';
        bad |= d > 9;
        v = v * 10 + d;
    }
    return bad ? -1 : (long)(v % BBT_CMARKS);
}

long bbt_cmark_owner(long long owner)
{
    long m = (long)(owner % BBT_CMARKS);

    return m < 0 ? m + BBT_CMARKS : m;
}

/* A user's id as the database prints a bigint that is not negative: 1 to
 * 19 digits, at most 2^63 - 1 (leading zeros too: the value is what
 * counts); -1 for anything else. */
static long long bbt_cmark_user(const char *s)
{
    unsigned long long v = 0;
    size_t i;

    for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
        if (v > (9223372036854775807ULL - (unsigned)(s[i] - '0')) / 10) {
            return -1;
        }
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    return i > 0 && i <= 19 && s[i] == '\0' ? (long long)v : -1;
}

bbt_cmark_kind_t bbt_cmark_payload(const char *payload, long *mark)
{
    long long owner;

    *mark = -1;
    if (!payload || payload[0] == '\0' || payload[1] != ':') {
        return BBT_CMARK_ALL;
    }
    if (payload[0] == 't') {
        *mark = bbt_cmark_of(payload + 2, strlen(payload + 2));
        return *mark < 0 ? BBT_CMARK_ALL : BBT_CMARK_TOKEN;
    }
    if (payload[0] == 'u' && (owner = bbt_cmark_user(payload + 2)) >= 0) {
        *mark = bbt_cmark_owner(owner);
        return BBT_CMARK_OWNER;
    }
    return BBT_CMARK_ALL;
}
