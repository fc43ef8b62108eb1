/*
 * libFuzzer target: a query string as the parameters a route's
 * query-repo= reads (bbt_query_params, which bbt_routing_named gives a
 * request's query string).  The input, up to its first NUL, is the query
 * string.  Held to the rules written out here (fuzz_query.h, by another
 * road than APR's decoder):
 *
 * - one parameter more than the "&" and ";" in the query, none for no
 *   query; each is the text between two of them, split at its first "=",
 *   in order;
 * - a name or value is its text decoded, never longer, or NULL where the
 *   text has a broken escape or a %00; a parameter without "=" has the
 *   value "";
 * - where the query has no ";" and the REST API's reading takes it
 *   (bbt_query_rest), both read the same: each name the REST API holds
 *   (but "", which an empty parameter has here) is a parameter's, and the
 *   first parameter of that name has its value.
 *
 * Any broken rule aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apr_general.h"
#include "apr_hash.h"
#include "apr_pools.h"
#include "apr_strings.h"

#include "bbt_query.h"
#include "fuzz_query.h"

/* The text s[0..n) decoded is got (NULL where it does not decode). */
static void holds(const char *s, size_t n, const char *got)
{
    char *want;
    size_t len;
    fuzz_q_t q = fuzz_q_decode(s, n, &want, &len);

    if (q != FUZZ_Q_OK ? got != NULL
                       : !got || strlen(got) != len || len > n ||
                             memcmp(got, want, len) != 0)
        abort();
    free(want);
}

/* The REST API's reading of args, where it takes it, agrees. */
static void agrees(apr_pool_t *p, const char *args, const bbt_qparam_t *qp,
                   size_t n)
{
    apr_hash_t *h = NULL;
    apr_hash_index_t *i;
    const void *k;
    void *v;
    size_t j;

    if (strchr(args, ';') || bbt_query_rest(p, args, &h) != NULL)
        return;
    for (i = apr_hash_first(p, h); i; i = apr_hash_next(i)) {
        apr_hash_this(i, &k, NULL, &v);
        /* An empty argument, which the REST API skips, is a parameter
         * named "" here. */
        if (!*(const char *)k)
            continue;
        for (j = 0; j < n; j++) {
            if (qp[j].name && strcmp(qp[j].name, k) == 0)
                break;
        }
        if (j == n || !qp[j].value || strcmp(qp[j].value, v) != 0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int started;
    apr_pool_t *p;
    bbt_qparam_t *qp = (bbt_qparam_t *)1;
    const char *seg;
    char *args;
    size_t n, i, seps = 0, len, k;

    if (!started) {
        if (apr_initialize() != APR_SUCCESS)
            abort();
        started = 1;
    }
    if (apr_pool_create(&p, NULL) != APR_SUCCESS)
        abort();
    if (bbt_query_params(p, NULL, &qp) != 0 || qp != NULL)
        abort();
    args = apr_pstrmemdup(p, (const char *)data, size);
    for (i = 0; args[i]; i++)
        seps += args[i] == '&' || args[i] == ';';
    n = bbt_query_params(p, args, &qp);
    if (n != seps + 1 || !qp)
        abort();
    for (i = 0, seg = args; i < n; i++, seg += len + 1) {
        const char *eq;

        len = strcspn(seg, "&;");
        eq = memchr(seg, '=', len);
        k = eq ? (size_t)(eq - seg) : len;
        holds(seg, k, qp[i].name);
        if (eq)
            holds(eq + 1, len - k - 1, qp[i].value);
        else if (!qp[i].value || qp[i].value[0])
            abort();
        if (i + 1 < n && !seg[len])
            abort();
    }
    agrees(p, args, qp, n);
    apr_pool_destroy(p);
    return 0;
}
