/*
 * jansson's own count of a JSON value's shape, the oracle the unit test
 * and the fuzz target hold bbt_jshape's measure to.
 */
#ifndef BBT_JSHAPE_ORACLE_H
#define BBT_JSHAPE_ORACLE_H

#include <jansson.h>

#include "bbt_jshape.h"

/* Into s: j's shape, j at depth d (the top one's 1 if it is an array or
 * object). */
static void jshape_oracle(json_t *j, unsigned d, bbt_jshape_t *s)
{
    const char *k;
    json_t *v;
    size_t i, n = 0;

    s->values++;
    if (!json_is_array(j) && !json_is_object(j)) {
        return;
    }
    if (d > s->depth) {
        s->depth = d;
    }
    if (json_is_array(j)) {
        n = json_array_size(j);
        json_array_foreach(j, i, v)
        {
            jshape_oracle(v, d + 1, s);
        }
    } else {
        n = json_object_size(j);
        json_object_foreach(j, k, v)
        {
            jshape_oracle(v, d + 1, s);
        }
    }
    if (n > s->items) {
        s->items = (unsigned)n;
    }
}

#endif
