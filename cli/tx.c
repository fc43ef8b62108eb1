/*
 * The CLI's transactions (tx.h): every write the CLI makes runs here,
 * whether a transaction of several statements or one statement that is its
 * own (bbtoken_exec), so that the one rule for an abort of the
 * database's lives here.
 *
 * PostgreSQL breaks a deadlock (40P01) or a serialization failure (40001)
 * by aborting one of the transactions involved: it undid all of that
 * one's work, and the other went on, so run again from its BEGIN it will
 * most likely succeed.  Two administrators' commands at once, or one and
 * the REST API, should not fail for that.  Anything else is final at
 * once: running again a statement the database refused for a reason
 * would be refused again.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/rand.h>

#include "db.h"
#include "interrupt.h"
#include "tx.h"
#include "xact.h"

/* The pause before try n + 1 (n >= 1): a random time from base to twice
 * base, base doubling from 20 ms, so that two commands aborted by the
 * same deadlock do not meet again at once; at most about 600 ms in all. */
static void bbtoken_tx_pause(int n)
{
    long base = 20000000L << (n - 1); /* nanoseconds */
    uint32_t r = 0;
    struct timespec ts;

    if (RAND_bytes((unsigned char *)&r, (int)sizeof(r)) != 1) {
        r = 0; /* the pause alone, without its random part */
    }
    base += (long)(r % (uint32_t)base);
    ts.tv_sec = base / 1000000000L;
    ts.tv_nsec = base % 1000000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* One try: 0, or the body's or an exit status; ctx->aborted says
 * whether the database aborted it, *where in what words. */
static int bbtoken_tx_once(bbtoken_ctx_t *ctx, const bbtoken_tx_t *tx,
                           const char **where)
{
    bbtoken_xact_t x;
    char lost[256];
    PGresult *res;
    int rc = 0;

    *where = tx->what;
    ctx->aborted[0] = '\0';
    ctx->in_tx = 1;
    if (tx->begin) {
        if (!(res = bbtoken_exec_once(ctx, tx->what, tx->begin, 0, NULL))) {
            rc = BBTOKEN_EXIT_FAIL;
        } else {
            PQclear(res);
            ctx->begun = 1;
        }
    }
    if (rc == 0) {
        rc = tx->body(ctx, tx->arg);
    }
    /* What the database is asked about if the COMMIT's answer is lost. */
    if (rc == 0 && tx->begin) {
        rc = bbtoken_xact_read(ctx, tx->commit ? tx->commit : tx->what,
                               tx->audited, &x);
    }
    ctx->begun = 0;
    /* Interrupted once the body was done: not committed either, as no
     * further statement is sent (the session's end rolls it back). */
    if (rc == 0 && tx->begin && bbtoken_interrupt_stops()) {
        rc = bbtoken_interrupt_fail(ctx, tx->commit ? tx->commit : tx->what);
    }
    if (rc == 0 && tx->begin) {
        /* A serializable transaction may be aborted by its COMMIT, and
         * a deferred trigger runs there. */
        *where = tx->commit ? tx->commit : tx->what;
        ctx->committing = 1;
        /* An interrupt lets it finish (interrupt.c). */
        bbtoken_interrupt_hold(1);
        res = PQexec(ctx->conn, "COMMIT");
        bbtoken_interrupt_hold(0);
        ctx->committing = 0;
        if (PQresultStatus(res) == PGRES_COMMAND_OK) {
            PQclear(res);
            /* Done: said as xact.c says a lost COMMIT found done. */
            bbtoken_committed(ctx, tx->ask && tx->ask->done ? tx->ask->done
                                                            : tx->what);
        } else if (PQstatus(ctx->conn) == CONNECTION_BAD) {
            /* The COMMIT may have reached the server and been done there
             * before the connection went: ask. */
            bbt_sql_line(lost, sizeof(lost), PQerrorMessage(ctx->conn),
                         "no answer");
            PQclear(res);
            ctx->in_tx = 0;
            rc = bbtoken_xact_lost(ctx, tx, &x, lost);
        } else {
            rc = bbtoken_db_fail(ctx, res, *where);
        }
    }
    ctx->in_tx = 0;
    if (rc != 0 && PQtransactionStatus(ctx->conn) != PQTRANS_IDLE) {
        bbtoken_exec_quiet(ctx, "ROLLBACK");
    }
    return rc;
}

int bbtoken_tx(bbtoken_ctx_t *ctx, const bbtoken_tx_t *tx)
{
    char unchanged[sizeof(ctx->done) + 64];
    const char *where;
    int rc, n;

    for (n = 1;; n++) {
        rc = bbtoken_tx_once(ctx, tx, &where);
        if (!ctx->aborted[0]) {
            return rc;
        }
        if (n == BBTOKEN_TX_TRIES) {
            return bbtoken_fail(
                "%s: the database aborted it each time, %d times, to let a "
                "concurrent change go on (SQLSTATE %s): %s",
                where, n, ctx->aborted,
                bbtoken_changed(ctx, "nothing was changed",
                                "that transaction changed nothing, but ",
                                unchanged, sizeof(unchanged)));
        }
        bbtoken_tx_pause(n);
    }
}

/* A statement outside any transaction: a transaction of its own. */
typedef struct {
    const char *what, *sql;
    int n;
    const char *const *params;
    PGresult *res;
} bbtoken_alone_t;

static int bbtoken_alone_body(bbtoken_ctx_t *ctx, void *arg)
{
    bbtoken_alone_t *s = arg;

    PQclear(s->res);
    s->res = bbtoken_exec_once(ctx, s->what, s->sql, s->n, s->params);
    return s->res ? 0 : BBTOKEN_EXIT_FAIL;
}

PGresult *bbtoken_exec(bbtoken_ctx_t *ctx, const char *what, const char *sql,
                       int n, const char *const *params)
{
    bbtoken_alone_t s = {what, sql, n, params, NULL};
    /* A write (bbtoken_exec_rows) runs between a BEGIN and a COMMIT of its
     * own: sent alone, the statement was its own transaction, and a
     * connection lost before its answer left its outcome unknown, with no
     * id to ask about (xact.c). */
    const bbtoken_tx_t tx = {what, ctx->write_alone ? "BEGIN" : NULL,
                             NULL, bbtoken_alone_body,
                             &s,   NULL,
                             NULL, ctx->write_alone && ctx->write_audited};

    ctx->write_alone = 0;
    ctx->write_audited = 0;

    /* Inside a transaction, an abort is its runner's to judge: running
     * one statement of it again would not undo the others. */
    if (ctx->in_tx || PQtransactionStatus(ctx->conn) != PQTRANS_IDLE) {
        return bbtoken_exec_once(ctx, what, sql, n, params);
    }
    if (bbtoken_tx(ctx, &tx) != 0) {
        PQclear(s.res);
        return NULL;
    }
    return s.res;
}

int bbtoken_exec_rows(bbtoken_ctx_t *ctx, const char *what, const char *sql,
                      int n, const char *const *params, long *rows)
{
    PGresult *res;

    ctx->write_alone =
        !ctx->in_tx && PQtransactionStatus(ctx->conn) == PQTRANS_IDLE;
    res = bbtoken_exec(ctx, what, sql, n, params);
    ctx->write_alone = 0;
    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    *rows = atol(PQcmdTuples(res));
    PQclear(res);
    return 0;
}

int bbtoken_exec_audited(bbtoken_ctx_t *ctx, const char *what, const char *sql,
                         int n, const char *const *params, long *rows)
{
    int rc;

    ctx->write_audited = 1;
    rc = bbtoken_exec_rows(ctx, what, sql, n, params, rows);
    ctx->write_audited = 0;
    return rc;
}
