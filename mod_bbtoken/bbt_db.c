/*
 * mod_dbd glue: the pooled connections, taken with a bounded wait
 * (bbt_dbgate.c) and given back, their session made sure of (DBDInitSQL,
 * UTF-8), and the log lines of what fails on them.  The prepared
 * statements' machinery is bbt_dbstmt.c's, the statements a request's
 * verification runs bbt_dblookup.c's, the throttled writes bbt_dbwrite.c's.
 *
 * A reconnected connection has lost its DBDInitSQL: bbt_dbsession.c runs it
 * again where a connection is taken and where it is reconnected, the only
 * places its backend can change.  The backend is told by bbt_dbsession.c's
 * count of the connection's resets, not by its process id, which a new
 * backend may share with the old one (PostgreSQL restarted in a container,
 * the kernel's wrap at pid_max).
 *
 * The module speaks PostgreSQL only (the schema is PostgreSQL's), so it may
 * ask libpq directly for what apr_dbd does not say: the connection's status
 * and backend process id, and whether its server is a hot standby.
 */
#include "httpd.h"
#include "http_log.h"
#include "ap_mpm.h"
#include "apr_dbd.h"
#include "apr_optional.h"
#include "apr_strings.h"
#include "mod_dbd.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "bbt_config.h"
#include "bbt_db.h"
#include "bbt_dbconn.h"
#include "bbt_dbenc.h"
#include "bbt_dbrun.h"
#include "bbt_dbgate.h"
#include "bbt_dbsession.h"
#include "bbt_mono.h"
#include "bbt_schema.h"
#include "bbt_sqlstate.h"
#include "bbt_stats.h"

APLOG_USE_MODULE(bbtoken);

static APR_OPTIONAL_FN_TYPE(ap_dbd_open) * bbt_dbd_open;
static APR_OPTIONAL_FN_TYPE(ap_dbd_close) * bbt_dbd_close;

/* Under an MPM with one request thread per child (prefork), the pooled
 * connection that thread holds.  Its SIGTERM handler destroys the child's
 * pool wherever the request was, a query included, and apr_reslist's
 * cleanup aborts the child (assert ntotal == 0) for a connection still
 * out: it is given back first.  The request never resumes: the child
 * exits.  Threaded MPMs join their workers before the pool goes. */
static int bbt_db_single;
static ap_dbd_t *bbt_db_held;
static server_rec *bbt_db_held_s;

/* While a connection changes hands, the signals prefork ends a child with
 * wait: the handler finds it either out and held, or back in the pool,
 * never half given back. */
static void bbt_db_signals_wait(sigset_t *old)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, old);
}

const apr_dbd_driver_t *bbt_db_driver(const bbt_db_conn_t *c)
{
    return c->dbd->driver;
}

apr_pool_t *bbt_db_pool(const bbt_db_conn_t *c)
{
    return c->pool;
}

apr_dbd_t *bbt_db_handle(const bbt_db_conn_t *c)
{
    return c->dbd->handle;
}

static apr_status_t bbt_db_child_exit(void *data)
{
    ap_dbd_t *dbd = bbt_db_held;

    (void)data;
    if (dbd) {
        bbt_db_held = NULL;
        bbt_dbd_close(bbt_db_held_s, dbd);
    }
    return APR_SUCCESS;
}

void bbt_db_child_init(apr_pool_t *pchild)
{
    int threaded = AP_MPMQ_NOT_SUPPORTED;

    ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded);
    bbt_db_single = threaded == AP_MPMQ_NOT_SUPPORTED;
    if (bbt_db_single) {
        /* Before mod_dbd's pool, a subpool, goes. */
        apr_pool_pre_cleanup_register(pchild, NULL, bbt_db_child_exit);
    }
}

int bbt_db_init(void)
{
    bbt_dbd_open = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open);
    bbt_dbd_close = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);
    return (bbt_dbd_open && bbt_dbd_close) ? 0 : -1;
}

void bbt_db_counted(apr_time_t start, int rv)
{
    apr_time_t t = bbt_mono_now() - start;

    bbt_stats_db_query(t > 0 ? (uint64_t)t : 0, rv == 0);
}

int bbt_db_writes_held(const bbt_db_conn_t *c)
{
    return c->writes_held;
}

void bbt_db_hold_writes(bbt_db_conn_t *c)
{
    c->writes_held = 1;
}

void bbt_db_say(const bbt_db_conn_t *c, int level, const char *id,
                const char *text)
{
    ap_log_rerror(APLOG_MARK, level, 0, c->r, "%s: %s", id, text);
}

/* Whether the connection's session is one DBDInitSQL made: 0, or -1
 * (logged, unless the connection was lost: the caller reconnects). */
