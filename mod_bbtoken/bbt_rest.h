/*
 * The access-tokens REST API (Bitbucket Data Center's shapes), served by the
 * handler "bbtoken-rest".  See README, "Self-service: the access-tokens REST
 * API".
 */
#ifndef BBT_REST_H
#define BBT_REST_H

#include "httpd.h"

/* The handler's name, as SetHandler gives it. */
#define BBT_REST_HANDLER "bbtoken-rest"

/* The Allow header the handler gives a request for r->uri that its path
 * does not take: the path's methods ("GET, HEAD, PUT"), from the path
 * alone (never who asks), "" for a path that is none of the API's. */
const char *bbt_rest_allow(request_rec *r);

/* Register the handler (called from bbt_register_hooks). */
void bbt_rest_register_hooks(apr_pool_t *p);

#endif
