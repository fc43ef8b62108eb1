/*
 * A fresh token, and a search for its bytes, for the unit tests of what is
 * keyed by a token (the cache's keys, the threads' memory of verified
 * tokens).  Include after tap.h.
 */
#ifndef BBT_TOKEN_FIXTURE_H
#define BBT_TOKEN_FIXTURE_H

#include <string.h>

#include "bbt_token.h"

static bbt_token_t new_token(void)
{
    char s[BBT_TOKEN_MAX_LEN + 1], id[BBT_TOKEN_ID_LEN + 1];
    bbt_token_t t;

    memset(&t, 0, sizeof(t));
    if (bbt_token_generate(s, id) != 0 ||
        bbt_token_parse(s, strlen(s), &t) != BBT_TOKEN_OK) {
        diag("could not make a token");
    }
    return t;
}

/* 1 if needle[0..n) occurs in hay[0..len).  Not every test asks. */
__attribute__((unused)) static int holds(const unsigned char *hay, size_t len,
                                         const unsigned char *needle, size_t n)
{
    size_t i;

    for (i = 0; i + n <= len; i++) {
        if (memcmp(hay + i, needle, n) == 0) {
            return 1;
        }
    }
    return 0;
}

#endif
