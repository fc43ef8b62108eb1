/*
 * What the cache's listener (bbt_listen.c) learns from a connection of
 * mod_dbd's pool: where the database is (libpq's options, read once), and,
 * at each of its connections, how the main server's sessions name the
 * schema's objects.  mod_dbd runs the main server's DBDInitSQL (SET
 * search_path, SET ROLE) on every pooled connection, never on the
 * listener's own: without it the listener could check the triggers of
 * another copy of the tables, in another schema of the same database, and
 * believe the cache while the tables the requests read notify nothing.
 */
#ifndef BBT_LSESSION_H
#define BBT_LSESSION_H

#include "httpd.h"

#include <libpq-fe.h>

/* How a session resolves the names of the schema's objects
 * (BBT_LISTEN_NAMES_SQL): their OIDs, "-" for one it does not find. */
#define BBT_LSESSION_NAMES 128

typedef struct {
    /* libpq's options for the listener's connection, NULL-terminated;
     * NULL until read. */
    const char **keys, **vals;
    unsigned char source[32];       /* the pool's options' fingerprint */
    char names[BBT_LSESSION_NAMES]; /* as the pooled session resolves them */
    char path[2048];                /* the pooled session's search_path */
    char role[256]; /* its role where other than its login's, or "" */
} bbt_lsession_t;

/* Read, through a connection of s's pool (allocating in pool, the
 * listener's): the options the first time, and every time the pooled
 * session's search_path and role, which the listener's session is given
 * (bbt_lsession_setup), and how that session resolves the names
 * (ls->names).  1 when
 * read; 0 with no connection of mod_dbd's (none, or not pgsql); -1 when the
 * session could not be read, why in err; BBT_LSESSION_NO_PLACE, why in
 * err, when every pooled connection of the child stayed in use for a while
 * (a place among the module's is waited for, briefly, never a connection
 * of mod_dbd's) or another thread of the child held the turn to ask the
 * pool for one too long (bbt_dbgate_turn): the child's requests busy on
 * the pool, not the database failing. */
#define BBT_LSESSION_NO_PLACE (-3)
int bbt_lsession_read(bbt_lsession_t *ls, apr_pool_t *pool, server_rec *s,
                      char *err, size_t errlen);

/* The statements that give the listener's session (pg, connected) the
 * search_path and role last read, into buf (n bytes, at least
 * BBT_LSESSION_SETUP_MAX): sent first in its subscription, before its
 * names are compared.  Given there, not as libpq's options when
 * connecting, which a pooler in between refuses (PgBouncer: "unsupported
 * startup parameter"), or drops unread where told to ignore them.  The
 * first answers one row, 'session' and the search_path; then SET ROLE
 * (NONE where the pooled session has its login's).  0, or -1 when it
 * cannot be made. */
#define BBT_LSESSION_SETUP_MAX                                                 \
    (2 * sizeof(((bbt_lsession_t *)0)->path) +                                 \
     2 * sizeof(((bbt_lsession_t *)0)->role) + 128)
int bbt_lsession_setup(const bbt_lsession_t *ls, PGconn *pg, char *buf,
                       size_t n);

/* The listener's probe: NOTIFY channel with payload "p<seq>" from a
 * connection of s's pool, another session than the listener's, so that
 * the listener hears it only if a notification reaches its connection
 * while it is idle (a transaction-pooling proxy drops it then).  A place
 * among the module's connections is queued for as the read above does
 * where queue is set, else taken only if one is free with no thread
 * waiting.  1 sent, the sending backend's pid in *be_pid; 0 with no
 * connection of mod_dbd's; -1 not sent, why in err (the pool busy, as
 * BBT_LSESSION_NO_PLACE above, among them); -2 not sent because the
 * pooled session cannot send it (a hot standby, a read-only session,
 * EXECUTE on pg_notify refused: trying again soon would not help), why in
 * err. */
int bbt_lsession_probe(apr_pool_t *pool, server_rec *s, const char *channel,
                       apr_uint64_t seq, int queue, int *be_pid, char *err,
                       size_t errlen);

#endif
