/*
 * A hostile JSON body's shape, measured before jansson builds it
 * (bbt_jshape.h).
 *
 * One pass over the bytes, nothing allocated.  Outside strings, JSON's
 * structure is its brackets and commas: the first byte after an opening
 * bracket (a value, or an object member's name) is an item, and so is
 * each comma; a string runs to the first '"' not escaped by a '\'.
 * Whatever else a byte is, jansson judges it after: this pass only has to
 * count at least what jansson would build.
 */
#include "bbt_jshape.h"

#include <stdio.h>
#include <string.h>

/* Count one more item in the array or object open at depth d (items[d]),
 * and so one more value: OK, or the bound passed. */
static bbt_jshape_rc_t bbt_jshape_item(unsigned *items, unsigned d,
                                       const bbt_jshape_t *lim,
                                       bbt_jshape_t *seen)
{
    items[d]++;
    seen->values++;
    if (items[d] > seen->items) {
        seen->items = items[d];
    }
    if (items[d] > lim->items) {
        return BBT_JSHAPE_ITEMS;
    }
    return seen->values > lim->values ? BBT_JSHAPE_VALUES : BBT_JSHAPE_OK;
}

bbt_jshape_rc_t bbt_jshape_measure(const char *buf, size_t len,
                                   const bbt_jshape_t *lim, bbt_jshape_t *seen,
                                   size_t *at)
{
    /* items[d]: the items seen so far in the array or object open at
     * depth d (1 is the top one). */
    unsigned items[BBT_JSHAPE_DEPTH_MAX + 1];
    unsigned depth = 0;
    unsigned max =
        lim->depth < BBT_JSHAPE_DEPTH_MAX ? lim->depth : BBT_JSHAPE_DEPTH_MAX;
    bbt_jshape_rc_t rc = BBT_JSHAPE_OK;
    int in_string = 0;
    size_t i;

    memset(seen, 0, sizeof(*seen));
    *at = 0;
    for (i = 0; i < len && rc == BBT_JSHAPE_OK; i++) {
        unsigned char c = (unsigned char)buf[i];

        *at = i;
        if (in_string) {
            if (c == '\\') {
                i++; /* the escaped byte, '"' or '\' included */
            } else if (c == '"') {
                in_string = 0;
            }
            continue;
        }
        switch (c) {
        case ' ':
        case '\t':
        case '\n':
        case '\r':
        case ':':
            continue;
        case ',':
            /* At the top there is nothing to count: jansson stops there. */
            if (depth > 0) {
                rc = bbt_jshape_item(items, depth, lim, seen);
            }
            continue;
        case ']':
        case '}':
            if (depth > 0) {
                depth--;
            }
            continue;
        default:
            break;
        }
        /* A value's (or a member name's) first byte, or a byte further
         * into one: only the first after an opening bracket counts, as
         * a comma counted the others.  At the top, the first value. */
        if (depth > 0 ? items[depth] == 0 : seen->values == 0) {
            if (depth > 0) {
                rc = bbt_jshape_item(items, depth, lim, seen);
            } else {
                seen->values = 1;
                rc = lim->values < 1 ? BBT_JSHAPE_VALUES : BBT_JSHAPE_OK;
            }
        }
        if (c == '"') {
            in_string = 1;
        } else if (rc == BBT_JSHAPE_OK && (c == '[' || c == '{')) {
            if (++depth > seen->depth) {
                seen->depth = depth;
            }
            if (depth > max) {
                rc = BBT_JSHAPE_DEEP;
            } else {
                items[depth] = 0;
            }
        }
    }
    return rc;
}

bbt_jshape_rc_t bbt_jshape_load(const char *buf, size_t len,
                                const bbt_jshape_t *lim, json_t **out,
                                json_error_t *err)
{
    bbt_jshape_t seen;
    size_t at;
    bbt_jshape_rc_t rc;

    *out = NULL;
    memset(err, 0, sizeof(*err));
    rc = bbt_jshape_measure(buf ? buf : "", buf ? len : 0, lim, &seen, &at);
    switch (rc) {
    case BBT_JSHAPE_OK:
        break;
    case BBT_JSHAPE_DEEP:
        snprintf(err->text, sizeof(err->text),
                 "arrays and objects nest more than %u deep", lim->depth);
        break;
    case BBT_JSHAPE_ITEMS:
        snprintf(err->text, sizeof(err->text),
                 "an array or object holds more than %u items", lim->items);
        break;
    default:
        snprintf(err->text, sizeof(err->text), "it holds more than %u values",
                 lim->values);
        break;
    }
    if (rc != BBT_JSHAPE_OK) {
        err->position = (int)at;
        return rc;
    }
    /* Strict by default: one value and nothing after it, valid UTF-8, no
     * \u0000; duplicates refused here, at every depth. */
    *out = json_loadb(buf ? buf : "", buf ? len : 0,
                      JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, err);
    return *out ? BBT_JSHAPE_OK : BBT_JSHAPE_MALFORMED;
}