static int bbt_db_session(bbt_db_conn_t *c)
{
    char err[320];
    int rc;

    /* Outside any transaction before the list runs again, and after. */
    if (bbt_dbsession_idle(c->sess, c->pg, !c->borrowed, err, sizeof(err), 0)) {
        rc = -3;
    } else {
        if (err[0]) {
            bbt_db_say(c, APLOG_WARNING, "BBT082", err);
        }
        rc = bbt_dbsession_ready_st(c->sess, c->pg, err, sizeof(err), 0);
        if (rc == 0 &&
            bbt_dbsession_idle(c->sess, c->pg, 0, err, sizeof(err), 0) != 0) {
            rc = -3;
        }
    }
    if (rc == -3) {
        bbt_db_say(c, APLOG_ERR, "BBT083", err);
        return -1;
    }
    if (rc == -1) {
        bbt_db_say(c, APLOG_ERR, "BBT080",
                   apr_pstrcat(c->pool,
                               "the pool's DBDInitSQL could not be run on a "
                               "database connection (connected again after "
                               "PostgreSQL dropped it, or mod_dbd's own run "
                               "failed); it is not used: ",
                               err, NULL));
    }
    return rc == 0 ? 0 : -1;
}

/* The connection's backend now. */
bbt_db_backend_t bbt_db_backend_now(const bbt_db_conn_t *c)
{
    bbt_db_backend_t b;

    b.generation = bbt_dbsession_generation(c->sess);
    b.pid = PQbackendPID(c->pg);
    return b;
}

/* Whether m is the connection's backend now.  Where libpq does not tell
 * of resets, never: what holds for a backend is asked again. */
static int bbt_db_backend_is(const bbt_db_conn_t *c, const bbt_db_backend_t *m)
{
    bbt_db_backend_t b;

    if (!m || !bbt_dbsession_watched(c->sess)) {
        return 0;
    }
    b = bbt_db_backend_now(c);
    return m->pid != 0 && m->pid == b.pid && m->generation == b.generation;
}

/* Remember the connection's backend now in m. */
static void bbt_db_backend_note(const bbt_db_conn_t *c, bbt_db_backend_t *m)
{
    if (m) {
        *m = bbt_db_backend_now(c);
    }
}

/* The database's encoding looked at, then UTF-8 made sure of. */
static int bbt_db_utf8(bbt_db_conn_t *c)
{
    bbt_db_backend_t *m = c->st ? &c->st->enc_seen : NULL;
    int seen = bbt_db_backend_is(c, m);

    if (bbt_dbenc_utf8(c->r, c->pg, !seen) != 0) {
        return -1;
    }
    if (!seen) {
        bbt_db_backend_note(c, m);
    }
    return 0;
}

/* dbd's session and the module's memo of it, looked up once. */
static void bbt_db_memo(bbt_db_conn_t *c)
{
    c->sess = bbt_dbsession_of(c->dbd);
    if (!c->sess) {
        return;
    }
    c->st = bbt_dbsession_memo(c->sess);
    if (!c->st) {
        c->st = apr_pcalloc(c->dbd->pool, sizeof(*c->st));
        bbt_dbsession_set_memo(c->sess, c->st);
    }
}

/* A place among the pool's connections for c's request, and the turn to
 * ask the pool for one (bbt_dbgate), waiting up to BBTokenDBWait for both,
 * or not at all for a spare's: 0, or -1 (logged).  A lookup also waits for
 * a turn held for less than BBT_DBGATE_TURN_FLOOR_S, whatever
 * BBTokenDBWait says, which is the wait for a place: a turn takes an idle
 * connection, or makes one, far quicker than that unless the database does
 * not answer.  A spare's writes do not wait for a turn at all: a request
 * the cache answered would be held whenever the child connects, and a
 * write not made is made by a later request that finds it due. */
