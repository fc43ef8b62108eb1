/*
 * The cache's listener: one libpq connection per server (not per child)
 * that LISTENs for the schema's notifications and keeps the cache's
 * generation and heartbeat in shared memory (bbt_cache.h).  It runs in
 * mod_watchdog's singleton thread: in one child at a time, whatever the
 * MPM.
 */
#ifndef BBT_LISTEN_H
#define BBT_LISTEN_H

#include "httpd.h"

/* 1 if mod_watchdog (and mod_dbd, which tells the listener where the
 * database is) are loaded. */
int bbt_listen_available(void);

/* Register the listener with mod_watchdog (post_config, before
 * mod_watchdog's own).  NULL, or what failed. */
const char *bbt_listen_register(apr_pool_t *pconf, server_rec *s);

/* In child_init: the listener, if this child runs it, ends before
 * anything of pchild goes, and runs no more. */
void bbt_listen_child_init(apr_pool_t *pchild, server_rec *s);

#endif
