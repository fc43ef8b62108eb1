/*
 * The database's schema version against the module's (see bbt_schema.h).
 *
 * The version is read with libpq on the pooled connection itself, outside
 * any transaction (none is open when a connection is handed out), so a
 * failure leaves nothing behind.  Each child reads it once, on the first
 * connection that answers: one statement per child, not per request.
 * Which child tells is bbt_stats_once's: the first to find the schema
 * behind or ahead, so the error log holds one line per start whatever the
 * number of children.  Every child that reads it sets the metrics' gauge,
 * so a child started after `bbtoken db upgrade` shows the new version.
 */
#include "httpd.h"
#include "http_log.h"
#include "apr_atomic.h"

#include <stdlib.h>

#include <libpq-fe.h>

#include "bbt_lookupsql.h"
#include "bbt_schema.h"
#include "bbt_sqlstate.h"
#include "bbt_stats.h"

APLOG_USE_MODULE(bbtoken);

#ifndef BBT_SCHEMA_LATEST
#error "BBT_SCHEMA_LATEST: apxs.mk gives the last migration's version"
#endif

/* The version, how many of the lookup's triggers fire always and how many
 * the schema makes: the catalog is readable by every role, httpd's too. */
static const char bbt_schema_sql[] =
    "SELECT max(version), " BBT_LOOKUP_FIRING_SQL ", " BBT_LOOKUP_WANTED_SQL
    " FROM bbtoken_schema";

/* This child: 0 not read yet, 1 being read or read. */
static apr_uint32_t bbt_schema_read;

/* The version this child read, 0 until it has. */
static apr_uint32_t bbt_schema_seen;

/* The schema's version, or -1: the statement failed (no such table, no
 * grant, a lost connection) or gave no version, or -2: it waited its whole
 * statement_timeout or lock_timeout (behind a migration's lock), and will
 * be answered later.  *lookup, when given, gets how many of the lookup's
 * triggers fire always (-1: no lookup), and *wanted how many the schema
 * makes. */
static int bbt_schema_version(PGconn *pg, int *lookup, int *wanted)
{
    PGresult *res = PQexec(pg, bbt_schema_sql);
    int version = -1;

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
        PQnfields(res) == 3 && !PQgetisnull(res, 0, 0)) {
        version = atoi(PQgetvalue(res, 0, 0));
        if (lookup) {
            *lookup = atoi(PQgetvalue(res, 0, 1));
            *wanted = atoi(PQgetvalue(res, 0, 2));
        }
    } else if (bbt_sql_waited_out(PQresultErrorField(res, PG_DIAG_SQLSTATE))) {
        version = -2;
    }
    PQclear(res);
    return version;
}

void bbt_schema_lookup_warn(server_rec *s, int n, int wanted)
{
    if (n < 0 || n >= wanted) {
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                 "BBT720: %d of the %d triggers that keep bbtoken_lookup "
                 "fire always (disabled, or enabled for ordinary sessions "
                 "only: a data-only restore?): what token requests read is "
                 "not kept true, and a token revoked or a grant lowered "
                 "meanwhile may still be honoured; enable them (ALTER "
                 "TABLE ... ENABLE ALWAYS TRIGGER), then run `bbtoken db "
                 "check --repair`",
                 n, wanted);
}

void bbt_schema_lookup_start(server_rec *s, int n, int wanted)
{
    /* Not once per process: the first request's child and the listener's
     * (often the same process, two threads) read the same count at start,
     * and httpd starts a listener anew in another child when the one that
     * held it exits.  Nothing is said in post_config, which httpd runs
     * twice at start (a configuration pass, then the real one): the
     * parent never reads the database. */
    if (n >= 0 && n < wanted && bbt_stats_once(BBT_ONCE_LOOKUP)) {
        bbt_schema_lookup_warn(s, n, wanted);
    }
}

void bbt_schema_note(request_rec *r, PGconn *pg)
{
    int version, lookup = -1, wanted = 0;

    if (!pg || apr_atomic_read32(&bbt_schema_read) ||
        PQstatus(pg) != CONNECTION_OK ||
        apr_atomic_cas32(&bbt_schema_read, 1, 0) != 0) {
        return;
    }
    version = bbt_schema_version(pg, &lookup, &wanted);
    if (version < 0) {
        /* A connection that died meanwhile, or a statement that waited
         * out its limit: the next request reads it.  On a live one the
         * statement fails for good otherwise (no table, no grant), and the
         * lookup will say what is wrong. */
        if (version == -2 || PQstatus(pg) != CONNECTION_OK) {
            apr_atomic_set32(&bbt_schema_read, 0);
        }
        return;
    }
    apr_atomic_set32(&bbt_schema_seen, (apr_uint32_t)version);
    bbt_stats_gauge_set(BBT_GAUGE_SCHEMA_VERSION, version);
    bbt_schema_lookup_start(r->server, lookup, wanted);
    if (version < BBT_SCHEMA_LATEST && version >= BBT_SCHEMA_MIN &&
        bbt_stats_once(BBT_ONCE_SCHEMA)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, r->server,
                     "BBT760: the database's schema is version %d, this "
                     "module expects %d: tokens are served, but the rules "
                     "of the later migrations are not enforced (README, "
                     "Upgrading); run `bbtoken db upgrade`, then "
                     "sql/grants.sql and sql/grants-api.sql again",
                     version, BBT_SCHEMA_LATEST);
    } else if (version > BBT_SCHEMA_LATEST && bbt_stats_once(BBT_ONCE_SCHEMA)) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, r->server,
                     "BBT761: the database's schema is version %d, newer "
                     "than this module knows (%d): install the module of "
                     "the release whose bbtoken upgraded the database",
                     version, BBT_SCHEMA_LATEST);
    }
}

void bbt_schema_post_config(void)
{
    bbt_stats_gauge_set(BBT_GAUGE_SCHEMA_EXPECTED, BBT_SCHEMA_LATEST);
}

void bbt_schema_too_old(request_rec *r, PGconn *pg)
{
    int version;

    if (!pg || PQstatus(pg) != CONNECTION_OK) {
        return;
    }
    version = bbt_schema_version(pg, NULL, NULL);
    if (version >= 0 && version < BBT_SCHEMA_MIN) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "BBT770: the database's schema is version %d, older "
                      "than this module needs (%d): token requests are "
                      "answered 503 until `bbtoken db upgrade` brings it up "
                      "to date",
                      version, BBT_SCHEMA_MIN);
    }
}

int bbt_schema_behind(PGconn *pg)
{
    apr_uint32_t v = apr_atomic_read32(&bbt_schema_seen);
    int now;

    if (v == 0 || v >= BBT_SCHEMA_LATEST) {
        return 0;
    }
    /* Read again: `bbtoken db upgrade` may have ended it since, with no
     * restart.  Only on this error path, one statement. */
    if (pg && PQstatus(pg) == CONNECTION_OK &&
        (now = bbt_schema_version(pg, NULL, NULL)) > 0) {
        apr_atomic_set32(&bbt_schema_seen, (apr_uint32_t)now);
        bbt_stats_gauge_set(BBT_GAUGE_SCHEMA_VERSION, now);
        return now < BBT_SCHEMA_LATEST ? now : 0;
    }
    return (int)v;
}
