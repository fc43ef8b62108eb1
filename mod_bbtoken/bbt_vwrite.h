/*
 * The throttled writes a verified token's request calls for: its last use,
 * an expired token's refusal (each at most once per BBTokenLastUseInterval
 * per token; the database functions check again under the row lock), and
 * a new address group (once: the database writes it once).  A failed write
 * is logged, never fatal: the request is answered either way, and a write
 * that a later try may make is due again shortly, not an interval on.
 */
#ifndef BBT_VWRITE_H
#define BBT_VWRITE_H

#include "httpd.h"

#include "bbt_cache.h"
#include "bbt_centry.h"
#include "bbt_db.h"
#include "bbt_request.h"
#include "bbt_verdict.h"

/* What the throttled writes of a request the database answered came to,
 * beyond the row's times: kept in the token's cache entry. */
typedef struct {
    int64_t use_tried_us;
    int64_t refused_tried_us;
    int64_t group_failed_us;
    int64_t group_tried_us;
} bbt_vtried_t;

/* For a request the database answered on c with row (judged at now) and
 * verdict: the writes due, when the request presented the token (an
 * internal request was counted already).  row's times and groups and
 * *tried say what they came to. */
void bbt_vwrite_db(request_rec *r, bbt_db_conn_t *c, const char *id,
                   int presented, bbt_verdict_t verdict, bbt_db_token_t *row,
                   int interval, apr_int64_t now, bbt_vtried_t *tried);

/* For a request a believed entry *ep answered: the writes it called for
 * (touch, expired, a new group g or NULL), remembered in the entry for the
 * other children and threads (e: room for a copy of it, or ep itself). */
void bbt_vwrite_cached(request_rec *r, bbt_req_t *rq, const bbt_cache_view_t *v,
                       const bbt_centry_t *ep, bbt_centry_t *e, int touch,
                       int expired, const bbt_agroup_t *g, int interval,
                       apr_int64_t now);

#endif
