/*
 * A request's query string read into its arguments, by the module's two
 * readings of it, both decoded with APR's URL decoder ("+" a space): the
 * REST API's arguments (bbt_rest_args.c) and the parameters a route's
 * query-repo= reads (bbt_routing.c, bbt_namedrepo.h).
 *
 * Nothing here knows httpd: APR's pools, hash tables and decoder.
 */
#ifndef BBT_QUERY_H
#define BBT_QUERY_H

#include <stddef.h>

#include "apr_hash.h"
#include "apr_pools.h"

#include "bbt_namedrepo.h"

/* The REST API's arguments of query string args (NULL: none) into *out,
 * made in p (name to value, both decoded; an empty hash when there is
 * none): "&"-separated, an empty one skipped, each split at its first "="
 * (none: the empty value), "+" a space, %XX a byte; a name given twice
 * has its first value.  NULL, or why the query is refused, in words for
 * a 400: a "%" not followed by two hexadecimal digits, a %00, or a name
 * or value that is not UTF-8 text without control characters
 * (bbt_input_utf8). */
const char *bbt_query_rest(apr_pool_t *p, const char *args, apr_hash_t **out);

/* Query string args (NULL: none) as the parameters query-repo= reads,
 * made in p, into *out (NULL when args is): their count, one more than
 * the "&" and ";" in args.  Both end one: a backend that splits only at
 * "&" reads a value holding ";", which names no repository it could
 * serve, while one that splits at ";" too reads what follows as a
 * parameter of its own.  Each is split at its first "=" (none: the value
 * ""), and its name and value decoded, NULL where one does not decode (a
 * broken %-escape, or a %00, which would end the C string early). */
size_t bbt_query_params(apr_pool_t *p, const char *args, bbt_qparam_t **out);

#endif
