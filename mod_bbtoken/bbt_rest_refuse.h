/*
 * What the module refuses before the access-tokens REST API's handler
 * runs (a login missing or wrong, a token, a throttled address, a
 * malformed Authorization header, the database unavailable), answered
 * on the handler's location in Bitbucket's JSON error envelope instead of
 * httpd's HTML page.  See README, "Self-service: the access-tokens REST
 * API".
 */
#ifndef BBT_REST_REFUSE_H
#define BBT_REST_REFUSE_H

#include "httpd.h"

/* status, as the hook that refuses returns it.  On a location whose
 * handler is bbtoken-rest, a 400, 401, 403, 429 or 503 is marked for the
 * envelope first; anything else, or anywhere else, is left alone. */
int bbt_rest_refuse(request_rec *r, int status);

/* The note (r->notes) set when a 400 refuses a method override
 * (bbt_overglue.c, in check_authn or the fixups) rather than the
 * Authorization header: the envelope says so. */
#define BBT_REST_REFUSE_OVERRIDE "bbtoken-override-refused"

/* Register the error filter's hook (called from bbt_register_hooks). */
void bbt_rest_refuse_register_hooks(apr_pool_t *p);

#endif
