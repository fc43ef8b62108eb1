/*
 * Keeping credentials out of httpd's own logging: see bbt_logguard.c.
 */
#ifndef BBT_LOGGUARD_H
#define BBT_LOGGUARD_H

#include "httpd.h"

/* Register the request hooks (from the module's register_hooks). */
void bbt_logguard_register_hooks(apr_pool_t *p);

/* Precompute the capped log configurations of every server, and warn where
 * another module logs request bytes (from the module's post_config). */
void bbt_logguard_post_config(apr_pool_t *pconf, server_rec *s);

#endif
