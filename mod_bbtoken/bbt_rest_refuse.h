/*
 * What the module refuses before the access-tokens REST API's handler
 * runs (a login missing or wrong, a token, a throttled address, a
 * malformed Authorization header or method override, a body a route
 * reads and cannot decide by, the database unavailable; on the handler's
 * location a TRACE too), answered in Bitbucket's JSON error envelope
 * instead of httpd's HTML page on the handler's location and on a
 * request the bitbucket-rest route set decides (Bitbucket's REST API
 * behind the module).  See README,
 * "Self-service: the access-tokens REST API", and Routes' bitbucket-rest
 * set.
 */
#ifndef BBT_REST_REFUSE_H
#define BBT_REST_REFUSE_H

#include "httpd.h"

/* status, as the hook that refuses returns it.  On a location whose
 * handler is bbtoken-rest, or a request of the bitbucket-rest set, a 400
 * (of the notes below), 401, 403, 429 or 503, and a 413 or 415 of a body
 * (BBT_REST_REFUSE_BODY), is marked for the envelope first, and on the
 * handler's location alone a 405 (a TRACE), with the Allow the handler
 * gives the path; anything else, or anywhere else, is left alone.  Called
 * while r->per_dir_config is the request's location's. */
int bbt_rest_refuse(request_rec *r, int status);

/* The notes (r->notes) that say what a 400 refuses: a method override
 * (bbt_overglue.c, in check_authn or the fixups), the Authorization
 * header (bbt_authn.c), or the body a route reads (bbt_reqbody.c,
 * bbt_routing.c: also on its 413 and 415); the envelope says which in
 * fixed words, the error log why.  A 400 with none keeps httpd's page. */
#define BBT_REST_REFUSE_OVERRIDE "bbtoken-override-refused"
#define BBT_REST_REFUSE_HEADER "bbtoken-authorization-refused"
#define BBT_REST_REFUSE_BODY "bbtoken-body-refused"

/* Register the error filter's hook (called from bbt_register_hooks). */
void bbt_rest_refuse_register_hooks(apr_pool_t *p);

#endif
