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
#include "bbt_input.h"

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

/* Past the UTF-8 character at p. */
static const unsigned char *bbt_jshape_next(const unsigned char *p)
{
    for (p++; (*p & 0xc0) == 0x80; p++) {
    }
    return p;
}

int bbt_jshape_twin(const char *a, const char *b)
{
    const unsigned char *p = (const unsigned char *)a;
    const unsigned char *q = (const unsigned char *)b;

    for (; *p && *q; p = bbt_jshape_next(p), q = bbt_jshape_next(q)) {
        if (*p < 0x80 && *q < 0x80 && bbt_to_lower(*p) != bbt_to_lower(*q)) {
            return 0;
        }
    }
    return !*p && !*q;
}

/* The first two member names of one object in j, at any depth, that are
 * twins: 1 and *a, *b, or 0.  Pairs in each object: as many as its items
 * squared, which the shape bounded before. */
static int bbt_jshape_twins(json_t *j, const char **a, const char **b)
{
    void *it, *other;
    size_t i;
    json_t *v;

    if (json_is_array(j)) {
        json_array_foreach(j, i, v)
        {
            if (bbt_jshape_twins(v, a, b)) {
                return 1;
            }
        }
        return 0;
    }
    if (!json_is_object(j)) {
        return 0;
    }
    for (it = json_object_iter(j); it; it = json_object_iter_next(j, it)) {
        *a = json_object_iter_key(it);
        for (other = json_object_iter_next(j, it); other;
             other = json_object_iter_next(j, other)) {
            *b = json_object_iter_key(other);
            if (bbt_jshape_twin(*a, *b)) {
                return 1;
            }
        }
        if (bbt_jshape_twins(json_object_iter_value(it), a, b)) {
            return 1;
        }
    }
    return 0;
}

/* The length of s cut to at most max bytes, at a character's start. */
static int bbt_jshape_clip(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80) {
            n--;
        }
    }
    return (int)n;
}

size_t bbt_jshape_reason_len(const json_error_t *err)
{
    const char *near = strstr(err->text, " near '");

    return near ? (size_t)(near - err->text) : strlen(err->text);
}

bbt_jshape_rc_t bbt_jshape_load(const char *buf, size_t len,
                                const bbt_jshape_t *lim, json_t **out,
                                json_error_t *err)
{
    bbt_jshape_t seen;
    size_t at, bom = 0;
    bbt_jshape_rc_t rc;

    *out = NULL;
    memset(err, 0, sizeof(*err));
    /* One UTF-8 byte-order mark before the value is skipped, as
     * Bitbucket's own reader skips it (files written by Windows tools
     * begin with one); a second one, or one anywhere else, is refused. */
    if (buf && len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
        bom = 3;
        buf += bom;
        len -= bom;
    }
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
        err->position = (int)(at + bom);
        return rc;
    }
    /* Strict by default: one value and nothing after it, valid UTF-8, no
     * \u0000; duplicates refused here, at every depth. */
    *out = json_loadb(buf ? buf : "", buf ? len : 0,
                      JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, err);
    if (!*out) {
        err->position += (int)bom;
        return BBT_JSHAPE_MALFORMED;
    }
    if (lim->twins) {
        const char *a, *b;

        if (bbt_jshape_twins(*out, &a, &b)) {
            snprintf(err->text, sizeof(err->text),
                     "the member names \"%.*s\" and \"%.*s\" are one name "
                     "but for case",
                     bbt_jshape_clip(a, 48), a, bbt_jshape_clip(b, 48), b);
            err->position = 0;
            json_decref(*out);
            *out = NULL;
            return BBT_JSHAPE_TWIN;
        }
    }
    return BBT_JSHAPE_OK;
}
