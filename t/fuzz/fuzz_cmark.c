/*
 * libFuzzer target: a notification's payload on 'bbtoken' as the
 * listener reads it (bbt_cmark.h), bytes any role that may NOTIFY the
 * channel chooses.  Held to the contract:
 *
 * - nothing is read past the text's end (AddressSanitizer: a block of
 *   exactly its length and its NUL);
 * - a payload names one token's mark only when it is "t:" and exactly
 *   twelve ASCII digits, one owner's only when it is "u:" and 1 to 19
 *   ASCII digits of at most 2^63 - 1, and then the mark is those digits as
 *   a number modulo BBT_CMARKS; anything else names every entry (mark
 *   -1);
 * - bbt_cmark_of on the same bytes (the id alone) agrees.
 *
 * Any broken rule aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_cmark.h"

/* The oracle: what the payload names, computed another way. */
static bbt_cmark_kind_t want_of(const char *text, size_t len, long *mark)
{
    unsigned long long v = 0;
    size_t i, digits = 0;
    int big = 0;

    *mark = -1;
    if (len < 3 || text[1] != ':') {
        return BBT_CMARK_ALL;
    }
    for (i = 2; i < len && text[i] >= '0' && text[i] <= '9'; i++) {
        digits++;
        if (v > 922337203685477580ULL ||
            (v == 922337203685477580ULL && text[i] > '7')) {
            big = 1;
        }
        v = v * 10 + (unsigned)(text[i] - '0');
    }
    if (i != len) {
        return BBT_CMARK_ALL;
    }
    if (text[0] == 't' && digits == 12) {
        *mark = (long)(v % BBT_CMARKS);
        return BBT_CMARK_TOKEN;
    }
    if (text[0] == 'u' && digits <= 19 && !big) {
        *mark = (long)(v % BBT_CMARKS);
        return BBT_CMARK_OWNER;
    }
    return BBT_CMARK_ALL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text;
    size_t len;
    long want_mark, got_mark;
    bbt_cmark_kind_t want, got;

    text = malloc(size + 1);
    if (!text) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    len = strlen(text);
    want = want_of(text, len, &want_mark);
    got = bbt_cmark_payload(text, &got_mark);
    if (got != want || got_mark != want_mark) {
        abort();
    }
    if (len >= 2 && text[0] == 't' && text[1] == ':' &&
        bbt_cmark_of(text + 2, len - 2) != want_mark) {
        abort();
    }
    free(text);
    return 0;
}
