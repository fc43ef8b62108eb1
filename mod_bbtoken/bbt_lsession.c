/*
 * The pooled session the cache's listener copies (bbt_lsession.h).
 *
 * Read once per connection of the listener's, before it connects: a
 * pooled connection has run the main server's DBDInitSQL, so its
 * search_path and role are what the requests' statements resolve names
 * under.  The listener sets the same in its own session, at the head of
 * the batch that subscribes (bbt_lsession_setup): no round trip of its
 * own, nothing of mod_dbd's done again, and nothing asked of the server
 * at connecting that a pooler (PgBouncer) refuses or drops there, as it
 * does libpq's options.  What else DBDInitSQL may do to the names (a
 * temporary table or view, found before any schema) the listener cannot
 * copy: it compares what the two sessions resolve (bbt_listen.c, BBT711)
 * and believes nothing when they differ.
 */
#include "httpd.h"
#include "http_log.h"
#include "apr_dbd.h"
#include "apr_optional.h"
#include "apr_strings.h"
#include "mod_dbd.h"

#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "bbt_cache.h"
#include "bbt_db.h"
#include "bbt_dbgate.h"
#include "bbt_dbsession.h"
#include "bbt_listensql.h"
#include "bbt_lsession.h"
#include "bbt_mono.h"
#include "bbt_sqlstate.h"

APLOG_USE_MODULE(bbtoken);

/* The session's search_path and role, as DBDInitSQL left them; how it
 * resolves the names. */
static const char bbt_lsession_sql[] =
    "SELECT current_setting('search_path'), current_user, "
    "session_user, " BBT_LISTEN_NAMES_SQL;

/* The main server's connection options, from a pooled connection: as
 * DBDParams gives them, its options= among them (the administrator's, as
 * the pool's), but for the few the listener sets itself below. */
static void bbt_lsession_params(bbt_lsession_t *ls, apr_pool_t *pool,
                                PQconninfoOption *opts)
{
    PQconninfoOption *o;
    int n = 0, i = 0, primary = PQlibVersion() >= 140000;

    bbt_cache_fingerprint(opts, ls->source);
    for (o = opts; o->keyword; o++) {
        n++;
    }
    /* DBDParams' own, three of the listener's, and the NULL. */
    ls->keys = apr_pcalloc(pool, (n + 4) * sizeof(char *));
    ls->vals = apr_pcalloc(pool, (n + 4) * sizeof(char *));
    for (o = opts; o->keyword; o++) {
        if (o->val && *o->val && strcmp(o->keyword, "application_name") != 0 &&
            strcmp(o->keyword, "fallback_application_name") != 0 &&
            strcmp(o->keyword, "client_encoding") != 0 &&
            (!primary || strcmp(o->keyword, "target_session_attrs") != 0)) {
            ls->keys[i] = apr_pstrdup(pool, o->keyword);
            ls->vals[i++] = apr_pstrdup(pool, o->val);
        }
    }
    /* A hot standby neither delivers NOTIFY nor takes LISTEN, whatever
     * DBDParams let the pool read: among several hosts libpq finds the
     * primary itself, and a standby alone is refused when connecting
     * (BBT308), as LISTEN would refuse it.  (libpq before 14 has no
     * "primary": there LISTEN decides.) */
    if (primary) {
        ls->keys[i] = "target_session_attrs";
        ls->vals[i++] = "primary";
    }
    /* So that an administrator can tell it in pg_stat_activity. */
    ls->keys[i] = "application_name";
    ls->vals[i++] = "mod_bbtoken listener";
    /* As every connection of the module's (bbt_dbenc.h), whatever
     * PGCLIENTENCODING, the role or the database say: asked for when
     * connecting, it costs no round trip. */
    ls->keys[i] = "client_encoding";
    ls->vals[i] = "UTF8";
}

/* What the session's row says, into ls; -1 (why in err) if it cannot be
 * copied.  The role only where DBDInitSQL (or DBDParams) set one: else the
 * session's own, which SET ROLE NONE gives back whatever DBDParams' options
 * said. */
static int bbt_lsession_take(bbt_lsession_t *ls, PGresult *res, char *err,
                             size_t errlen)
{
    const char *path = PQgetvalue(res, 0, 0), *role = PQgetvalue(res, 0, 1);

    if (strlen(path) >= sizeof(ls->path)) {
        apr_cpystrn(err, "the pooled session's search_path is too long",
                    errlen);
        return -1;
    }
    if (strcmp(role, PQgetvalue(res, 0, 2)) == 0) {
        role = "";
    }
    if (strlen(role) >= sizeof(ls->role)) {
        apr_cpystrn(err, "the pooled session's role is too long", errlen);
        return -1;
    }
    apr_cpystrn(ls->path, path, sizeof(ls->path));
    apr_cpystrn(ls->role, role, sizeof(ls->role));
    apr_cpystrn(ls->names, PQgetvalue(res, 0, 3), sizeof(ls->names));
    return 1;
}

