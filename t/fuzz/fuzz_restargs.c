/*
 * libFuzzer target: the REST API's query arguments (bbt_query_rest, which
 * bbt_rest_args_read gives a request's query string).  The input, up to
 * its first NUL, is the query string.  Held to the rules written out here
 * (fuzz_query.h: split at "&", an empty argument skipped, each at its
 * first "=", name and value decoded by another road than APR's):
 *
 * - refused exactly when an argument's name, or else its value, does not
 *   decode or is not UTF-8 text without controls (bbt_input_utf8), the
 *   first such one in the query saying why: a broken escape before a
 *   %00, a %00 before the text;
 * - taken, it holds each name once, with the value its first argument
 *   gave, and nothing else;
 * - taken, its names and values written out again, every byte but
 *   letters and digits escaped, read back as the same arguments.
 *
 * There is always a table, empty for no query.  Any broken rule aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apr_general.h"
#include "apr_hash.h"
#include "apr_pools.h"
#include "apr_strings.h"

#include "bbt_input.h"
#include "bbt_query.h"
#include "fuzz_query.h"

#define WHY_BROKEN "followed by two hexadecimal"
#define WHY_NUL "%00"
#define WHY_TEXT "not UTF-8 text"

/* The model's answer for one decoded part: NULL, or the words of why. */
static const char *part_why(const char *s, size_t n, char **out)
{
    size_t len;
    fuzz_q_t q = fuzz_q_decode(s, n, out, &len);

    return q == FUZZ_Q_BROKEN      ? WHY_BROKEN
           : q == FUZZ_Q_NUL       ? WHY_NUL
           : !bbt_input_utf8(*out) ? WHY_TEXT
                                   : NULL;
}

/* The arguments of args by the model into h (names and values in p): NULL,
 * or the words of why the query is refused. */
static const char *model(apr_pool_t *p, const char *args, apr_hash_t *h)
{
    const char *seg = args, *why = NULL;
    size_t n, k;

    for (; !why; seg += n + 1) {
        const char *eq;
        char *name = NULL, *value = NULL;

        n = strcspn(seg, "&");
        if (n) {
            eq = memchr(seg, '=', n);
            k = eq ? (size_t)(eq - seg) : n;
            why = part_why(seg, k, &name);
            if (!why)
                why =
                    part_why(eq ? eq + 1 : seg + n, eq ? n - k - 1 : 0, &value);
            if (!why && !apr_hash_get(h, name, APR_HASH_KEY_STRING))
                apr_hash_set(h, apr_pstrdup(p, name), APR_HASH_KEY_STRING,
                             apr_pstrdup(p, value));
            free(name);
            free(value);
        }
        if (!seg[n])
            break;
    }
    return why;
}

/* a and b hold the same names with the same values. */
static int same(apr_pool_t *p, apr_hash_t *a, apr_hash_t *b)
{
    apr_hash_index_t *i;
    const void *k;
    void *v;
    const char *w;

    if (apr_hash_count(a) != apr_hash_count(b))
        return 0;
    for (i = apr_hash_first(p, a); i; i = apr_hash_next(i)) {
        apr_hash_this(i, &k, NULL, &v);
        w = apr_hash_get(b, k, APR_HASH_KEY_STRING);
        if (!w || strcmp(w, v) != 0)
            return 0;
    }
    return 1;
}

/* h written out as a query string, every byte but letters and digits
 * escaped; the arguments in the order the table gives them. */
static char *written(apr_pool_t *p, apr_hash_t *h)
{
    apr_hash_index_t *i;
    const void *k;
    void *v;
    char *q = "", *en, *ev;

    for (i = apr_hash_first(p, h); i; i = apr_hash_next(i)) {
        apr_hash_this(i, &k, NULL, &v);
        en = fuzz_q_encode(k);
        ev = fuzz_q_encode(v);
        q = apr_pstrcat(p, q, *q ? "&" : "", en, "=", ev, NULL);
        free(en);
        free(ev);
    }
    return q;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int started;
    apr_pool_t *p;
    apr_hash_t *got = NULL, *want, *again = NULL;
    const char *why, *wwhy;
    char *args;

    if (!started) {
        if (apr_initialize() != APR_SUCCESS)
            abort();
        started = 1;
    }
    if (apr_pool_create(&p, NULL) != APR_SUCCESS)
        abort();
    args = apr_pstrmemdup(p, (const char *)data, size);
    if (bbt_query_rest(p, NULL, &got) != NULL || !got ||
        apr_hash_count(got) != 0)
        abort();
    got = NULL;
    why = bbt_query_rest(p, args, &got);
    want = apr_hash_make(p);
    wwhy = model(p, args, want);
    if (!got || (why == NULL) != (wwhy == NULL) || (why && !strstr(why, wwhy)))
        abort();
    if (!why) {
        if (!same(p, got, want))
            abort();
        if (bbt_query_rest(p, written(p, got), &again) != NULL ||
            !same(p, got, again))
            abort();
    }
    apr_pool_destroy(p);
    return 0;
}
