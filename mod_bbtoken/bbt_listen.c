/*
 * The cache's listener (see bbt_listen.h, which says how it goes).
 *
 * The state below is this process's.  The watchdog's thread touches it,
 * and the child's exit once (bbt_wdcall.h), never at the same time.
 */
#include "httpd.h"
#include "http_log.h"
#include "apr_dbd.h"
#include "apr_optional.h"
#include "apr_strings.h"
#include "mod_dbd.h"
#include "mod_watchdog.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <openssl/rand.h>

#include "bbt_cache.h"
#include "bbt_clock.h"
#include "bbt_lback.h"
#include "bbt_listen.h"
#include "bbt_listensql.h"
#include "bbt_lprobe.h"
#include "bbt_lsession.h"
#include "bbt_ltrig.h"
#include "bbt_mono.h"
#include "bbt_nqueue.h"
#include "bbt_schema.h"
#include "bbt_sqlstate.h"
#include "bbt_wdcall.h"

APLOG_USE_MODULE(bbtoken);

/* The schema version whose triggers notify (sql/migrations/0004). */
#define BBT_LISTEN_SCHEMA 4
/* How long one call may wait on the socket; mod_watchdog sleeps 100 ms
 * between calls. */
#define BBT_LISTEN_BUDGET_US 80000
#define BBT_LISTEN_CONNECT_US apr_time_from_sec(10)
/* A heartbeat not back within this is a dead connection. */
#define BBT_LISTEN_ANSWER_US apr_time_from_sec(2)
/* After no place among the module's pooled connections (bbt_lsession.h). */
#define BBT_LISTEN_NO_PLACE_RETRY_US 100000
/* An old schema: look again now and then (an upgrade needs no restart). */
#define BBT_LISTEN_SCHEMA_RETRY_US apr_time_from_sec(10)

static APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) * bbt_wd_get;
static APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) * bbt_wd_register;

typedef enum {
    BBT_L_DOWN = 0,
    BBT_L_CONNECTING,
    BBT_L_SUBSCRIBING,
    BBT_L_UP
} bbt_lstate_t;

static struct {
    server_rec *s;
    apr_pool_t *pool;  /* the watchdog thread's, for the thread's life */
    bbt_lsession_t ls; /* what the pool says */
    PGconn *pg;
    bbt_lstate_t state;
    PostgresPollingStatusType want; /* connecting: what PQconnectPoll waits */
    apr_int64_t deadline;           /* of connecting or subscribing */
    bbt_lback_t retry;
    int version;          /* subscribing: the schema's, -1 until read */
    int version_now;      /* as the last heartbeat read it, -1: none */
    char error[256];      /* the first error of a statement */
    char tables[256];     /* the tables' identity the entries were made under */
    char tables_now[256]; /* as the last statement read it; "" until read */
    char names_now[BBT_LSESSION_NAMES]; /* subscribing: as resolved here */
    int busy;                           /* a statement is in flight */
    char channel[32];     /* the heartbeat's: bbtoken_hb_ and 16 random hex */
    int be_pid;           /* the session's backend, as it says; 0: unknown */
    apr_uint64_t seq;     /* the last heartbeat sent */
    apr_int64_t sent;     /* when it was sent, monotonic */
    apr_time_t sent_wall; /* the last statement's sending, wall clock */
    int waiting;          /* it has not come back yet */
    int was_up, told_schema, told_params;
    int told_names;
    int lookup_now;    /* the lookup's triggers firing always, as last read */
    int lookup_wanted; /* how many the schema makes, read with it */
    bbt_ltrig_t trig;  /* what was said of the triggers */
} L;

int bbt_listen_available(void)
{
    bbt_wd_get = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    bbt_wd_register = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    return bbt_wd_get && bbt_wd_register &&
           APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open) &&
           APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);
}

/* libpq's message on one line. */
static const char *bbt_listen_pqerr(void)
{
    static char buf[256];

    return bbt_sql_line(buf, sizeof(buf), L.pg ? PQerrorMessage(L.pg) : NULL,
                        "connection failed");
}

static void bbt_listen_close(void)
{
    if (L.pg) {
        PQfinish(L.pg);
        L.pg = NULL;
    }
    L.state = BBT_L_DOWN;
    L.busy = L.waiting = 0;
}

