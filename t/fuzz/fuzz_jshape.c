/*
 * libFuzzer target: a hostile body's shape measured before jansson builds
 * it (bbt_jshape).  The input is the body.  Invariants: whatever jansson
 * reads as JSON with no member name twice (as bbt_jshape_load reads it:
 * with twins jansson keeps one, the bytes hold both) is measured exactly
 * as jansson builds it (depth, the most items in one array or object,
 * values); a measure under a bound stops at
 * the first thing over it and never reads past the input; what
 * bbt_jshape_load takes is within the bound, and what it refuses for its
 * shape is over it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_jshape.h"
#include "jshape_oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const bbt_jshape_t unbounded = {BBT_JSHAPE_DEPTH_MAX, 1u << 30,
                                           1u << 30, 0};
    static const bbt_jshape_t small = {3, 5, 12, 0};
    /* A copy of exactly size bytes, so that ASan sees any overread. */
    char *buf = malloc(size ? size : 1);
    bbt_jshape_t want = {0, 0, 0, 0}, seen;
    json_error_t err;
    json_t *j;
    size_t at;
    bbt_jshape_rc_t rc;

    if (!buf) {
        return 0;
    }
    memcpy(buf, data, size);
    rc = bbt_jshape_measure(buf, size, &unbounded, &seen, &at);
    j = json_loadb(buf, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (j) {
        jshape_oracle(j, 1, &want);
        if (want.depth <= BBT_JSHAPE_DEPTH_MAX &&
            (rc != BBT_JSHAPE_OK || seen.depth != want.depth ||
             seen.items != want.items || seen.values != want.values)) {
            abort();
        }
        json_decref(j);
    }
    rc = bbt_jshape_measure(buf, size, &small, &seen, &at);
    if (rc != BBT_JSHAPE_OK && (at >= size || rc == BBT_JSHAPE_MALFORMED)) {
        abort();
    }
    if (rc == BBT_JSHAPE_OK &&
        (seen.depth > small.depth || seen.items > small.items ||
         seen.values > small.values)) {
        abort();
    }
    switch (bbt_jshape_load(buf, size, &small, &j, &err)) {
    case BBT_JSHAPE_OK:
        want.depth = want.items = want.values = 0;
        jshape_oracle(j, 1, &want);
        if (want.depth > small.depth || want.items > small.items ||
            want.values > small.values) {
            abort();
        }
        json_decref(j);
        break;
    case BBT_JSHAPE_MALFORMED:
        if (j || rc != BBT_JSHAPE_OK) {
            abort();
        }
        break;
    default:
        if (j || rc == BBT_JSHAPE_OK) {
            abort();
        }
        break;
    }
    free(buf);
    return 0;
}
