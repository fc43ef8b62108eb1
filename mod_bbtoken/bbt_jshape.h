/*
 * A hostile JSON body's shape, measured before jansson builds it.
 *
 * jansson allocates a node for every value it reads and has no bound on
 * how many: 64 KiB of `[{},{},...]` is some 22,000 objects, about 5 MB,
 * per request and per thread.  What reads a body knows how large a body
 * it can use, so it names the bound (how deep, how many items in one
 * array or object, how many values in all) and a body over it is refused
 * after one pass over its bytes, with nothing allocated.
 *
 * bbt_jshape_load is the one way a request body becomes JSON: the shape
 * first, then jansson, strictly (one value and nothing after it, valid
 * UTF-8, no \u0000, no member name twice at any depth: another decoder,
 * a proxy's or a backend's, might take the other one), and when asked, no
 * name twice in two cases either.
 *
 * Nothing here knows httpd.
 */
#ifndef BBT_JSHAPE_H
#define BBT_JSHAPE_H

#include <stddef.h>

#include <jansson.h>

/* The deepest bound that may be asked for (arrays and objects in one
 * another; the top one is 1). */
#define BBT_JSHAPE_DEPTH_MAX 32

typedef struct {
    unsigned depth;  /* arrays and objects in one another, the top one 1 */
    unsigned items;  /* elements of one array or members of one object */
    unsigned values; /* values in all, the top one and every item */
    /* For bbt_jshape_load: 1 refuses, at any depth, an object with two
     * member names that are one but for case (bbt_jshape_twin).  Where
     * a body is read for a few members only, and a backend reads it whole,
     * the reader asks about those members instead (bbt_body.h). */
    unsigned twins;
} bbt_jshape_t;

typedef enum {
    BBT_JSHAPE_OK = 0,
    BBT_JSHAPE_DEEP,      /* nests deeper than lim->depth */
    BBT_JSHAPE_ITEMS,     /* an array or object of more than lim->items */
    BBT_JSHAPE_VALUES,    /* more than lim->values values */
    BBT_JSHAPE_MALFORMED, /* within the bound, but not JSON (jansson's) */
    BBT_JSHAPE_TWIN       /* lim->twins: two member names one but for case */
} bbt_jshape_rc_t;

/* Measure len bytes (JSON or not) into *seen, as far as lim allows: OK,
 * or the first bound passed (*seen then stops there, and *at is the
 * offset of the byte that passed it).  For JSON, *seen is exactly its
 * shape; for anything else, at least the shape of what jansson would
 * build before it stops.  lim->depth is at most BBT_JSHAPE_DEPTH_MAX. */
bbt_jshape_rc_t bbt_jshape_measure(const char *buf, size_t len,
                                   const bbt_jshape_t *lim, bbt_jshape_t *seen,
                                   size_t *at);

/* len bytes as JSON of shape within lim into *out (the caller owns it):
 * OK, or why not, *out NULL and err->text saying why in English (for a
 * bound: which it is; for MALFORMED, jansson's words; for TWIN, the two
 * names, each cut to at most 48 bytes of whole UTF-8 characters),
 * err->position the byte (0 for TWIN).  Any JSON value at the top: the
 * caller checks its type. */
bbt_jshape_rc_t bbt_jshape_load(const char *buf, size_t len,
                                const bbt_jshape_t *lim, json_t **out,
                                json_error_t *err);

/* How much of err->text (from bbt_jshape_load) is the reason, before
 * jansson's quote of the bytes where it stopped (" near '...'"): those are
 * the body's own, which may hold a secret, and go to no log. */
size_t bbt_jshape_reason_len(const json_error_t *err);

/* 1 if member names a and b (UTF-8) might be one name to a decoder that
 * matches names regardless of case: as many code points, each pair ASCII
 * letters equal but for case, or either one not ASCII (Unicode case
 * folding maps some to ASCII letters: the Kelvin sign to k, the long s to
 * s).  Go's encoding/json matches so, and the last one wins. */
int bbt_jshape_twin(const char *a, const char *b);

#endif