static void bbt_listen_retry_later(apr_int64_t delay)
{
    bbt_lback_later(&L.retry, delay);
}

/* The connection was up and is gone: distrust the cache now. */
static void bbt_listen_lost(const char *why)
{
    bbt_cache_listener_down();
    bbt_lback_lost(&L.retry, L.s, why);
    bbt_listen_close();
    bbt_lback_grow(&L.retry);
}

/* Connecting failed: said once per outage, the connection closed. */
static void bbt_listen_down(const char *why)
{
    bbt_lback_down(&L.retry, L.s, why);
    bbt_listen_close();
}

/* ... and quietly retried after the backoff. */
static void bbt_listen_failed(const char *why)
{
    bbt_listen_down(why);
    bbt_lback_grow(&L.retry);
}

/* Wait up to the rest of this call's budget for the socket; 1 ready, 0
 * not yet, -1 error. */
static int bbt_listen_wait(int writable, apr_int64_t until)
{
    struct pollfd p;
    apr_int64_t left = until - bbt_mono_now();
    int rc;

    if (left <= 0) {
        return 0;
    }
    p.fd = PQsocket(L.pg);
    p.events = writable ? POLLOUT : POLLIN;
    p.revents = 0;
    if (p.fd < 0) {
        return -1;
    }
    do {
        rc = poll(&p, 1, (int)((left + 999) / 1000));
    } while (rc < 0 && errno == EINTR);
    return rc < 0 ? -1 : rc > 0;
}

static void bbt_listen_subscribe(void);

static void bbt_listen_connect(apr_int64_t until)
{
    char why[256];
    int rc;

    if (L.state == BBT_L_DOWN) {
        if (!bbt_lback_due(&L.retry)) {
            return;
        }
        rc = bbt_lsession_read(&L.ls, L.pool, L.s, why, sizeof(why));
        if (rc == BBT_LSESSION_NO_PLACE) {
            /* Requests busy on every connection, or another thread long
             * in its turn to ask the pool, not an outage: soon again, the
             * backoff left as it is (grown, it would keep the cache unused
             * while the load, every request reading the database,
             * lasts). */
            bbt_listen_down(why);
            bbt_listen_retry_later(BBT_LISTEN_NO_PLACE_RETRY_US);
            return;
        }
        if (rc != 1 && L.ls.keys) {
            bbt_listen_failed(rc == 0 ? "no connection of mod_dbd's pool"
                                      : why);
            return;
        }
        if (rc != 1) {
            ap_log_error(APLOG_MARK, L.told_params ? APLOG_DEBUG : APLOG_NOTICE,
                         0, L.s,
                         "BBT311: the token cache's listener has no database "
                         "connection of mod_dbd's (DBDriver pgsql, "
                         "DBDParams) to learn the database from: token "
                         "requests read the database; trying again");
            L.told_params = 1;
            bbt_lback_grow(&L.retry);
            return;
        }
        L.pg = PQconnectStartParams(L.ls.keys, L.ls.vals, 0);
        if (!L.pg || PQstatus(L.pg) == CONNECTION_BAD) {
            bbt_listen_failed(bbt_listen_pqerr());
            return;
        }
        L.state = BBT_L_CONNECTING;
        L.want = PGRES_POLLING_WRITING;
        L.deadline = bbt_mono_now() + BBT_LISTEN_CONNECT_US;
    }
    for (;;) {
        rc = bbt_listen_wait(L.want == PGRES_POLLING_WRITING, until);
        if (rc < 0) {
            bbt_listen_failed("its socket failed");
            return;
        }
        if (rc == 0) {
            if (bbt_mono_now() > L.deadline) {
                bbt_listen_failed("no connection within 10 seconds");
            }
            return;
        }
        L.want = PQconnectPoll(L.pg);
        if (L.want == PGRES_POLLING_FAILED) {
            bbt_listen_failed(bbt_listen_pqerr());
            return;
        }
        if (L.want == PGRES_POLLING_OK) {
            bbt_listen_subscribe();
            return;
        }
    }
}

