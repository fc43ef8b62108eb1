/*
 * libFuzzer target: a notification's payload on 'bbtoken' as the
 * listener reads it (bbt_cmark.h), bytes any role that may NOTIFY the
 * channel chooses.  Held to the contract:
 *
 * - nothing is read past the text's end (AddressSanitizer: a block of
 *   exactly its length and its NUL);
 * - a payload names one token's mark only when it is "t:" and exactly
 *   twelve ASCII digits, and then the mark is those digits as a number
 *   modulo BBT_CMARKS; anything else is -1 (every entry forgotten);
 * - bbt_cmark_of on the same bytes (the id alone) agrees.
 *
 * Any broken rule aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_cmark.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text;
    size_t len, i;
    unsigned long long v = 0;
    long want = -1, got;

    text = malloc(size + 1);
    if (!text) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    len = strlen(text);
    if (len == 14 && text[0] == 't' && text[1] == ':') {
        for (i = 2; i < 14 && text[i] >= '0' && text[i] <= '9'; i++) {
            v = v * 10 + (unsigned)(text[i] - '0');
        }
        if (i == 14) {
            want = (long)(v % BBT_CMARKS);
        }
    }
    got = bbt_cmark_payload(text);
    if (got != want) {
        abort();
    }
    if (len >= 2 && text[0] == 't' && text[1] == ':' &&
        bbt_cmark_of(text + 2, len - 2) != want) {
        abort();
    }
    free(text);
    return 0;
}
