/*
 * Responses to token-authenticated requests are private: see bbt_private.c.
 */
#ifndef BBT_PRIVATE_H
#define BBT_PRIVATE_H

#include "httpd.h"

/* Register the output filter (from the module's register_hooks). */
void bbt_private_register_hooks(apr_pool_t *p);

/* Mark r's response private: mod_cache must not store it, and shared caches
 * downstream must not either. */
void bbt_private_response(request_rec *r);

#endif
