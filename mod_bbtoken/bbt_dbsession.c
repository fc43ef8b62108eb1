/*
 * A pooled connection's session as DBDInitSQL made it (bbt_dbsession.h).
 *
 * mod_dbd tells the modules of each connection it makes (its post_connect
 * hook), with the configuration of the pool: the DBDInitSQL list it runs
 * there (a virtual host's own first, then the main server's, as mod_dbd
 * merges them; for a pool that servers share, the first such server's).
 * So the module need not work out which server's list a pool runs: one
 * hook before mod_dbd's own notes the list on the connection, one after it
 * notes the backend process the list has run on.  mod_dbd's own hook stops
 * the others when a statement fails, and then hands the connection out all
 * the same: the second note is missing, and the module runs the list
 * itself before it trusts the session.
 *
 * A reconnect (PQreset, by mod_dbd's check when a connection is taken or
 * by the module's after a failed statement) gives the connection another
 * backend: libpq tells the module of each one that succeeds (its
 * PGEVT_CONNRESET event), and the list is run again before any statement
 * of the module's.  The new backend's process id may well be the old
 * one's (PostgreSQL restarted in a container numbers its processes
 * afresh; the kernel's wrap at pid_max), so the id alone cannot tell.
 * The resets are counted: the count is the backend's generation, by which
 * bbt_db.c knows its prepared statements too.
 * The backend can change nowhere else, so the module looks only where a
 * connection is taken and where it is reconnected, not at every
 * statement.
 *
 * Both notes live in the connection's own pool, which only the
 * connection's current holder touches, and go with the connection.
 */
#include "httpd.h"
#include "apr_dbd.h"
#include "apr_optional_hooks.h"
#include "apr_strings.h"
#include "mod_dbd.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include <libpq-fe.h>
#include <libpq-events.h>

#include "bbt_dbsession.h"
#include "bbt_mono.h"
#include "bbt_sqlstate.h"

struct bbt_dbsession_s {
    const apr_array_header_t *sql; /* the pool's DBDInitSQL, in order */
    int pid;     /* the backend they last ran on without error; 0: none */
    int watched; /* libpq tells of a reset (bbt_dbsession_event) */
    int open_tx; /* the list, run, left the session inside a transaction */
    /* The resets libpq has told of: 0 while the backend is the one
     * mod_dbd made. */
    unsigned long generation;
    void *memo; /* bbt_db.c's, kept with the connection */
    /* The SQLSTATE of the last result, if it was an error ("" if not): the
     * pgsql driver clears a failed statement's result before its caller
     * could read it. */
    char state[6];
};

static const char bbt_dbsession_key[] = "bbtoken-db-session";

bbt_dbsession_t *bbt_dbsession_of(ap_dbd_t *dbd)
{
    void *v = NULL;

    apr_pool_userdata_get(&v, bbt_dbsession_key, dbd->pool);
    return v;
}

/* A reset that succeeded: another backend, whatever its process id.  st
 * lives in the connection's pool, whose cleanup closes the connection
 * before the memory goes. */
static int bbt_dbsession_event(PGEventId id, void *info, void *pass)
{
    bbt_dbsession_t *st = pass;

    if (id == PGEVT_CONNRESET) {
        st->pid = 0;
        st->generation++;
    } else if (id == PGEVT_RESULTCREATE) {
        const PGresult *res = ((const PGEventResultCreate *)info)->result;
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

        st->state[0] = '\0';
        if (PQresultStatus(res) == PGRES_FATAL_ERROR && state) {
            apr_cpystrn(st->state, state, sizeof(st->state));
        }
    }
    return 1;
}

/* Before mod_dbd runs DBDInitSQL: which list, not run yet. */
static apr_status_t bbt_dbsession_made(apr_pool_t *pool, dbd_cfg_t *cfg,
                                       ap_dbd_t *dbd)
{
    bbt_dbsession_t *st = apr_pcalloc(dbd->pool, sizeof(*st));

    (void)pool;
    st->sql = cfg->init_queries;
    if (strcmp(apr_dbd_name(dbd->driver), "pgsql") == 0) {
        st->watched =
            PQregisterEventProc(apr_dbd_native_handle(dbd->driver, dbd->handle),
                                bbt_dbsession_event, "mod_bbtoken session", st);
    }
    apr_pool_userdata_setn(st, bbt_dbsession_key, NULL, dbd->pool);
    return OK;
}

