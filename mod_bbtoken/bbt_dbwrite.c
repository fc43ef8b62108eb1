/*
 * The throttled writes (bbt_db.h): a token's last use, an expired token's
 * refusal, a new address group.  They are bookkeeping: the request is
 * answered whatever becomes of them, so none may hold its pooled
 * connection for long.
 *
 * Each goes through a SECURITY DEFINER function (sql/migrations/0002):
 * httpd's role may not update a token row itself, and the functions check
 * the interval again under the row lock, so concurrent requests make one
 * write between them.  bbtoken_touch skips a row another session holds,
 * but a lock on a whole table (a schema upgrade's, an administrator's LOCK
 * TABLE bbtoken_tokens) a function would wait for up to the
 * statement_timeout, holding its connection all that time: a token's first
 * use, a last use and a new address group, twice that.  With DBDMax such
 * requests in flight, every lookup (whose table, bbtoken_lookup, is not
 * locked) would wait BBTokenDBWait for a connection and be answered 503.
 * So each write gives up a lock it has waited BBT_DBWRITE_LOCK_WAIT for:
 * the limit is set for the statement's own transaction (set_config's
 * is_local), before the function runs (a CASE evaluates its condition
 * first), so it holds for every lock the function takes, on any version of
 * the schema, and goes with the statement, leaving the pooled session's
 * own lock_timeout as it was.  A write given up is made by a later request
 * that finds it due a few seconds on (the caller does not count it as
 * made: bbt_verify.c); the request's other writes are not tried.  One
 * that finds its connection dropped (PostgreSQL restarted, or ended it
 * while it sat idle in the pool) is tried once more on it connected
 * again, and, where that fails too, is left to a later request as one
 * given up is.  One that cannot be made here (a standby, a read-only
 * database, an error) is counted as made, and tried again an interval
 * later: tried every few seconds, each try would be an ERROR in the
 * server's log.
 *
 * They run with libpq itself: apr_dbd keeps no SQLSTATE, and a read-only
 * database and a lock given up on must be told from other failures.
 */
#include "httpd.h"
#include "http_log.h"
#include "apr_atomic.h"
#include "apr_strings.h"

#include <libpq-fe.h>

#include "bbt_db.h"
#include "bbt_dbrun.h"
#include "bbt_mono.h"
#include "bbt_sqlstate.h"

APLOG_USE_MODULE(bbtoken);

/* How long a write waits for a lock before it gives up (README: The
 * cache): far longer than a row is held by another write or the CLI, far
 * shorter than the statement_timeout a table lock would take. */
#define BBT_DBWRITE_LOCK_WAIT "100ms"

#define BBT_DBWRITE_SQL(call)                                                  \
    "SELECT CASE WHEN pg_catalog.set_config('lock_timeout', "                  \
    "'" BBT_DBWRITE_LOCK_WAIT "', true) IS NOT NULL THEN " call " END"

static const char bbt_sql_touch[] =
    BBT_DBWRITE_SQL("bbtoken_touch($1, $2, $3::integer)");
static const char bbt_sql_note_expired[] =
    BBT_DBWRITE_SQL("bbtoken_note_expired($1, $2, $3::integer)");
static const char bbt_sql_note_net[] =
    BBT_DBWRITE_SQL("bbtoken_note_net($1, $2, $3)");

/* This child has said that the writes are not recorded (BBT812). */
static volatile apr_uint32_t bbt_db_told_read_only;

/* A write a read-only database cannot take: said once per child, since
 * every request whose write is due would say it again, and the cause is
 * the configuration's, not the request's. */
static void bbt_db_read_only(bbt_db_conn_t *c, const char *what,
                             const char *why)
{
    if (apr_atomic_cas32(&bbt_db_told_read_only, 1, 0) != 0) {
        return;
    }
    bbt_db_say(c, APLOG_WARNING, "BBT812",
               apr_psprintf(bbt_db_pool(c),
                            "the throttled writes (a token's last use and "
                            "address, an expired token's refusal, a new "
                            "address group) are not recorded while the "
                            "database connections reach a read-only server "
                            "(%s; the first not recorded: %s); the requests "
                            "are served; point DBDParams at the primary "
                            "(once per child)",
                            why, what));
}

void bbt_db_write_skipped(bbt_db_conn_t *c, const char *what, const char *why)
{
    bbt_db_say(c, APLOG_DEBUG, "BBT085",
               apr_pstrcat(bbt_db_pool(c), what, ": not made, ", why,
                           "; a later request makes it", NULL));
}

/* One try of sql with its three args on c: its result, counted
 * (bbt_db_counted). */
static PGresult *bbt_db_write_try(bbt_db_conn_t *c, const char *sql,
                                  const char *const *args)
{
    apr_time_t start = bbt_mono_now();
    PGresult *res =
        PQexecParams(bbt_db_native(c), sql, 3, NULL, args, NULL, NULL, 0);

    bbt_db_counted(start, PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : -1);
    return res;
}