static int bbt_db_place(bbt_db_conn_t *c, int spare)
{
    int wait = spare ? 0 : bbt_config_db_wait(c->s), max = 0, full;
    apr_time_t until = bbt_mono_now() + apr_time_from_sec(wait);

    /* Never into mod_dbd's wait without end: a place first, or 503; nor
     * into its queue of threads connecting one after another: a turn. */
    full = bbt_dbgate_enter(c->s, apr_time_from_sec(wait), &max, &c->gate);
    if (full == 0) {
        if (bbt_dbgate_turn(
                c->gate, until - bbt_mono_now(),
                spare ? 0 : apr_time_from_sec(BBT_DBGATE_TURN_FLOOR_S)) == 0) {
            c->gated = 1;
            return 0;
        }
        bbt_dbgate_leave(c->gate);
    }
    if (spare) {
        bbt_db_write_skipped(
            c, "the throttled writes of a request the cache answered",
            full ? apr_psprintf(c->pool,
                                "all %d of this child's pooled connections "
                                "(DBDMax) are in use",
                                max)
                 : "another request of this child is taking a connection "
                   "from mod_dbd's pool");
        return -1;
    }
    /* No connection from the pool, as when mod_dbd has none. */
    bbt_stats_count(BBT_STAT_DB_CONNECTION_ERRORS);
    if (full) {
        bbt_db_say(c, APLOG_ERR, "BBT350",
                   apr_psprintf(c->pool,
                                "no database connection within %d s "
                                "(BBTokenDBWait): all %d of this child's "
                                "(DBDMax) are in use",
                                wait, max));
    } else {
        bbt_db_say(c, APLOG_ERR, "BBT360",
                   apr_psprintf(c->pool,
                                "no database connection within %d s "
                                "(BBTokenDBWait): other requests of this "
                                "child held the turn to take a connection "
                                "from mod_dbd's pool past that wait (one "
                                "for longer than %d s, as when it makes "
                                "one and the database does not answer, up "
                                "to DBDParams' connect_timeout; or one "
                                "after another)",
                                wait, BBT_DBGATE_TURN_FLOOR_S));
    }
    return -1;
}

/* No connection for c's request (BBT070): mod_dbd's pool gave none (it
 * has logged why), or one PostgreSQL had dropped that could not be
 * connected again (bbt_db_unreached). */
static void bbt_db_none(bbt_db_conn_t *c)
{
    const char *why = bbt_db_unreached(c);

    bbt_db_say(c, APLOG_ERR, "BBT070",
               why ? apr_pstrcat(c->pool,
                                 "no database connection available: the "
                                 "pooled one PostgreSQL dropped could not be "
                                 "connected again: ",
                                 why, NULL)
                   : "no database connection available");
}

/* The taken connection's session and encoding made sure of, then, the
 * first time in this child, the schema's version read (bbt_schema_note):
 * 0; -1, one of the first two failed (logged where the connection is still
 * up); 1, the read found the connection dropped.  The first two are
 * remembered for the backend and send nothing once made sure of, so a
 * connection PostgreSQL dropped since (a restart) passes them, and the
 * read is the first statement it is sent: a SELECT outside any
 * transaction, which a new connection may run again. */
static int bbt_db_ready(bbt_db_conn_t *c)
{
    if (bbt_db_session(c) != 0 || bbt_db_utf8(c) != 0) {
        return -1;
    }
    bbt_schema_note(c->r, c->pg);
    return bbt_db_lost(c) ? 1 : 0;
}

