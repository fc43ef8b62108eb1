/*
 * The statements a request's verification runs (see bbt_db.h): the token
 * lookup, the owner's level when the lookup does not give it or on a
 * second target, a personal project's owner, and a password user's level.
 *
 * The lookup reads one row of bbtoken_lookup by its primary key
 * (sql/migrations/0026_lookup.sql), and of it one column, packed
 * (0027_lookup_packed.sql), which bbt_lookuprow.c parses: the token, its
 * owner's name and state, and the owner's level map, computed by the
 * database's triggers when a row they derive from is written.  Reading the live
 * tables instead (a join of the token and its owner, the level from the
 * grants) cost PostgreSQL's executor several times as much on every run,
 * most of it setting up the joins, scans and expressions again for each
 * execution of the prepared statement; one indexed read of one table costs
 * about what mod_authn_dbd's SELECT password does (bench/pgprofile.pl).
 * A refusal (an unknown id, a wrong secret) reads that one row and nothing
 * else, whoever owns the id and whatever the owner may do.
 *
 * Times come as microseconds since the epoch, and whether the token has
 * expired or a throttled write is due is decided in C by httpd's clock
 * (bbt_clock.h: moved forward where it is behind the database's), as the
 * cache does: asking the database's clock with the row cost the
 * backend more (an expression the executor builds for every run) and would
 * make the two paths judge an expiry by two clocks.  The write functions
 * check again by the database's clock under the row lock.
 */
#include "httpd.h"
#include "http_log.h"
#include "apr_dbd.h"
#include "apr_strings.h"

#include <string.h>

#include "bbt_centry.h"
#include "bbt_db.h"
#include "bbt_dbrun.h"
#include "bbt_input.h"
#include "bbt_lookuprow.h"
#include "bbt_mono.h"
#include "bbt_rowmemo.h"
#include "bbt_schema.h"

APLOG_USE_MODULE(bbtoken);

/* One column, every field of the row (bbt_lookuprow.h): read as many
 * columns, each cost the backend its projection and output function, and
 * httpd libpq's and apr_dbd's work and a copy. */
static const char bbt_sql_lookup[] =
    "SELECT packed FROM bbtoken_lookup WHERE id = %s";

/* The level map of a token's lookup row alone, for a token the cache
 * answered whose owner's level on the target it had not: the one column
 * the level is read from when the whole row is (levels, which packed
 * holds too), so that both ways give the same level. */
static const char bbt_sql_levels[] =
    "SELECT levels FROM bbtoken_lookup WHERE id = %s";

/* The verified token's owner's live level on (key, slug), for an owner
 * whose map the lookup does not hold (too many grants), and on a second
 * target: by the owner's id, never the name read with the row, which a
 * rename may since have given another user. */
static const char bbt_sql_owner_level[] =
    "SELECT COALESCE(ol.level, 0) FROM bbtoken_users u"
    " LEFT JOIN LATERAL bbtoken_owner_levels(u, %s, %s) ol ON true"
    " WHERE u.id = %s::bigint";

/* Apart, asked only for a verified token of a project or a repository in
 * a personal project, whose key is "~" and its owner's slug (schema 56;
 * an older schema's "~" and a name with "@" names no one: refused).  The
 * slug finds whoever holds it when asked, perhaps a user given it after
 * the token's row was read; a rename or a deletion of the owner, and a
 * user given the name, revoke the project's tokens in the same
 * transaction (migrations 21 and 53).  So whether the token is revoked is
 * read again here, in the snapshot the owner is found in: a token still
 * live there is of the user found. */
static const char bbt_sql_personal[] =
    "SELECT EXISTS (SELECT 1 FROM bbtoken_users"
    " WHERE slug = substr(%s, 2) AND active),"
    " NOT EXISTS (SELECT 1 FROM bbtoken_tokens"
    " WHERE id = %s AND revoked_at IS NULL)";

static const bbt_db_stmt_t bbt_stmt_lookup = {
    BBT_STMT_LOOKUP, "bbtoken_lookup_v13", bbt_sql_lookup, "the token lookup"};
static const bbt_db_stmt_t bbt_stmt_levels = {
    BBT_STMT_LEVELS, "bbtoken_levels_v1", bbt_sql_levels,
    "the owner's level map"};
static const bbt_db_stmt_t bbt_stmt_level = {
    BBT_STMT_LEVEL, "bbtoken_owner_level_v1", bbt_sql_owner_level,
    "the owner's level"};
static const bbt_db_stmt_t bbt_stmt_personal = {
    BBT_STMT_PERSONAL, "bbtoken_personal_v3", bbt_sql_personal,
    "the personal project's owner"};

static int bbt_dblookup_flag(const char *v)
{
    return v && v[0] == 't';
}

