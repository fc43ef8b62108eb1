/*
 * libFuzzer target: the cache entries' decoders on raw bytes (shared
 * memory is trusted to hold what the module wrote, but a decoder must
 * never read past what it is given nor turn garbage into a verdict).
 * Anything that decodes must encode back to exactly the same bytes, and
 * its verdict must be one the verdict rule knows.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_centry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char again[BBT_CENTRY_BUF];
    bbt_centry_t e;
    uint64_t stamp;
    bbt_level_t level;
    bbt_verdict_t v;
    size_t n;

    if (bbt_centry_decode(data, size, &e) == 0) {
        n = bbt_centry_encode(&e, again, sizeof(again));
        if (n != size || memcmp(again, data, size) != 0) {
            abort();
        }
        v = bbt_centry_verdict(&e, 1700000000000000LL, "alice", NULL);
        if (v < BBT_VERDICT_OK || v > BBT_VERDICT_BROKEN ||
            (e.kind != BBT_CENTRY_TOKEN && v == BBT_VERDICT_OK)) {
            abort();
        }
    }
    if (bbt_clevel_decode(data, size, &stamp, &level) == 0) {
        bbt_clevel_encode(stamp, level, again);
        if (size != BBT_CLEVEL_LEN || memcmp(again, data, size) != 0) {
            abort();
        }
    }
    return 0;
}
