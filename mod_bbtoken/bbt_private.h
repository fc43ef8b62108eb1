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

/* r was decided again after the fixups, in the section mod_dir or
 * mod_negotiation promoted it into (bbt_inherit.c): that section's
 * sandbox, and what the fixups do (no credentials for the backend, a
 * private answer). */
void bbt_private_promoted(request_rec *r);

/* BBTokenSandbox's headers on r's answer, whatever its section says: for
 * a refusal whose section's configuration is not to be believed. */
void bbt_private_sandbox_always(request_rec *r);

#endif
