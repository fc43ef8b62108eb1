/*
 * The prepared statements on mod_dbd's pooled connections.
 *
 * The lookup runs on every request, so it is a server-side prepared
 * statement (parsing and planning it each time would cost more than running
 * it), and so are the owner's level and a personal project's owner.
 * None is registered with mod_dbd's ap_dbd_prepare, whose statements
 * vanish for good when the pgsql driver reconnects with PQreset after a
 * PostgreSQL restart, and exist only on connections of the server that
 * registered them.  Instead each pooled connection prepares each on first
 * use and remembers, in the connection's own pool, which backend it was
 * prepared on (bbt_db_backend_now): a reconnected connection has a new
 * backend and prepares it again.  A failed statement is retried once, after
 * the driver has reset a dropped connection and the statement is prepared
 * afresh (which also cures "cached plan must not change result type" after
 * a schema change).
 */
#include "httpd.h"
#include "http_log.h"
#include "apr_dbd.h"
#include "apr_strings.h"
#include "mod_dbd.h"

#include <libpq-fe.h>

#include "bbt_dbconn.h"
#include "bbt_mono.h"
#include "bbt_schema.h"
#include "bbt_sqlstate.h"

APLOG_USE_MODULE(bbtoken);

void bbt_db_retrying(bbt_db_conn_t *c, int rv, const char *what)
{
    bbt_db_log(c, APLOG_WARNING, rv, "BBT073",
               apr_pstrcat(c->pool, what, " (will retry once)", NULL));
}

/* A prepare failed with "already exists" (42P05) on a live connection
 * outside a transaction: the statement is there, made where this
 * connection's memo does not know (a proxy's server connection that
 * another client prepared it on), and would be refused so on every
 * request.  Its name is the module's own, so drop it (an error, if it is
 * gone meanwhile, leaves nothing behind outside a transaction) and prepare
 * once more.  Any other failure stands: one that waited out its
 * statement_timeout or lock_timeout (a migration's lock) would wait as
 * long again.  1: prepared. */
static int bbt_db_prepare_over(bbt_db_conn_t *c, const bbt_db_stmt_t *def,
                               apr_dbd_prepared_t **stmt)
{
    int nrows;

    if (bbt_db_lost(c) || PQtransactionStatus(c->pg) != PQTRANS_IDLE ||
        !bbt_dbsession_failed_with(c->sess, bbt_sql_stmt_exists)) {
        return 0;
    }
    apr_dbd_query(c->dbd->driver, c->dbd->handle, &nrows,
                  apr_pstrcat(c->pool, "DEALLOCATE ", def->label, NULL));
    apr_pool_clear(c->st->spool[def->slot]);
    *stmt = NULL;
    return apr_dbd_prepare(c->dbd->driver, c->st->spool[def->slot],
                           c->dbd->handle, def->sql, def->label, stmt) == 0;
}

/* Statement def, prepared on this connection's current backend.
 * fresh: bbt_db_run's one more try: prepare it again even if it looks
 * prepared.  A first try's failure is tried again (reconnected, after a
 * restart), a warning (BBT073), unless it waited out its limit.  A try
 * that began at start and whose PREPARE failed is counted here, as one
 * statement that failed: it is a try, though nothing was run. */