static int bbt_listen_send(const char *sql)
{
    /* Before the statement reads the database's clock (bbt_clock.h). */
    L.sent_wall = apr_time_now();
    if (!PQsendQuery(L.pg, sql)) {
        return 0;
    }
    L.busy = 1;
    /* Non-blocking: what does not go now goes on the next calls. */
    return PQflush(L.pg) >= 0;
}

#define BBT_LISTEN_SUBSCRIBE_MAX                                               \
    (BBT_LSESSION_SETUP_MAX + sizeof(BBT_LISTEN_TABLES_SQL) +                  \
     sizeof(BBT_LISTEN_NAMES_SQL) + 256)

static void bbt_listen_subscribe(void)
{
    char sql[BBT_LISTEN_SUBSCRIBE_MAX];
    unsigned char rnd[8];
    size_t at;

    if (PQsetnonblocking(L.pg, 1) != 0) {
        bbt_listen_failed(bbt_listen_pqerr());
        return;
    }
    PQsetErrorVerbosity(L.pg, PQERRORS_TERSE);
    /* The backend's pid, which a notification carries, is asked of the
     * session: a pooler in between (PgBouncer, pool_mode=session) gives
     * libpq a made-up one (PQbackendPID), its own cancel key's. */
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        bbt_listen_failed("no random bytes for the heartbeat's channel");
        return;
    }
    apr_snprintf(L.channel, sizeof(L.channel),
                 "bbtoken_hb_%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
                 rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    L.be_pid = 0;
    /* First the pooled session's search_path and role, so that every
     * name after resolves as the requests' do (bbt_lsession.h). */
    if (bbt_lsession_setup(&L.ls, L.pg, sql, sizeof(sql)) != 0) {
        bbt_listen_failed("the pooled session's search_path and role "
                          "cannot be set");
        return;
    }
    at = strlen(sql);
    apr_snprintf(
        sql + at, sizeof(sql) - at,
        "LISTEN bbtoken; LISTEN %s; SELECT 'pid', pg_backend_pid(), 0; "
        "SELECT 'names', " BBT_LISTEN_NAMES_SQL
        "; SELECT max(version) FROM bbtoken_schema; " BBT_LISTEN_TABLES_SQL,
        L.channel);
    L.version = -1;
    L.error[0] = L.tables_now[0] = L.names_now[0] = '\0';
    if (!bbt_listen_send(sql)) {
        bbt_listen_failed(bbt_listen_pqerr());
        return;
    }
    L.state = BBT_L_SUBSCRIBING;
    L.deadline = bbt_mono_now() + BBT_LISTEN_CONNECT_US;
}

static void bbt_listen_ping(void)
{
    char sql[sizeof(BBT_LISTEN_SKIPS_SQL) + 96];

    L.seq++;
    /* One transaction: the tables are read after the heartbeat's time,
     * with the skipped notifications' count from version 59 (as read when
     * subscribing: another version read subscribes again). */
    apr_snprintf(sql, sizeof(sql), "NOTIFY %s, '%" APR_UINT64_T_FMT "'; %s",
                 L.channel, L.seq,
                 L.version >= BBT_LISTEN_SKIPS_SCHEMA ? BBT_LISTEN_SKIPS_SQL
                                                      : BBT_LISTEN_TABLES_SQL);
    L.tables_now[0] = '\0';
    /* Taken before the NOTIFY leaves: a change committed before this
     * moment is ahead of it in PostgreSQL's queue. */
    L.sent = bbt_mono_now();
    L.waiting = 1;
    if (!bbt_listen_send(sql)) {
        bbt_listen_lost(bbt_listen_pqerr());
    }
}

/* Notifications that arrived: a change, or the heartbeat back.  Any
 * role may NOTIFY any channel: a heartbeat counts only from this
 * listener's own session (its backend's pid), with the number it sent. */
