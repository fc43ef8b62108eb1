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

/* The Cache-Control value to send instead of `value` (NULL when the
 * backend sent none): "public" and "s-maxage" go, "private" comes, unless
 * "no-store" already forbids storing.  Exposed for the unit tests. */
const char *bbt_private_cache_control(apr_pool_t *p, const char *value);

#endif