/* Row v (the packed column) into out: one copy into the request's pool,
 * cut in place, or, if *reuse, the thread's last parse of the very same
 * text (bbt_rowmemo.h; *reuse then stays 1, else is 0).  BBT_LOOKUPROW_OK,
 * or why not (out then zeroed). */
static bbt_lookuprow_status_t bbt_dblookup_row(bbt_db_conn_t *c, const char *v,
                                               int *reuse, bbt_db_token_t *out)
{
    size_t len = v ? strlen(v) : 0;
    char *buf = apr_palloc(bbt_db_pool(c), len + 1);
    bbt_lookuprow_status_t st;

    if (*reuse && bbt_rowmemo_get(v, len, buf, out)) {
        return BBT_LOOKUPROW_OK;
    }
    *reuse = 0;
    memcpy(buf, v ? v : "", len);
    buf[len] = '\0';
    st = bbt_lookuprow_parse(buf, len, out);
    if (st == BBT_LOOKUPROW_OK) {
        bbt_rowmemo_put(v, len, buf, out);
    }
    return st;
}

void bbt_db_judge(bbt_db_token_t *t, int interval, apr_int64_t now)
{
    t->expired = bbt_centry_expired(t->expires_us, now);
    t->stale = bbt_centry_due(t->last_use_us, interval, now);
    t->refusal_due = bbt_centry_due(t->refused_us, interval, now);
}

/* A row the module cannot answer from: refused as a database fault (fail
 * closed, as for an outage), the token named by its id only. */
static void bbt_dblookup_refuse(bbt_db_conn_t *c, const char *id,
                                bbt_lookuprow_status_t st)
{
    const char *msgid = "BBT075", *msg = ": its row of bbtoken_lookup is "
                                         "malformed; bbtoken db check "
                                         "--repair writes it again";
    int behind =
        st == BBT_LOOKUPROW_MALFORMED ? bbt_schema_behind(bbt_db_native(c)) : 0;

    if (st == BBT_LOOKUPROW_MALFORMED && behind) {
        /* A personal project keyed by its owner's name with "@" before
         * version 56: no repair writes it as this module reads it. */
        msg = apr_psprintf(bbt_db_pool(c),
                           ": its row of bbtoken_lookup is malformed, or "
                           "written by an older schema (the database's is "
                           "version %d, older than this module's): run "
                           "`bbtoken db upgrade`, then bbtoken db check "
                           "--repair if it stays",
                           behind);
    } else if (st == BBT_LOOKUPROW_UNKNOWN) {
        msgid = "BBT790";
        msg = ": its row of bbtoken_lookup is in a format this module does "
              "not know (the database's schema is newer): upgrade the module";
    } else if (st == BBT_LOOKUPROW_ORPHAN) {
        msgid = "BBT081";
        msg = ": a personal token whose owner is gone (the user deleted "
              "where the foreign keys' cascade did not fire: "
              "session_replication_role = replica?): delete the token";
    }
    bbt_db_say(c, APLOG_ERR, msgid,
               apr_pstrcat(bbt_db_pool(c), "token ", id, msg, NULL));
}

bbt_db_status_t bbt_db_lookup(bbt_db_conn_t *c, const char *id, int *reuse,
                              bbt_db_token_t *out)
{
    const apr_dbd_driver_t *drv = bbt_db_driver(c);
    apr_pool_t *p = bbt_db_pool(c);
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    bbt_lookuprow_status_t st = BBT_LOOKUPROW_MALFORMED;
    int rows = 0, used = *reuse;

    *reuse = 0;
    if (bbt_db_run(c, &bbt_stmt_lookup, "BBT074", &res, 1, &id) != 0) {
        return BBT_DB_UNAVAILABLE;
    }
    /* Read every row to the end so the result is released. */
    while (apr_dbd_get_row(drv, p, res, &row, -1) == 0) {
        if (rows++ > 0) {
            continue;
        }
        st = bbt_dblookup_row(c, apr_dbd_get_entry(drv, row, 0), &used, out);
    }
    if (rows > 0 && st != BBT_LOOKUPROW_OK) {
        bbt_dblookup_refuse(c, id, st);
        return BBT_DB_UNAVAILABLE;
    }
    if (rows == 0) {
        return BBT_DB_NOT_FOUND;
    }
    *reuse = used;
    return BBT_DB_OK;
}

bbt_db_status_t bbt_db_levels(bbt_db_conn_t *c, const char *id,
                              const char **map)
{
    const apr_dbd_driver_t *drv = bbt_db_driver(c);
    apr_pool_t *p = bbt_db_pool(c);
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rows = 0;

    *map = NULL;
    if (bbt_db_run(c, &bbt_stmt_levels, "BBT322", &res, 1, &id) != 0) {
        return BBT_DB_UNAVAILABLE;
    }
    while (apr_dbd_get_row(drv, p, res, &row, -1) == 0) {
        /* Copied: the row's text is the driver's until the next row. */
        if (rows++ == 0) {
            const char *v = apr_dbd_get_entry(drv, row, 0);

            *map = v ? apr_pstrdup(p, v) : NULL;
        }
    }
    return rows ? BBT_DB_OK : BBT_DB_NOT_FOUND;
}

