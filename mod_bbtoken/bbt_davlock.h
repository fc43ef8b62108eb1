/*
 * A WebDAV LOCK through the module lasts at most its section's
 * BBTokenDAVLockMaxTimeout.  See bbt_davlock.c.
 */
#ifndef BBT_DAVLOCK_H
#define BBT_DAVLOCK_H

#include "httpd.h"
#include "http_config.h"

/* Register the fixups hook (from the module's register_hooks). */
void bbt_davlock_register_hooks(apr_pool_t *p);

/* BBTokenDAVLockMaxTimeout seconds (bbt_config_cmds). */
const char *bbt_davlock_set_max(cmd_parms *cmd, void *dconf, const char *arg);

#endif