/* After it, reached only when every statement succeeded: on this backend. */
static apr_status_t bbt_dbsession_inited(apr_pool_t *pool, dbd_cfg_t *cfg,
                                         ap_dbd_t *dbd)
{
    bbt_dbsession_t *st = bbt_dbsession_of(dbd);

    (void)pool;
    (void)cfg;
    if (st && strcmp(apr_dbd_name(dbd->driver), "pgsql") == 0) {
        PGconn *pg = apr_dbd_native_handle(dbd->driver, dbd->handle);

        st->pid = PQbackendPID(pg);
        st->open_tx = PQtransactionStatus(pg) != PQTRANS_IDLE;
    }
    return OK;
}

void bbt_dbsession_register_hooks(apr_pool_t *p)
{
    static const char *const mod_dbd[] = {"mod_dbd.c", NULL};

    (void)p;
    APR_OPTIONAL_HOOK(dbd, post_connect, bbt_dbsession_made, NULL, mod_dbd,
                      APR_HOOK_REALLY_FIRST);
    APR_OPTIONAL_HOOK(dbd, post_connect, bbt_dbsession_inited, mod_dbd, NULL,
                      APR_HOOK_REALLY_LAST);
}

/* The failure of the list's statement i (of n) as err: its SQLSTATE and
 * PostgreSQL's primary message up to the first quote, since the statement
 * may hold a password (SET ROLE ... or a function's argument), and
 * PostgreSQL quotes what it refused of it in the message ("unterminated
 * quoted string at or near ...", "invalid input syntax for type ...: ..."),
 * as libpq's full text does in its context.  A server whose lc_messages
 * translates quotes with other marks (German >>...<<, French << ... >>,
 * Japanese corner brackets), none of them ASCII: the message ends at the
 * first byte outside ASCII too. */
static void bbt_dbsession_why(const PGresult *res, int i, int n, char *err,
                              size_t errlen)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg =
        res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char line[256];
    size_t quote;

    bbt_sql_line(line, sizeof(line), msg, "");
    for (quote = 0; line[quote] != '\0' && line[quote] != '"' &&
                    line[quote] != '\'' && !(line[quote] & 0x80);
         quote++)
        ;
    if (line[quote] != '\0') {
        apr_cpystrn(line + quote, "... (what it quotes is not logged)",
                    sizeof(line) - quote);
    }
    apr_snprintf(err, errlen, "statement %d of %d: SQLSTATE %s: %s", i + 1, n,
                 state ? state : "none", line[0] ? line : "no message");
}

/* Wait, until until at most, for what PQgetResult needs next: 0 when it
 * will not block (a broken connection included: PQgetResult says so), -1
 * when the time ran out.  Only the socket is polled: data OpenSSL holds
 * beyond what PQconsumeInput took could wait for the deadline, which
 * answers of a few hundred bytes never leave there. */
static int bbt_dbsession_wait(PGconn *pg, int64_t until)
{
    struct pollfd p;
    int64_t left;
    int rc;

    while (PQconsumeInput(pg) && PQisBusy(pg)) {
        if ((left = until - bbt_mono_now()) <= 0) {
            return -1;
        }
        p.fd = PQsocket(pg);
        p.events = POLLIN;
        p.revents = 0;
        rc = poll(&p, 1, (int)((left + 999) / 1000));
        if (rc < 0 && errno != EINTR) {
            return 0;
        }
    }
    return 0;
}

PGresult *bbt_dbsession_exec(PGconn *pg, const char *sql, int64_t until)
{
    PGresult *res, *last = NULL;

    if (until == 0) {
        return PQexec(pg, sql);
    }
    if (!PQsendQuery(pg, sql)) {
        return NULL;
    }
    /* As PQexec: every result, the last kept (an error, when the
     * connection broke), each waited for with the deadline: the end of
     * the answer may come after its first result. */
    for (;;) {
        if (bbt_dbsession_wait(pg, until) != 0) {
            /* Shut, not closed: the descriptor stays libpq's, which now
             * reads the end of the stream and gives up on the statement
             * without waiting. */
            shutdown(PQsocket(pg), SHUT_RDWR);
            while ((res = PQgetResult(pg)) != NULL) {
                PQclear(res);
            }
            PQclear(last);
            return NULL;
        }
        if ((res = PQgetResult(pg)) == NULL) {
            return last;
        }
        PQclear(last);
        last = res;
    }
}

int bbt_dbsession_ready(ap_dbd_t *dbd, PGconn *pg, char *err, size_t errlen,
                        int64_t until)
{
    return bbt_dbsession_ready_st(bbt_dbsession_of(dbd), pg, err, errlen,
                                  until);
}