static void bbt_listen_notifies(void)
{
    PGnotify *n;
    int again = 0;

    while (L.pg && (n = PQnotifies(L.pg)) != NULL) {
        if (strcmp(n->relname, "bbtoken") == 0) {
            bbt_cache_heard(n->extra);
        } else if (L.state == BBT_L_UP && bbt_lprobe_heard(n, L.channel)) {
            /* Another session's notification reached it (bbt_lprobe.h). */
        } else if (L.state == BBT_L_UP && L.waiting && L.tables_now[0] &&
                   L.be_pid > 0 && n->be_pid == L.be_pid &&
                   strcmp(n->relname, L.channel) == 0 && n->extra[0] != 'p' &&
                   strtoull(n->extra, NULL, 10) == L.seq) {
            L.waiting = 0;
            bbt_lback_heard(&L.retry);
            /* Made anew since the entries were: none of them holds. */
            if (strcmp(L.tables_now, L.tables) != 0) {
                bbt_cache_forget_all();
                apr_cpystrn(L.tables, L.tables_now, sizeof(L.tables));
            }
            /* Upgraded (or downgraded) under it: what the heartbeat reads
             * changes with the version (from 59 a change may skip its
             * notification), so the cache is not believed until the
             * listener subscribes again, at once.  A version table emptied
             * keeps what was read (all the triggers wanted: BBT710). */
            if (L.version_now >= 0 && L.version_now != L.version) {
                again = 1;
                PQfreemem(n);
                break;
            }
            bbt_ltrig_lookup(&L.trig, L.s, L.lookup_now, L.lookup_wanted);
            if (bbt_ltrig_notify(&L.trig, L.s, L.tables_now) &&
                bbt_lprobe_ok()) {
                bbt_cache_heartbeat(L.sent);
                bbt_lprobe_serving();
            }
        }
        PQfreemem(n);
    }
    if (again) {
        bbt_cache_listener_down();
        bbt_listen_close();
        bbt_listen_retry_later(0);
    }
}

/* Read what came; results of the statement in flight, if it is done.
 * Returns 0 when the connection failed (and says so). */
static int bbt_listen_read(void)
{
    PGresult *res;

    if (PQflush(L.pg) < 0 || !PQconsumeInput(L.pg)) {
        return 0;
    }
    while (L.busy && !PQisBusy(L.pg)) {
        res = PQgetResult(L.pg);
        if (!res) {
            L.busy = 0;
            break;
        }
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
            PQnfields(res) == 1) {
            /* The largest, as every other reader takes it (bbt_schema.c,
             * the CLI): before version 60 nothing kept the table to one
             * row, and a data-only restore into a new schema added the
             * dump's.  NULL, no row, leaves none read. */
            if (!PQgetisnull(res, 0, 0)) {
                L.version = atoi(PQgetvalue(res, 0, 0));
            }
        } else if (PQresultStatus(res) == PGRES_TUPLES_OK &&
                   PQntuples(res) == 1 && PQnfields(res) == 3 &&
                   strcmp(PQgetvalue(res, 0, 0), "pid") == 0) {
            L.be_pid = atoi(PQgetvalue(res, 0, 1));
        } else if (PQresultStatus(res) == PGRES_TUPLES_OK &&
                   PQntuples(res) == 1 && PQnfields(res) == 2 &&
                   strcmp(PQgetvalue(res, 0, 0), "names") == 0) {
            apr_cpystrn(L.names_now, PQgetvalue(res, 0, 1),
                        sizeof(L.names_now));
        } else if (PQresultStatus(res) == PGRES_TUPLES_OK &&
                   PQntuples(res) == 1 && PQnfields(res) == 2 &&
                   strcmp(PQgetvalue(res, 0, 0), "session") == 0) {
            /* The search_path set (bbt_lsession_setup): nothing to read. */
        } else if (PQresultStatus(res) == PGRES_TUPLES_OK &&
                   PQntuples(res) == 1 &&
                   PQnfields(res) == BBT_LISTEN_TABLES_N) {
            apr_snprintf(L.tables_now, sizeof(L.tables_now),
                         "%s %s %s %s %s %s", PQgetvalue(res, 0, 4),
                         PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
                         PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3),
                         PQgetvalue(res, 0, 10));
            L.version_now =
                PQgetisnull(res, 0, 9) ? -1 : atoi(PQgetvalue(res, 0, 9));
            L.lookup_now = atoi(PQgetvalue(res, 0, 5));
            L.lookup_wanted = atoi(PQgetvalue(res, 0, 6));
            bbt_clock_heard(L.s, L.sent_wall, apr_time_now(),
                            PQgetisnull(res, 0, 7) ? NULL
                                                   : PQgetvalue(res, 0, 7));
            bbt_nqueue_heard(
                L.s, PQgetisnull(res, 0, 8) ? NULL : PQgetvalue(res, 0, 8));
        } else if (PQresultStatus(res) == PGRES_TUPLES_OK && !L.error[0]) {
            apr_snprintf(L.error, sizeof(L.error),
                         "a statement answered %d rows of %d columns, "
                         "not the one row it reads",
                         PQntuples(res), PQnfields(res));
        } else if (PQresultStatus(res) != PGRES_COMMAND_OK && !L.error[0]) {
            bbt_sql_line(L.error, sizeof(L.error), PQresultErrorMessage(res),
                         bbt_listen_pqerr());
        }
        PQclear(res);
    }
    bbt_listen_notifies();
    return 1;
}

