/*
 * Access decided again for an internal redirect or a sub-request that
 * httpd would let through on the decision of the request before it, when
 * that decision was for another method, URI or query string.  See
 * bbt_inherit.c.
 */
#ifndef BBT_INHERIT_H
#define BBT_INHERIT_H

#include "httpd.h"

/* Register the fixups hook (from the module's register_hooks, before the
 * other fixups). */
void bbt_inherit_register_hooks(apr_pool_t *p);

#endif