int bbt_lsession_setup(const bbt_lsession_t *ls, PGconn *pg, char *buf,
                       size_t n)
{
    char *path, *role = NULL;
    int rc = -1;

    /* search_path as a string, as the pooled session shows it: the list
     * is parsed again, "$user" and all, which SET's literal would take
     * for one schema's name.  An empty one stays empty. */
    path = PQescapeLiteral(pg, ls->path, strlen(ls->path));
    if (path &&
        (!ls->role[0] ||
         (role = PQescapeIdentifier(pg, ls->role, strlen(ls->role))) != NULL)) {
        /* In either order: the search_path's "$user" is the current
         * role's whenever the path is resolved. */
        size_t len = apr_snprintf(
            buf, n,
            "SELECT 'session', pg_catalog.set_config('search_path', %s, "
            "false); SET ROLE %s; ",
            path, role ? role : "NONE");

        rc = len + 1 < n ? 0 : -1;
    }
    PQfreemem(path);
    PQfreemem(role);
    return rc;
}

/* How long the listener's thread waits for a pooled connection's answers,
 * all tries together: well within what a child's exit waits for a call
 * of the listener's (bbt_wdcall.c), since a backend that stopped
 * answering (a frozen host) holds its connection open for many minutes. */
#define BBT_LSESSION_WAIT_US 2000000

/* A pooled connection made ready for a statement of the listener's: not
 * inside another module's transaction (its SET LOCALs, its snapshot:
 * rolled back first, or not used at all), and given DBDInitSQL if mod_dbd's
 * check connected it again without.  0 ready, -1 not (why in err), 2 when
 * the connection turned out lost (PostgreSQL restarted since it was
 * made). */
static int bbt_lsession_usable(ap_dbd_t *dbd, PGconn *pg, server_rec *s,
                               char *err, size_t errlen, int64_t until)
{
    int rc;

    if (bbt_dbsession_idle(bbt_dbsession_of(dbd), pg, 1, err, errlen, until) !=
        0) {
        return -1;
    }
    /* Said as a request says it (BBT082): the module that left it there
     * is to be found, whoever found it. */
    if (err[0]) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "BBT084: the token cache's listener, reading the pooled "
                     "session: %s",
                     err);
        err[0] = '\0';
    }
    rc = bbt_dbsession_ready(dbd, pg, err, errlen, until);
    if (rc == 0 && bbt_dbsession_idle(bbt_dbsession_of(dbd), pg, 0, err, errlen,
                                      until) != 0) {
        return -1;
    }
    if (rc == -1) {
        char why[320];

        apr_cpystrn(why, err, sizeof(why));
        apr_snprintf(err, errlen,
                     "the pool's DBDInitSQL could not be run on a pooled "
                     "connection: %s",
                     why);
        return -1;
    }
    if (rc == -2) {
        apr_cpystrn(err, "the pooled connection was lost", errlen);
        return 2;
    }
    return 0;
}

/* A statement's failure on a pooled connection: -1 (why in err), or 2
 * when the connection was lost. */
static int bbt_lsession_failed(PGconn *pg, const PGresult *res, char *err,
                               size_t errlen, int64_t until)
{
    if (!res && bbt_mono_now() >= until) {
        /* Tried again later, not now: another connection to the same
         * host would hang as long, or its connect longer. */
        apr_cpystrn(err, "the pooled connection did not answer in time",
                    errlen);
        return -1;
    }
    bbt_sql_line(err, errlen, PQerrorMessage(pg),
                 "the pooled session cannot be read");
    return PQstatus(pg) == CONNECTION_BAD ? 2 : -1;
}

/* What runs on the pooled connection: as bbt_lsession_read, and 2 when the
 * connection turned out lost. */
typedef int bbt_lsession_fn(void *arg, apr_pool_t *pool, server_rec *s,
                            ap_dbd_t *dbd, PGconn *pg, char *err, size_t errlen,
                            int64_t until);

