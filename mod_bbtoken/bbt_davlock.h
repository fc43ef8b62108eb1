/*
 * A WebDAV LOCK through the module lasts at most BBT_LOCKTIME_MAX seconds.
 * See bbt_davlock.c.
 */
#ifndef BBT_DAVLOCK_H
#define BBT_DAVLOCK_H

#include "httpd.h"

/* Register the fixups hook (from the module's register_hooks). */
void bbt_davlock_register_hooks(apr_pool_t *p);

#endif
