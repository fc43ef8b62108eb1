/*
 * Authorization: the 403 gate for tokens, `Require bbtoken`, and the
 * challenges sent with a 401.
 */
#ifndef BBT_AUTHZ_H
#define BBT_AUTHZ_H

#include "httpd.h"

/* Register the gate, the authz provider and note_auth_failure (from the
 * module's register_hooks). */
void bbt_authz_register_hooks(apr_pool_t *p);

#endif