/* Run one of the write functions.  The request goes on whatever happens.
 * 0, or BBT_DB_WRITE_LATER or BBT_DB_WRITE_NEVER (logged); *said, where
 * given, gets the boolean the function answered. */
static int bbt_db_write(bbt_db_conn_t *c, const char *sql, const char *msgid,
                        const char *what, const char *id, const char *a2,
                        const char *a3, int *said)
{
    apr_pool_t *p = bbt_db_pool(c);
    PGconn *pg = bbt_db_native(c);
    const char *args[3], *state;
    PGresult *res;
    int ok, later, retried = 0;

    if (bbt_db_writes_held(c)) {
        bbt_db_write_skipped(c, what,
                             "an earlier write of this request was not made "
                             "(it waited out its limit, or found the "
                             "connection dropped)");
        return BBT_DB_WRITE_LATER;
    }
    args[0] = id;
    args[1] = a2 ? a2 : "";
    args[2] = a3 ? a3 : "";
    for (;;) {
        /* Not even tried: it would fail, and write an ERROR into the
         * standby's own log, for every request.  Asked again of a
         * connection connected again, whose server may be another. */
        if (bbt_db_conn_standby(c)) {
            bbt_db_read_only(c, what, "a hot standby");
            return BBT_DB_WRITE_NEVER;
        }
        res = bbt_db_write_try(c, sql, args);
        ok = PQresultStatus(res) == PGRES_TUPLES_OK;
        if (ok || retried || !bbt_db_lost(c)) {
            break;
        }
        /* PostgreSQL dropped the connection while it sat idle in the pool
         * (a restart, an idle kill): mod_dbd's check passed it, libpq
         * saying so only once a statement fails, and a request the cache
         * answered runs nothing before its writes.  Tried once more on it
         * connected again, as bbt_db_run does: counted as made, the write
         * would wait a whole interval.  Whether or not the first try
         * reached the database, a second is safe: the function checks
         * the interval again under the row lock. */
        retried = 1;
        bbt_db_retrying(c, 0, what);
        PQclear(res);
        if (!bbt_db_reconnected(c)) {
            /* DBDInitSQL's failure on the new connection has logged
             * itself. */
            if (bbt_db_unreached(c)) {
                bbt_db_gave_up(c, 0, msgid, what);
            }
            bbt_db_hold_writes(c);
            return BBT_DB_WRITE_LATER;
        }
    }
    state = ok ? NULL : PQresultErrorField(res, PG_DIAG_SQLSTATE);
    /* A limit waited out, or a connection lost again: a later try may
     * get past either. */
    later = !ok && (bbt_sql_waited_out(state) || bbt_db_lost(c));
    if (ok && said) {
        *said = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    }
    if (!ok && bbt_sql_read_only(state)) {
        bbt_db_read_only(c, what, "it refuses writes: SQLSTATE 25006");
    } else if (bbt_sql_lock_given_up(state)) {
        /* A schema upgrade holds a table for its whole transaction: a
         * line for each request would bury the log meanwhile. */
        bbt_db_hold_writes(c);
        bbt_db_write_skipped(
            c, what,
            "a lock it needs was held longer than " BBT_DBWRITE_LOCK_WAIT
            " (a schema upgrade, a LOCK TABLE)");
    } else if (!ok) {
        char line[512];

        if (later) {
            bbt_db_hold_writes(c);
        }
        bbt_db_say(
            c, APLOG_ERR, msgid,
            apr_pstrcat(p, what, " failed: ",
                        bbt_sql_line(line, sizeof(line), PQerrorMessage(pg),
                                     "unknown error"),
                        NULL));
    }
    PQclear(res);
    if (ok) {
        return 0;
    }
    return later ? BBT_DB_WRITE_LATER : BBT_DB_WRITE_NEVER;
}

int bbt_db_touch(bbt_db_conn_t *c, const char *id, const char *addr,
                 int interval)
{
    return bbt_db_write(c, bbt_sql_touch, "BBT076", "recording last use", id,
                        addr, apr_itoa(bbt_db_pool(c), interval), NULL);
}

int bbt_db_note_expired(bbt_db_conn_t *c, const char *id, const char *addr,
                        int interval)
{
    return bbt_db_write(c, bbt_sql_note_expired, "BBT077",
                        "auditing an expired token", id, addr,
                        apr_itoa(bbt_db_pool(c), interval), NULL);
}

int bbt_db_note_net(bbt_db_conn_t *c, const char *id, const char *group,
                    const char *addr)
{
    int kept = 0;
    int rc =
        bbt_db_write(c, bbt_sql_note_net, "BBT602",
                     "recording a new address group", id, group, addr, &kept);

    return rc != 0 ? rc : kept;
}
