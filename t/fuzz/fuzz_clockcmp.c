/*
 * libFuzzer target: the database's clock as the listener reads it
 * (bbt_clockcmp.h), the database's bytes.  The first 16 bytes are this
 * host's two readings, the rest the text.  Held to the contract:
 *
 * - nothing is read past the text's end (AddressSanitizer: a block of
 *   exactly its length and its NUL); no overflow (UBSan);
 * - a text read (up to its first NUL, where libpq's value ends) is an
 *   optional '-' and digits only, and one not read proves nothing
 *   (both zero);
 * - a text read proves at most one of behind and ahead, never negative,
 *   and exactly what the readings and the number say.
 *
 * Any broken rule aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_clockcmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t sent, got;
    bbt_clockcmp_t c;
    char *text;
    size_t i, start;
    int rc, digits = 1;

    if (size < 16) {
        return 0;
    }
    memcpy(&sent, data, 8);
    memcpy(&got, data + 8, 8);
    text = malloc(size - 16 + 1);
    if (!text) {
        return 0;
    }
    memcpy(text, data + 16, size - 16);
    text[size - 16] = '\0';
    rc = bbt_clockcmp(sent, got, text, &c);
    start = text[0] == '-';
    if (text[start] == '\0') {
        digits = 0;
    }
    for (i = start; text[i]; i++) {
        digits &= text[i] >= '0' && text[i] <= '9';
    }
    if (rc != 0) {
        if (rc != -1 || c.behind != 0 || c.ahead != 0) {
            abort();
        }
    } else {
        long long d = strtoll(text, NULL, 10);

        if (!digits || got < sent || c.behind < 0 || c.ahead < 0 ||
            (c.behind && c.ahead) || c.behind != (d > got ? d - got : 0) ||
            c.ahead != (d < sent ? sent - d : 0)) {
            abort();
        }
    }
    free(text);
    return 0;
}