bbt_db_status_t bbt_db_owner_level(bbt_db_conn_t *c, apr_int64_t user_id,
                                   const char *key, const char *slug,
                                   bbt_level_t *level)
{
    const apr_dbd_driver_t *drv = bbt_db_driver(c);
    apr_pool_t *p = bbt_db_pool(c);
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const char *args[3];

    *level = BBT_LEVEL_NONE;
    if (!key) {
        return BBT_DB_OK;
    }
    args[0] = key;
    args[1] = slug;
    args[2] = apr_psprintf(p, "%" APR_INT64_T_FMT, user_id);
    if (bbt_db_run(c, &bbt_stmt_level, "BBT320", &res,
                   (int)(sizeof(args) / sizeof(args[0])), args) != 0) {
        return BBT_DB_UNAVAILABLE;
    }
    while (apr_dbd_get_row(drv, p, res, &row, -1) == 0) {
        bbt_level_t l = bbt_db_int_level(apr_dbd_get_entry(drv, row, 0));

        if (l > *level) {
            *level = l;
        }
    }
    return BBT_DB_OK;
}

bbt_db_status_t bbt_db_personal_active(bbt_db_conn_t *c, const char *key,
                                       const char *id, int *active,
                                       int *revoked)
{
    const apr_dbd_driver_t *drv = bbt_db_driver(c);
    apr_pool_t *p = bbt_db_pool(c);
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const char *args[2];

    *active = 0;
    args[0] = key;
    args[1] = id;
    if (bbt_db_run(c, &bbt_stmt_personal, "BBT321", &res,
                   (int)(sizeof(args) / sizeof(args[0])), args) != 0) {
        return BBT_DB_UNAVAILABLE;
    }
    while (apr_dbd_get_row(drv, p, res, &row, -1) == 0) {
        *active = bbt_dblookup_flag(apr_dbd_get_entry(drv, row, 0));
        if (bbt_dblookup_flag(apr_dbd_get_entry(drv, row, 1))) {
            *revoked = 1;
        }
    }
    return BBT_DB_OK;
}

/* The live level of a user found by name, as bbtoken_owner_levels computes
 * it.  The name must match exactly: a password provider may tell "Admin"
 * from "admin", and two such users must not share one user's grants. */
static const char bbt_sql_user_level[] =
    "SELECT COALESCE(ol.level, 0) FROM bbtoken_users u"
    " LEFT JOIN LATERAL bbtoken_owner_levels(u, %s, %s) ol ON true"
    " WHERE u.name = %s";

bbt_db_status_t bbt_db_user_level(bbt_db_conn_t *c, const char *name,
                                  const char *key, const char *slug,
                                  bbt_level_t *level)
{
    const apr_dbd_driver_t *drv = bbt_db_driver(c);
    apr_pool_t *p = bbt_db_pool(c);
    apr_dbd_prepared_t *stmt = NULL;
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    apr_time_t start;
    int rv;

    *level = BBT_LEVEL_NONE;
    /* A name the users' CHECK refuses is nobody's (bbt_rest_user). */
    if (!bbt_input_user_name(name, strlen(name))) {
        return BBT_DB_OK;
    }
    /* The try's time and outcome from its PREPARE, as bbt_db_run's. */
    start = bbt_mono_now();
    if (apr_dbd_prepare(drv, p, bbt_db_handle(c), bbt_sql_user_level, NULL,
                        &stmt) != 0) {
        bbt_db_counted(start, -1);
        bbt_db_log(c, APLOG_ERR, 0, "BBT078",
                   "preparing the user level lookup");
        return BBT_DB_UNAVAILABLE;
    }
    rv = apr_dbd_pvselect(drv, p, bbt_db_handle(c), &res, stmt, 1, key, slug,
                          name);
    bbt_db_counted(start, rv);
    /* A connection PostgreSQL dropped: reset it and try once more. */
    if (rv != 0 && bbt_db_reconnected(c)) {
        start = bbt_mono_now();
        rv = apr_dbd_pvselect(drv, p, bbt_db_handle(c), &res, stmt, 1, key,
                              slug, name);
        bbt_db_counted(start, rv);
    }
    if (rv != 0) {
        bbt_db_gave_up(c, rv, "BBT079", "user level lookup");
        return BBT_DB_UNAVAILABLE;
    }
    /* Read every row to the end so the result is released. */
    while (apr_dbd_get_row(drv, p, res, &row, -1) == 0) {
        bbt_level_t l = bbt_db_int_level(apr_dbd_get_entry(drv, row, 0));

        if (l > *level) {
            *level = l;
        }
    }
    return BBT_DB_OK;
}