int bbt_dbsession_ready_st(bbt_dbsession_t *st, PGconn *pg, char *err,
                           size_t errlen, int64_t until)
{
    int pid = PQbackendPID(pg), i;

    if (!st) {
        /* Not made by mod_dbd's constructor as the module knows it: whose
         * session it is cannot be told. */
        apr_cpystrn(err,
                    "mod_dbd did not say which DBDInitSQL it ran on this "
                    "connection",
                    errlen);
        return -1;
    }
    /* Unwatched (libpq refused the event procedure), a reset cannot be
     * told: the list is run at every use. */
    if (st->watched && st->pid != 0 && st->pid == pid) {
        return 0;
    }
    /* Where mod_dbd's run failed, the statements before the failed one
     * stay done, and one of them run again may fail for that alone (a
     * CREATE TEMPORARY VIEW): from a new backend instead.  Each statement
     * is one implicit transaction, so a failed one leaves nothing. */
    if (st->watched && st->pid == 0 && st->generation == 0 && st->sql &&
        st->sql->nelts > 1) {
        PQreset(pg);
        pid = PQbackendPID(pg);
    }
    if (PQstatus(pg) != CONNECTION_OK) {
        return -2;
    }
    for (i = 0; st->sql && i < st->sql->nelts; i++) {
        PGresult *res = bbt_dbsession_exec(
            pg, APR_ARRAY_IDX(st->sql, i, const char *), until);
        ExecStatusType rs = PQresultStatus(res);

        /* What the pgsql driver, and so mod_dbd, takes for success. */
        if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK &&
            rs != PGRES_EMPTY_QUERY) {
            int lost = PQstatus(pg) != CONNECTION_OK;

            if (!lost) {
                bbt_dbsession_why(res, i, st->sql->nelts, err, errlen);
                /* Nothing of a list run halfway stays for the next try. */
                if (i > 0) {
                    PQreset(pg);
                }
            }
            PQclear(res);
            return lost ? -2 : -1;
        }
        PQclear(res);
    }
    st->pid = pid;
    st->open_tx = PQtransactionStatus(pg) != PQTRANS_IDLE;
    return 0;
}

unsigned long bbt_dbsession_generation(const bbt_dbsession_t *st)
{
    return st ? st->generation : 0;
}

int bbt_dbsession_watched(const bbt_dbsession_t *st)
{
    return st && st->watched;
}

int bbt_dbsession_idle(const bbt_dbsession_t *st, PGconn *pg, int release,
                       char *err, size_t errlen, int64_t until)
{
    PGTransactionStatusType ts = PQtransactionStatus(pg);

    err[0] = '\0';
    /* A lost connection is the caller's to make again (as
     * bbt_dbsession_ready_st says: -2), and is then outside any. */
    if (ts == PQTRANS_IDLE || PQstatus(pg) != CONNECTION_OK) {
        return 0;
    }
    if (ts != PQTRANS_INTRANS && ts != PQTRANS_INERROR) {
        apr_cpystrn(err, "the connection is busy: not used", errlen);
        return -1;
    }
    if (st && st->open_tx) {
        apr_cpystrn(err,
                    "the pool's DBDInitSQL leaves the session inside a "
                    "transaction, which the module's statements must not "
                    "run in: not used",
                    errlen);
        return -1;
    }
    if (!release) {
        apr_cpystrn(err,
                    "the connection the request holds is inside another "
                    "module's transaction: not used",
                    errlen);
        return -1;
    }
    PQclear(bbt_dbsession_exec(pg, "ROLLBACK", until));
    /* Lost meanwhile (its answer not in time, or the server's
     * idle_in_transaction_session_timeout ended it): the caller's to make
     * again, as above. */
    if (PQstatus(pg) != CONNECTION_OK) {
        return 0;
    }
    if (PQtransactionStatus(pg) != PQTRANS_IDLE) {
        apr_cpystrn(err,
                    "a pooled connection is inside a transaction that could "
                    "not be rolled back: not used",
                    errlen);
        return -1;
    }
    apr_cpystrn(err,
                "a pooled connection was inside a transaction (a module gave "
                "it back inside its own): rolled back",
                errlen);
    return 0;
}

/* The SQLSTATE of the last result on st's connection if it was an error
 * libpq told of (a statement's, a prepare's), else NULL. */
static const char *bbt_dbsession_last_state(const bbt_dbsession_t *st)
{
    return st && st->watched && st->state[0] ? st->state : NULL;
}

int bbt_dbsession_failed_with(const bbt_dbsession_t *st,
                              int (*is)(const char *state))
{
    const char *last = bbt_dbsession_last_state(st);

    return last && is(last);
}

int bbt_dbsession_waited(const bbt_dbsession_t *st, PGconn *pg)
{
    return PQstatus(pg) == CONNECTION_OK &&
           bbt_sql_waited_out(bbt_dbsession_last_state(st));
}

void *bbt_dbsession_memo(const bbt_dbsession_t *st)
{
    return st ? st->memo : NULL;
}

void bbt_dbsession_set_memo(bbt_dbsession_t *st, void *memo)
{
    st->memo = memo;
}
