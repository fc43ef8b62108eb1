/*
 * The access-tokens REST API (Bitbucket Data Center's shapes), served by the
 * handler "bbtoken-rest".  See README, "Self-service: the access-tokens REST
 * API".
 */
#ifndef BBT_REST_H
#define BBT_REST_H

#include "httpd.h"

/* Register the handler (called from bbt_register_hooks). */
void bbt_rest_register_hooks(apr_pool_t *p);

/* In mod_bbtoken.c: 1 if this request (or an earlier one of the same HTTP
 * request) was authenticated by a token rather than a password. */
int bbt_request_used_token(request_rec *r);

#endif
