/*
 * The access-tokens REST API's query arguments (internal to the bbt_rest_*
 * files): the query string read once, decoded, before any endpoint runs,
 * so that every argument an endpoint reads is read by one rule (README,
 * "Query arguments").  Endpoints see decoded values only, never r->args.
 */
#ifndef BBT_REST_ARGS_H
#define BBT_REST_ARGS_H

#include "httpd.h"
#include "apr_hash.h"

#include "bbt_rest_db.h"

/* The arguments of r's query string into *out, made in r's pool, as
 * bbt_query_rest reads them (name to value, both decoded; an empty hash
 * when there is none).  NULL, or why the query is refused, in words for a
 * 400. */
const char *bbt_rest_args_read(request_rec *r, apr_hash_t **out);

/* The decoded value of x's query argument name, or NULL if it is not
 * there.  Names are matched exactly, case and all. */
const char *bbt_rest_arg(const bbt_rest_t *x, const char *name);

/* x's boolean query argument name into *out: 0 when it is absent or
 * "false", 1 when it is "true" (in that case only); -1 for any other
 * value, which the caller refuses. */
int bbt_rest_arg_bool(const bbt_rest_t *x, const char *name, int *out);

/* x's start and limit (bbt_rest_page_args): 0; or -1 when either is out
 * of shape, the 400 answered and *rc the handler's return value. */
int bbt_rest_page(bbt_rest_t *x, long *start, long *limit, int *rc);

#endif
