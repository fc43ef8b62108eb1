/*
 * What the backend gets and what it answers once the module has
 * authenticated a request: no credentials, and a private response.  See
 * bbt_private.c.
 */
#ifndef BBT_PRIVATE_H
#define BBT_PRIVATE_H

#include "httpd.h"

/* Register the fixups hook and the output filter (from the module's
 * register_hooks). */
void bbt_private_register_hooks(apr_pool_t *p);

/* r was let in unauthenticated by the module, then promoted into the
 * configuration of a sub-request the module allowed (bbt_inherit.c): what
 * the fixups do for a request the module authenticated, done now (its
 * sandbox, no credentials for the backend, a private response). */
void bbt_private_promoted(request_rec *r);

#endif
