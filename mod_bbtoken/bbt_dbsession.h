/*
 * A pooled connection's session as DBDInitSQL made it, again after a
 * reconnect.
 *
 * mod_dbd runs its pool's DBDInitSQL (SET search_path, SET ROLE, ...) only
 * when it makes a connection.  The pgsql driver's check, which mod_dbd runs
 * whenever a connection is taken and the module runs after a failed
 * statement, reconnects a connection PostgreSQL dropped with PQreset: a new
 * backend with libpq's defaults, which would read other tables, or as
 * another role, than a fresh connection.
 */
#ifndef BBT_DBSESSION_H
#define BBT_DBSESSION_H

#include <stddef.h>
#include <stdint.h>

#include "httpd.h"
#include "apr_dbd.h"
#include "mod_dbd.h"

#include <libpq-fe.h>

/* What the module knows of one pooled connection's session. */
typedef struct bbt_dbsession_s bbt_dbsession_t;

/* Hooks: mod_dbd's post_connect, to learn of each connection it makes
 * which DBDInitSQL it ran there, and on which backend. */
void bbt_dbsession_register_hooks(apr_pool_t *p);

/* Whether dbd (pgsql, libpq's pg) may run the module's statements: 0, its
 * backend is the one its pool's DBDInitSQL last ran on without error
 * (DBDInitSQL is run again first when the backend changed); -1, it is not,
 * and err says why (the SQLSTATE and PostgreSQL's primary message, never a
 * statement); -2, the connection was lost meanwhile (nothing written).
 * until: as bbt_dbsession_exec's; a statement not answered by then leaves
 * the connection lost (-2). */
int bbt_dbsession_ready(ap_dbd_t *dbd, PGconn *pg, char *err, size_t errlen,
                        int64_t until);

/* sql run on pg as PQexec runs it (its last result), waiting for the
 * answer until until at most (bbt_mono_now's clock; 0: as long as it
 * takes).  A statement not answered by then gets NULL, and its connection
 * is shut down: libpq finds it broken, and mod_dbd's check, when the
 * connection is next taken, makes it again.  For a thread that must not
 * hang on a backend that stopped answering with its socket still open (a
 * frozen host): the server's statement_timeout cannot end that wait, and
 * the kernel's only after many minutes. */
PGresult *bbt_dbsession_exec(PGconn *pg, const char *sql, int64_t until);

/* dbd's session, or NULL (mod_dbd did not say it made the connection).  A
 * look-up in the connection's pool (a string hashed): a caller that asks
 * more than once while it holds the connection keeps the answer. */
bbt_dbsession_t *bbt_dbsession_of(ap_dbd_t *dbd);

/* bbt_dbsession_ready with the session already looked up (st may be
 * NULL: -1). */
int bbt_dbsession_ready_st(bbt_dbsession_t *st, PGconn *pg, char *err,
                           size_t errlen, int64_t until);

/* Which backend st's connection has: the number of resets libpq has told
 * of, so it changes with the backend whatever the new one's process id.
 * It stays 0 on a connection whose resets cannot be told (libpq refused
 * the event procedure, or mod_dbd did not say it made the connection):
 * there the process id is all there is to go by. */
unsigned long bbt_dbsession_generation(const bbt_dbsession_t *st);

/* Whether libpq tells of st's resets: only then does the generation
 * change with every backend. */
int bbt_dbsession_watched(const bbt_dbsession_t *st);

/* Whether pg's session (st's) is outside any transaction, as every
 * statement of the module's assumes; asked before the DBDInitSQL list is
 * run again (bbt_dbsession_ready_st), which must not run inside another's
 * transaction either.  One left open would have the lookups read its
 * snapshot (a REPEATABLE READ one sees no revocation) and keep their
 * writes' row locks until it ends, so that a revocation waits without
 * end.  Where release (a pooled connection, given back by whoever used
 * it), another module's transaction is rolled back (what DBDInitSQL set
 * when the connection was made stays: it ran outside it), and err says
 * so; one the request holds is another's to end.  Where the pool's
 * DBDInitSQL itself left the session inside a transaction when it last
 * ran, a rollback would take back what it set: refused.  0 (err empty, or
 * saying what was rolled back), or -1 with err saying why the connection
 * is not to be used.  Asked again after the list has run: a list that
 * leaves a transaction open is then refused.  A connection lost, or lost
 * by the rollback (until: as bbt_dbsession_exec's), is 0: the caller
 * makes it again, as after bbt_dbsession_ready_st's -2. */
int bbt_dbsession_idle(const bbt_dbsession_t *st, PGconn *pg, int release,
                       char *err, size_t errlen, int64_t until);

/* Whether the statement that just failed on pg (st's) waited its whole
 * limit, statement_timeout or lock_timeout (behind a migration's lock,
 * say): prepared and run again, it would wait as long once or twice more,
 * and the request is owed its 503 after one. */
int bbt_dbsession_waited(const bbt_dbsession_t *st, PGconn *pg);

/* Whether the last result on st's connection failed with a SQLSTATE is
 * takes (one of bbt_sqlstate.h's); 0 when libpq did not tell (unwatched). */
int bbt_dbsession_failed_with(const bbt_dbsession_t *st,
                              int (*is)(const char *state));

/* One pointer of bbt_db.c's, kept with the connection (in its pool) and
 * NULL until set; st must not be NULL to set it. */
void *bbt_dbsession_memo(const bbt_dbsession_t *st);
void bbt_dbsession_set_memo(bbt_dbsession_t *st, void *memo);

#endif