/* Whether this connection finds the schema's objects where the main
 * server's pooled sessions do (bbt_lsession.h); said once when not, and
 * looked at again at the next connection. */
static int bbt_listen_names_ok(void)
{
    if (strcmp(L.names_now, L.ls.names) == 0) {
        L.told_names = 0;
        return 1;
    }
    ap_log_error(APLOG_MARK, L.told_names ? APLOG_DEBUG : APLOG_WARNING, 0, L.s,
                 "BBT711: the token cache's listener finds other tables "
                 "than the main server's database sessions read (their "
                 "OIDs: %s, theirs: %s; DBDInitSQL made them find others "
                 "than their search_path and role do): the cache is not "
                 "believed; trying again",
                 L.names_now, L.ls.names);
    L.told_names = 1;
    bbt_listen_close();
    bbt_listen_retry_later(BBT_LISTEN_SCHEMA_RETRY_US);
    return 0;
}

/* The subscription came back: LISTEN is in effect. */
static void bbt_listen_subscribed(void)
{
    if (L.error[0] || L.version < 0 || !L.tables_now[0]) {
        bbt_listen_failed(L.error[0]      ? L.error
                          : L.version < 0 ? "bbtoken_schema holds no version"
                                          : "the tables cannot be read");
        return;
    }
    if (!bbt_listen_names_ok()) {
        return;
    }
    if (L.version < BBT_LISTEN_SCHEMA) {
        ap_log_error(APLOG_MARK, L.told_schema ? APLOG_DEBUG : APLOG_WARNING, 0,
                     L.s,
                     "BBT310: the database's schema is version %d, without "
                     "the notifications the token cache needs (%d): the "
                     "cache is not used (run bbtoken db upgrade)",
                     L.version, BBT_LISTEN_SCHEMA);
        L.told_schema = 1;
        bbt_listen_close();
        bbt_listen_retry_later(BBT_LISTEN_SCHEMA_RETRY_US);
        return;
    }
    bbt_cache_set_source(L.ls.source);
    /* Whatever changed while no one listened is forgotten with the rest. */
    bbt_cache_forget_all();
    apr_cpystrn(L.tables, L.tables_now, sizeof(L.tables));
    L.state = BBT_L_UP;
    /* The backoff goes on until a heartbeat comes back (bbt_lback.h). */
    bbt_lprobe_reset(L.s, L.be_pid, L.was_up || L.retry.told_down);
    L.was_up = 1;
    L.retry.told_down = L.told_schema = L.told_params = 0;
    bbt_listen_ping();
}