static apr_dbd_prepared_t *bbt_db_stmt(bbt_db_conn_t *c,
                                       const bbt_db_stmt_t *def, int fresh,
                                       apr_time_t start)
{
    bbt_db_state_t *st = c->st;
    apr_dbd_prepared_t *stmt = NULL;
    bbt_db_backend_t b;
    int nrows;

    /* No memo: mod_dbd did not say it made the connection, which
     * bbt_db_open has refused already. */
    if (!st) {
        return NULL;
    }
    b = bbt_db_backend_now(c);
    if (st->stmt[def->slot] &&
        st->prepared[def->slot].generation == b.generation &&
        st->prepared[def->slot].pid == b.pid) {
        if (!fresh) {
            return st->stmt[def->slot];
        }
        /* Same backend (no reset since): the old statement may still be
         * there.  An error (it is not) leaves nothing behind outside a
         * transaction. */
        apr_dbd_query(c->dbd->driver, c->dbd->handle, &nrows,
                      apr_pstrcat(c->pool, "DEALLOCATE ", def->label, NULL));
    }
    st->stmt[def->slot] = NULL;
    if (st->spool[def->slot]) {
        apr_pool_clear(st->spool[def->slot]);
    } else if (apr_pool_create(&st->spool[def->slot], c->dbd->pool) !=
               APR_SUCCESS) {
        st->spool[def->slot] = NULL;
        return NULL;
    }
    if (apr_dbd_prepare(c->dbd->driver, st->spool[def->slot], c->dbd->handle,
                        def->sql, def->label, &stmt) != 0 &&
        !bbt_db_prepare_over(c, def, &stmt)) {
        const char *what = apr_pstrcat(c->pool, "preparing ", def->what, NULL);

        bbt_db_counted(start, -1);
        if (!fresh && !bbt_dbsession_waited(c->sess, c->pg)) {
            bbt_db_retrying(c, 0, what);
        } else {
            bbt_db_log(c, APLOG_ERR, 0, "BBT072", what);
        }
        return NULL;
    }
    st->stmt[def->slot] = stmt;
    st->prepared[def->slot] = b;
    return stmt;
}

/* After a failed statement: can one more try succeed?  A connection that
 * PostgreSQL dropped (restart, idle kill) is reset here by the driver; then,
 * or on a live connection, the statement is prepared afresh, the new try
 * beginning at *start (the reconnection is not its time). */
static apr_dbd_prepared_t *
bbt_db_recover(bbt_db_conn_t *c, const bbt_db_stmt_t *def, apr_time_t *start)
{
    if (bbt_dbsession_waited(c->sess, c->pg) ||
        (bbt_db_lost(c) && !bbt_db_reconnected(c))) {
        return NULL;
    }
    *start = bbt_mono_now();
    return bbt_db_stmt(c, def, 1, *start);
}

/* Run prepared statement def with its nargs args (a NULL one is SQL
 * NULL), once more after a failure the connection can be recovered from:
 * 0, or -1 (logged: BBT073 for a failure tried again, errid for the
 * last, or for a connection that could not be connected again; what else
 * ended the recovery, DBDInitSQL or a PREPARE, has logged itself). */
int bbt_db_run(bbt_db_conn_t *c, const bbt_db_stmt_t *def, const char *errid,
               apr_dbd_results_t **res, int nargs, const char **args)
{
    /* Each try is one statement, counted with its time from its PREPARE
     * where it needs one (bbt_db_stmt counts one that fails there). */
    apr_time_t start = bbt_mono_now();
    apr_dbd_prepared_t *stmt = bbt_db_stmt(c, def, 0, start);
    int attempt, rv;

    if (!stmt && !(stmt = bbt_db_recover(c, def, &start))) {
        if (bbt_db_unreached(c)) {
            bbt_db_gave_up(c, 0, errid, def->what);
        }
        bbt_schema_too_old(c->r, c->pg);
        return -1;
    }
    for (attempt = 0; attempt < 2; attempt++) {
        *res = NULL;
        rv = apr_dbd_pselect(c->dbd->driver, c->pool, c->dbd->handle, res, stmt,
                             1, nargs, args);
        bbt_db_counted(start, rv);
        if (rv == 0) {
            return 0;
        }
        if (attempt == 0 && !bbt_dbsession_waited(c->sess, c->pg)) {
            bbt_db_retrying(c, rv, def->what);
            if ((stmt = bbt_db_recover(c, def, &start)) != NULL) {
                continue;
            }
            if (!bbt_db_unreached(c)) {
                break;
            }
        }
        bbt_db_gave_up(c, rv, errid, def->what);
        break;
    }
    return -1;
}