static int bbt_lsession_read_on(void *arg, apr_pool_t *pool, server_rec *s,
                                ap_dbd_t *dbd, PGconn *pg, char *err,
                                size_t errlen, int64_t until)
{
    bbt_lsession_t *ls = arg;
    PQconninfoOption *opts;
    PGresult *res;
    int rc;

    if (!ls->keys && (opts = PQconninfo(pg)) != NULL) {
        PQconninfoOption *o;

        bbt_lsession_params(ls, pool, opts);
        /* libpq's copy of the password: the listener keeps its own. */
        for (o = opts; o->keyword; o++) {
            if (o->val && (strcmp(o->keyword, "password") == 0 ||
                           strcmp(o->keyword, "sslpassword") == 0)) {
                OPENSSL_cleanse(o->val, strlen(o->val));
            }
        }
        PQconninfoFree(opts);
    }
    if (!ls->keys) {
        return 0;
    }
    if ((rc = bbt_lsession_usable(dbd, pg, s, err, errlen, until)) != 0) {
        return rc;
    }
    res = bbt_dbsession_exec(pg, bbt_lsession_sql, until);
    if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
        PQnfields(res) == 4) {
        rc = bbt_lsession_take(ls, res, err, errlen);
    } else {
        rc = bbt_lsession_failed(pg, res, err, errlen, until);
    }
    PQclear(res);
    return rc;
}

/* How long the listener's thread waits for a pooled connection's answers,
 * all tries together: well within what a child's exit waits for a call
 * of the listener's (bbt_wdcall.c), since a backend that stopped
 * answering (a frozen host) holds its connection open for many minutes. */
#define BBT_LSESSION_WAIT_US 2000000

/* How long the probe waits for the turn to ask the pool that another
 * thread holds (bbt_dbgate_turn's floor): long past taking an idle
 * connection (microseconds) and most connects, short of the heartbeat's
 * freshness (BBT_CACHE_FRESH_US), which this thread keeps. */
#define BBT_LSESSION_TURN_MS 100

/* fn on a connection of s's pool: a connection lost is given back (mod_dbd
 * makes it again when next taken) and another taken at once, as a
 * request's would be.  0 with no connection of mod_dbd's (none, or not
 * pgsql).  gate, where given, is the place held among the module's
 * connections, whose turn to ask the pool is waited for only while the
 * thread that has it has held it for less than BBT_LSESSION_TURN_MS
 * (taking an idle connection, in microseconds): BBT_LSESSION_NO_PLACE when
 * it has held it longer (it may be connecting, up to connect_timeout,
 * which the listener's thread does not wait for).  That is the child's
 * own threads busy on the pool, as a full pool is, not the database
 * failing: tried again as soon, never backed off as an outage. */
static int bbt_lsession_on_pool(apr_pool_t *pool, server_rec *s,
                                bbt_gate_t *gate, bbt_lsession_fn *fn,
                                void *arg, char *err, size_t errlen)
{
    APR_OPTIONAL_FN_TYPE(ap_dbd_open) *dbd_open =
        APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open);
    APR_OPTIONAL_FN_TYPE(ap_dbd_close) *dbd_close =
        APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);
    int64_t until = bbt_mono_now() + BBT_LSESSION_WAIT_US;
    apr_pool_t *tmp;
    ap_dbd_t *dbd;
    int rc = 2, tries;

    if (!dbd_open || !dbd_close) {
        return 0;
    }
    for (tries = 0; rc == 2 && tries < 2 && bbt_mono_now() < until; tries++) {
        /* Tried again and again while the database is down: what mod_dbd
         * allocates for a try goes with it. */
        if (bbt_dbgate_turn(gate, 0,
                            apr_time_from_msec(BBT_LSESSION_TURN_MS)) != 0) {
            apr_snprintf(err, errlen,
                         "another thread of this child was taking a "
                         "connection from mod_dbd's pool for longer than "
                         "%d ms",
                         BBT_LSESSION_TURN_MS);
            return BBT_LSESSION_NO_PLACE;
        }
        apr_pool_create(&tmp, pool);
        dbd = dbd_open(tmp, s);
        bbt_dbgate_turn_end(gate);
        rc = 0;
        if (dbd && strcmp(apr_dbd_name(dbd->driver), "pgsql") == 0) {
            rc = fn(arg, pool, s, dbd,
                    apr_dbd_native_handle(dbd->driver, dbd->handle), err,
                    errlen, until);
        }
        if (dbd) {
            dbd_close(s, dbd);
        }
        apr_pool_destroy(tmp);
    }
    return rc == 2 ? -1 : rc;
}

/* How long the listener's read of the pooled session, and its probe until
 * one has come back, wait for a place among the module's connections.
 * While the cache is not believed every token request reads the database,
 * so threads wait for places nearly all the time, and one that does not
 * wait is never given one (it takes no place a waiting thread is owed):
 * the read and the probe queue with them, each for one short statement,
 * never both in one call of the listener's: with the 2 s for answers,
 * within what a child's exit waits for the listener, connecting aside
 * (bbt_wdcall.c; a call longer than that is not waited for, BBT313). */