/* bbt_db_open, or bbt_db_open_spare (spare). */
static bbt_db_conn_t *bbt_db_take(request_rec *r, int spare)
{
    apr_pool_t *p = r->pool;
    bbt_db_conn_t *c = apr_pcalloc(p, sizeof(*c));
    int ready;

    c->pool = p;
    c->s = r->server;
    c->r = r;
    if ((c->dbd = bbt_dbgate_held(r)) != NULL) {
        c->borrowed = 1;
        goto held;
    }
    if (bbt_db_place(c, spare) != 0) {
        return NULL;
    }
    if (bbt_db_single) {
        sigset_t old;

        bbt_db_signals_wait(&old);
        c->dbd = bbt_dbd_open(p, r->server);
        if (c->dbd && !bbt_db_held) {
            bbt_db_held_s = r->server;
            bbt_db_held = c->dbd;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    } else {
        c->dbd = bbt_dbd_open(p, r->server);
    }
    bbt_dbgate_turn_end(c->gate);
    if (!c->dbd) {
        bbt_stats_count(BBT_STAT_DB_CONNECTION_ERRORS);
        bbt_dbgate_leave(c->gate);
        c->gated = 0;
        bbt_db_none(c);
        return NULL;
    }
held:
    if (strcmp(apr_dbd_name(c->dbd->driver), "pgsql") != 0) {
        bbt_stats_count(BBT_STAT_DB_CONNECTION_ERRORS);
        bbt_db_say(c, APLOG_ERR, "BBT071",
                   apr_pstrcat(p, "mod_bbtoken needs DBDriver pgsql, not ",
                               apr_dbd_name(c->dbd->driver), NULL));
        bbt_db_close(c);
        return NULL;
    }
    c->pg = apr_dbd_native_handle(c->dbd->driver, c->dbd->handle);
    bbt_db_memo(c);
    /* Terse errors while the module holds it: every message it logs comes
     * from PQerrorMessage, and a refused write's DETAIL would repeat the
     * token row, salt and hash included. */
    c->verbosity = PQsetErrorVerbosity(c->pg, PQERRORS_TERSE);
    /* The session DBDInitSQL makes (mod_dbd's check may have reconnected
     * it without), then UTF-8 before any text goes either way; a
     * connection PostgreSQL dropped fails one or the other, or the
     * schema's read, and is connected again (and made so) at once. */
    ready = bbt_db_ready(c);
    if (ready > 0) {
        bbt_db_retrying(c, 0, "reading the database's schema version");
    }
    if (ready != 0) {
        if (!bbt_db_reconnected(c)) {
            bbt_stats_count(BBT_STAT_DB_CONNECTION_ERRORS);
            if (bbt_db_unreached(c)) {
                bbt_db_none(c);
            }
            bbt_db_close(c);
            return NULL;
        }
        /* Not read on the old backend: once, on the new one.  Should it
         * be dropped too, the caller's statements meet it as any other. */
        bbt_schema_note(r, c->pg);
    }
    return c;
}

bbt_db_conn_t *bbt_db_open(request_rec *r)
{
    return bbt_db_take(r, 0);
}

bbt_db_conn_t *bbt_db_open_spare(request_rec *r)
{
    return bbt_db_take(r, 1);
}

void bbt_db_close(bbt_db_conn_t *c)
{
    if (c && c->dbd) {
        ap_dbd_t *dbd = c->dbd;

        if (c->pg) {
            PQsetErrorVerbosity(c->pg, c->verbosity);
        }
        c->dbd = NULL;
        if (c->borrowed) {
            /* mod_dbd gives it back when the request ends. */
        } else if (bbt_db_single) {
            sigset_t old;

            bbt_db_signals_wait(&old);
            bbt_dbd_close(c->s, dbd);
            if (bbt_db_held == dbd) {
                bbt_db_held = NULL;
            }
            pthread_sigmask(SIG_SETMASK, &old, NULL);
        } else {
            bbt_dbd_close(c->s, dbd);
        }
    }
    if (c && c->gated) {
        bbt_dbgate_leave(c->gate);
        c->gated = 0;
    }
}

void bbt_db_log(bbt_db_conn_t *c, int level, int rv, const char *id,
                const char *what)
{
    char line[512];
    const char *err = bbt_sql_line(
        line, sizeof(line), apr_dbd_error(c->dbd->driver, c->dbd->handle, rv),
        "unknown error");

    bbt_db_say(c, level, id,
               apr_pstrcat(c->pool, what, " failed: ", err, NULL));
}

int bbt_db_lost(const bbt_db_conn_t *c)
{
    return PQstatus(c->pg) != CONNECTION_OK;
}

int bbt_db_reconnected(bbt_db_conn_t *c)
{
    char line[512];
    /* libpq marks the connection bad only once a statement has failed on
     * it; the pgsql driver's check then resets it, to libpq's defaults,
     * and DBDInitSQL is run again. */
    int ok = bbt_db_lost(c) &&
             apr_dbd_check_conn(c->dbd->driver, c->pool, c->dbd->handle) ==
                 APR_SUCCESS &&
             bbt_db_session(c) == 0 && bbt_db_utf8(c) == 0;

    /* Still not connected: the reset's words (the server refused it), or
     * the session's, lost again at once, which no one else logs.  libpq
     * quotes no password (nor do mod_dbd's lines, BBT307, BBT308). */
    c->unreached =
        ok || !bbt_db_lost(c)
            ? NULL
            : apr_pstrdup(c->pool,
                          bbt_sql_line(line, sizeof(line),
                                       PQerrorMessage(c->pg), "no message"));
    return ok;
}

const char *bbt_db_unreached(const bbt_db_conn_t *c)
{
    return c->unreached && bbt_db_lost(c) ? c->unreached : NULL;
}

void bbt_db_gave_up(bbt_db_conn_t *c, int rv, const char *id, const char *what)
{
    const char *why = bbt_db_unreached(c);

    if (why) {
        bbt_stats_count(BBT_STAT_DB_CONNECTION_ERRORS);
        bbt_db_say(c, APLOG_ERR, id,
                   apr_pstrcat(c->pool, what,
                               " failed: the connection PostgreSQL dropped "
                               "could not be connected again: ",
                               why, NULL));
    } else {
        bbt_db_log(c, APLOG_ERR, rv, id, what);
    }
}

int bbt_db_standby(const PGconn *pg)
{
    const char *v = PQparameterStatus(pg, "in_hot_standby");

    return v && strcmp(v, "on") == 0;
}

int bbt_db_conn_standby(bbt_db_conn_t *c)
{
    bbt_db_backend_t *m = c->st ? &c->st->primary : NULL;

    if (bbt_db_backend_is(c, m)) {
        return 0;
    }
    if (bbt_db_standby(c->pg)) {
        return 1;
    }
    bbt_db_backend_note(c, m);
    return 0;
}

/* For code that runs its own statements and transactions on the
 * connection (the REST API): libpq's handle. */
struct pg_conn *bbt_db_native(bbt_db_conn_t *c)
{
    return c->pg;
}
