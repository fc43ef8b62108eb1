/*
 * The cache's listener: one libpq connection per server (not per child)
 * that LISTENs for the schema's notifications and keeps the cache's
 * generation and heartbeat in shared memory (bbt_cache.h).  It runs in
 * mod_watchdog's singleton thread: in one child at a time, whatever the
 * MPM.
 *
 * mod_watchdog calls bbt_listen_tick about every 100 ms in the one child
 * that holds its singleton lock (another child takes over, within about
 * ten seconds, when that one exits).  Each call does a bounded amount of
 * work on a non-blocking libpq connection of its own and returns:
 *
 *   down         wait out the backoff (a tenth of a second when the
 *                child's requests held every pooled connection, or the
 *                turn to ask the pool too long), then
 *                start connecting with the
 *                main server's connection options, read once from a
 *                connection of mod_dbd's pool (PQconninfo), so DBDParams
 *                is written once and the password never leaves memory,
 *                and asking for the primary among their hosts, once the
 *                search_path and role of a pooled session are read, each
 *                time (bbt_lsession.h);
 *   connecting   PQconnectPoll until connected (or ten seconds pass);
 *   subscribing  one round trip: that search_path and role set in its
 *                session, LISTEN bbtoken, LISTEN on a heartbeat
 *                channel of its own, what the schema's names resolve to
 *                (as in the pooled session, or nothing is believed), and
 *                the schema's version (4 or later has the triggers).  When
 *                it is back, LISTEN has taken effect: only then is every
 *                entry forgotten (resync), since nothing sent while no one
 *                listened is ever replayed;
 *   up           a notification on 'bbtoken' forgets the entries of the
 *                token it names, the level entries of the owner it names,
 *                or every entry (bbt_cmark.h).  A
 *                heartbeat proves the channel alive: NOTIFY on its own
 *                channel, remembering when it was sent.  PostgreSQL
 *                delivers notifications in commit order, so when that one
 *                comes back, every change committed before it was sent has
 *                been delivered (and has raised the floor or a mark)
 *                already.
 *                Only then is the send time published as the heartbeat,
 *                and only once another session's probe has come back
 *                (bbt_lprobe.h); the first one published says BBT309.
 *                The heartbeat's transaction reads the tables that decide
 *                access and their notifying triggers too: made anew since
 *                (a restore), every entry is forgotten before the
 *                heartbeat is published; while a trigger does not fire,
 *                none is published.
 *
 * Children believe the cache while the heartbeat is younger than
 * BBT_CACHE_FRESH_US (bbt_centry.h).  A lost connection sets it to zero at
 * once; one that dies silently stops renewing it.  Either way nothing
 * committed after the last heartbeat is believed stale for longer than
 * the bound.
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