static void bbt_listen_step(apr_int64_t until)
{
    int rc;

    for (;;) {
        if (L.state == BBT_L_DOWN || L.state == BBT_L_CONNECTING) {
            bbt_listen_connect(until);
            if (L.state != BBT_L_SUBSCRIBING) {
                return;
            }
        }
        if (!bbt_listen_read()) {
            if (L.state == BBT_L_UP) {
                bbt_listen_lost(bbt_listen_pqerr());
            } else {
                bbt_listen_failed(bbt_listen_pqerr());
            }
            return;
        }
        if (L.state == BBT_L_DOWN) {
            return; /* to subscribe again (bbt_listen_notifies) */
        }
        /* The heartbeat's transaction failed (its NOTIFY with it): a table
         * gone, as in the middle of a restore. */
        if (L.state == BBT_L_UP && L.error[0]) {
            bbt_listen_lost(L.error);
            return;
        }
        if (L.state == BBT_L_SUBSCRIBING && !L.busy) {
            bbt_listen_subscribed();
            if (L.state != BBT_L_UP) {
                return;
            }
        }
        if (L.state == BBT_L_UP && !L.waiting && !L.busy && !bbt_lprobe_out()) {
            /* This call's heartbeat is back; the next call sends one. */
            return;
        }
        if (L.state == BBT_L_UP && L.waiting &&
            bbt_mono_now() - L.sent > BBT_LISTEN_ANSWER_US) {
            bbt_listen_lost("no answer to the heartbeat for 2 seconds");
            return;
        }
        if (L.state == BBT_L_UP && bbt_lprobe_late(L.s)) {
            bbt_cache_listener_down();
            bbt_listen_close();
            bbt_listen_retry_later(BBT_LISTEN_SCHEMA_RETRY_US);
            return;
        }
        if (L.state == BBT_L_SUBSCRIBING && bbt_mono_now() > L.deadline) {
            bbt_listen_failed("no answer to LISTEN within 10 seconds");
            return;
        }
        rc = bbt_listen_wait(0, until);
        if (rc <= 0) {
            if (rc < 0) {
                bbt_listen_lost("its socket failed");
            }
            return;
        }
    }
}

/* The listener ends: the cache must not outlive the heartbeat, and the
 * connection goes now (the child may serve its last requests for long,
 * and a listener nobody reads is one more connection for each graceful
 * restart).  Later calls do nothing. */
static void bbt_listen_end(void)
{
    if (L.pool) {
        bbt_cache_listener_down();
        bbt_listen_close();
        L.pool = NULL;
    }
}

static apr_status_t bbt_listen_call(int state, void *data, apr_pool_t *pool)
{
    apr_int64_t until;

    switch (state) {
    case AP_WATCHDOG_STATE_STARTING:
        memset(&L, 0, sizeof(L));
        bbt_ltrig_init(&L.trig);
        L.s = data;
        /* This child holds mod_watchdog's mutex now: a flag still up is
         * a listener that died without ending (its child killed, crashed,
         * or gone without waiting: BBT313), its loss not yet counted. */
        bbt_cache_listener_down();
        /* The callback's pool lives for one call; its parent for the
         * thread's life. */
        apr_pool_create(&L.pool, apr_pool_parent_get(pool));
        return APR_SUCCESS;
    case AP_WATCHDOG_STATE_RUNNING:
        if (L.state == BBT_L_UP && !L.waiting && !L.busy) {
            bbt_lprobe_tick(L.pool, L.s, L.channel);
        }
        until = bbt_mono_now() + BBT_LISTEN_BUDGET_US;
        if (L.state == BBT_L_UP && !L.waiting && !L.busy && !bbt_lprobe_out()) {
            bbt_listen_ping();
        }
        if (L.pool) {
            bbt_listen_step(until);
        }
        return APR_SUCCESS;
    default:
        bbt_listen_end();
        return APR_SUCCESS;
    }
}

/* Every call inside the fence (bbt_wdcall.h): none runs while the
 * child's pool goes or after. */
static apr_status_t bbt_listen_tick(int state, void *data, apr_pool_t *pool)
{
    apr_status_t rv;

    if (!bbt_wdcall_enter()) {
        return APR_EOF;
    }
    rv = bbt_listen_call(state, data, pool);
    bbt_wdcall_leave();
    return rv;
}

void bbt_listen_child_init(apr_pool_t *pchild, server_rec *s)
{
    bbt_wdcall_child_init(pchild, s, bbt_listen_end);
}

const char *bbt_listen_register(apr_pool_t *pconf, server_rec *s)
{
    ap_watchdog_t *w;

    if (bbt_wd_get(&w, "bbtoken", 0, 1, pconf) != APR_SUCCESS) {
        return "cannot have a watchdog thread for its listener";
    }
    /* Every 100 ms slice (AP_WD_TM_SLICE): the heartbeat must stay well
     * under BBT_CACHE_FRESH_US old. */
    if (bbt_wd_register(w, AP_WD_TM_SLICE, s, bbt_listen_tick) != APR_SUCCESS) {
        return "cannot register its listener with mod_watchdog";
    }
    return NULL;
}
