/*
 * A Destination held to its route's options new (nothing there yet) and
 * git-object (what is moved there is the loose git object its name says),
 * on mod_dav's look-up of it: 412 (BBT046), 422 (BBT047), and 403 (BBT048)
 * for a look-up that no destination route of its section takes.
 */
#ifndef BBT_DESTCHECK_H
#define BBT_DESTCHECK_H

#include "apr_pools.h"

/* Register the post_perdir_config hook (from the module's
 * register_hooks). */
void bbt_destcheck_register_hooks(apr_pool_t *p);

#endif