#define BBT_LSESSION_PLACE_WAIT_US 1000000

/* fn on a pooled connection, from a place among the module's own waited
 * for at most wait: never mod_dbd's endless queue for a connection (the
 * listener's thread would stop there, and a child's exit waits for it),
 * nor a connection taken from a request the gate let in (bbt_dbgate.h).
 * BBT_LSESSION_NO_PLACE when no place came, or no turn (above). */
static int bbt_lsession_placed(apr_pool_t *pool, server_rec *s,
                               apr_interval_time_t wait, bbt_lsession_fn *fn,
                               void *arg, char *err, size_t errlen)
{
    bbt_gate_t *held = NULL;
    int rc, max = 0;

    if (bbt_dbgate_enter(s, wait, &max, &held) != 0) {
        apr_cpystrn(err, "every pooled connection is in use", errlen);
        return BBT_LSESSION_NO_PLACE;
    }
    rc = bbt_lsession_on_pool(pool, s, held, fn, arg, err, errlen);
    bbt_dbgate_leave(held);
    return rc;
}

int bbt_lsession_read(bbt_lsession_t *ls, apr_pool_t *pool, server_rec *s,
                      char *err, size_t errlen)
{
    return bbt_lsession_placed(pool, s, BBT_LSESSION_PLACE_WAIT_US,
                               bbt_lsession_read_on, ls, err, errlen);
}

/* The probe: its statement, and the backend that sends it. */
typedef struct {
    const char *sql;
    int be_pid;
} bbt_lsession_probe_t;

static int bbt_lsession_probe_on(void *arg, apr_pool_t *pool, server_rec *s,
                                 ap_dbd_t *dbd, PGconn *pg, char *err,
                                 size_t errlen, int64_t until)
{
    bbt_lsession_probe_t *pr = arg;
    PGresult *res;
    int rc;

    (void)pool;
    if ((rc = bbt_lsession_usable(dbd, pg, s, err, errlen, until)) != 0) {
        return rc;
    }
    /* A hot standby refuses NOTIFY, and logs each refusal as an ERROR:
     * the statement asks the server (not libpq's last word of it, which a
     * dead connection keeps) and sends none there. */
    res = bbt_dbsession_exec(pg, pr->sql, until);
    if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
        PQnfields(res) == 2) {
        pr->be_pid = atoi(PQgetvalue(res, 0, 1));
        rc = pr->be_pid > 0 ? 1 : -1;
        /* NULL where the CASE sent nothing (pg_notify's void is never
         * NULL): a second pg_is_in_recovery() could answer otherwise, a
         * promotion between the two. */
        if (PQgetisnull(res, 0, 0)) {
            rc = -2;
            apr_cpystrn(err,
                        "the pooled session's server is in recovery (a "
                        "hot standby)",
                        errlen);
        } else if (rc < 0) {
            apr_cpystrn(err, "the pooled session has no backend", errlen);
        }
    } else {
        const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

        rc = bbt_lsession_failed(pg, res, err, errlen, until);
        /* Refused for good (read-only: a standby that does not say so,
         * before PostgreSQL 14; EXECUTE on pg_notify revoked). */
        if (rc == -1 &&
            (bbt_sql_read_only(st) ||
             bbt_sql_classify(st, NULL, NULL) == BBT_SQL_PRIVILEGE)) {
            rc = -2;
        }
    }
    PQclear(res);
    return rc;
}

int bbt_lsession_probe(apr_pool_t *pool, server_rec *s, const char *channel,
                       apr_uint64_t seq, int queue, int *be_pid, char *err,
                       size_t errlen)
{
    bbt_lsession_probe_t pr = {NULL, 0};
    char sql[256];
    int rc;

    /* The channel is the listener's own (letters, digits, _), the payload
     * a number: nothing of anyone else's goes into the statement. */
    apr_snprintf(sql, sizeof(sql),
                 "SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN NULL"
                 " ELSE pg_catalog.pg_notify('%s', 'p%" APR_UINT64_T_FMT
                 "') END, pg_catalog.pg_backend_pid()",
                 channel, seq);
    pr.sql = sql;
    rc = bbt_lsession_placed(pool, s, queue ? BBT_LSESSION_PLACE_WAIT_US : 0,
                             bbt_lsession_probe_on, &pr, err, errlen);
    if (rc == BBT_LSESSION_NO_PLACE) {
        rc = -1;
    }
    *be_pid = pr.be_pid;
    return rc;
}
