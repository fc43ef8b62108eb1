/*
 * The statements a request's verification runs (see bbt_db.h): the token
 * lookup, the owner's level when the lookup does not give it, and a
 * personal project's owner.
 *
 * The lookup reads one row of bbtoken_lookup by its primary key, plain
 * columns only (sql/migrations/0026_lookup.sql): the token, its owner's
 * name and state, and the owner's level map, computed by the database's
 * triggers when a row they derive from is written.  Reading the live
 * tables instead (a join of the token and its owner, the level from the
 * grants) cost PostgreSQL's executor several times as much on every run,
 * most of it setting up the joins, scans and expressions again for each
 * execution of the prepared statement; one indexed read of one table costs
 * about what mod_authn_dbd's SELECT password does (bench/pgprofile.pl).
 * A refusal (an unknown id, a wrong secret) reads that one row and nothing
 * else, whoever owns the id and whatever the owner may do.
 *
 * Times come as microseconds since the epoch, and whether the token has
 * expired or a throttled write is due is decided in C by httpd's clock,
 * as the cache does: asking the database's clock with the row cost the
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

APLOG_USE_MODULE(bbtoken);

/* Columns, in order; the query below must agree. */
enum {
    COL_SALT,
    COL_HASH,
    COL_TOKEN_NAME,
    COL_USER_NAME,
    COL_ACTIVE,
    COL_PROJECT_PERM,
    COL_REPO_PERM,
    COL_REVOKED,
    COL_USER_ID,
    COL_EXPIRES_US,
    COL_LAST_USE_US,
    COL_REFUSED_US,
    COL_PROJECT_KEY,
    COL_REPO_SLUG,
    COL_NETS,
    COL_GROUPS,
    COL_LEVELS,
    COL_COUNT
};

/* A project's or a repository's token has no owner (NULL name, state, id
 * and levels); its key and slug come next.  Then the allow-list and the
 * address groups the token is known to have been used from, as text. */
static const char bbt_sql_lookup[] =
    "SELECT salt, secret_hash, token_name, user_name, user_active,"
    " project_perm, repo_perm, revoked, user_id, expires_us, last_use_us,"
    " refused_us, project_key, repo_slug, allowed_nets, seen_nets, levels"
    " FROM bbtoken_lookup WHERE id = %s";

/* The verified token's owner's live level on (key, slug), for an owner
 * whose map the lookup does not hold (too many grants). */
static const char bbt_sql_owner_level[] =
    "SELECT COALESCE(ol.level, 0) FROM bbtoken_users u"
    " LEFT JOIN LATERAL bbtoken_owner_levels(u, %s, %s) ol ON true"
    " WHERE u.id = %s::bigint";

/* Apart, asked only for a verified token of a project or a repository in
 * a personal project. */
static const char bbt_sql_personal[] =
    "SELECT EXISTS (SELECT 1 FROM bbtoken_users"
    " WHERE lower(name) = lower(substr(%s, 2)) AND active)";

static const bbt_db_stmt_t bbt_stmt_lookup = {
    BBT_STMT_LOOKUP, "bbtoken_lookup_v12", bbt_sql_lookup, "the token lookup"};
static const bbt_db_stmt_t bbt_stmt_level = {
    BBT_STMT_LEVEL, "bbtoken_owner_level_v1", bbt_sql_owner_level,
    "the owner's level"};
static const bbt_db_stmt_t bbt_stmt_personal = {
    BBT_STMT_PERSONAL, "bbtoken_personal_v1", bbt_sql_personal,
    "the personal project's owner"};

static int bbt_dblookup_flag(const char *v)
{
    return v && v[0] == 't';
}

static bbt_level_t bbt_dblookup_level(const char *v, bbt_scope_t scope)
{
    bbt_perm_t perm;

    if (!v || bbt_perm_parse(v, &perm) != 0 || perm.scope != scope) {
        return BBT_LEVEL_NONE;
    }
    return perm.level;
}

/* A bigint column (NULL: 0). */
static apr_int64_t bbt_dblookup_int64(const char *v)
{
    return v ? apr_atoi64(v) : 0;
}

/* An expiry in microseconds, 0 for none (the driver gives "" for NULL):
 * an expiry at the epoch itself is a time, and is kept one earlier, still
 * long past, so that it never reads as none. */
static apr_int64_t bbt_dblookup_expiry(const char *v)
{
    apr_int64_t us = bbt_dblookup_int64(v);

    return us == 0 && v && *v ? -1 : us;
}

/* A text column, NULL for SQL NULL: the driver gives "" for both, and the
 * schema lets no key, slug or level map that means something be empty. */
static const char *bbt_dblookup_text(const char *v)
{
    return v && *v ? v : NULL;
}

static int bbt_dblookup_copy_hex(char *dst, size_t n, const char *src)
{
    if (!src || strlen(src) != n) {
        return -1;
    }
    memcpy(dst, src, n + 1);
    return 0;
}

/* Row v into out; -1 if its salt or hash is malformed. */
static int bbt_dblookup_row(bbt_db_conn_t *c, const char **v, int interval,
                            apr_int64_t now, bbt_db_token_t *out)
{
    apr_pool_t *p = bbt_db_pool(c);

    if (bbt_dblookup_copy_hex(out->salt, BBT_SALT_HEX_LEN, v[COL_SALT]) ||
        bbt_dblookup_copy_hex(out->hash, BBT_HASH_HEX_LEN, v[COL_HASH])) {
        return -1;
    }
    out->token_name = apr_pstrdup(p, v[COL_TOKEN_NAME]);
    out->user_name = apr_pstrdup(p, v[COL_USER_NAME]);
    out->user_active = bbt_dblookup_flag(v[COL_ACTIVE]);
    out->tok_project =
        bbt_dblookup_level(v[COL_PROJECT_PERM], BBT_SCOPE_PROJECT);
    out->tok_repo = bbt_dblookup_level(v[COL_REPO_PERM], BBT_SCOPE_REPO);
    out->revoked = bbt_dblookup_flag(v[COL_REVOKED]);
    out->user_id = bbt_dblookup_int64(v[COL_USER_ID]);
    out->expires_us = bbt_dblookup_expiry(v[COL_EXPIRES_US]);
    out->last_use_us = bbt_dblookup_int64(v[COL_LAST_USE_US]);
    out->refused_us = bbt_dblookup_int64(v[COL_REFUSED_US]);
    out->expired = bbt_centry_expired(out->expires_us, now);
    out->stale = bbt_centry_due(out->last_use_us, interval, now);
    out->refusal_due = bbt_centry_due(out->refused_us, interval, now);
    /* A project's or a repository's token has no owner; a row of no kind
     * is refused as broken. */
    bbt_kind_from_row(bbt_dblookup_text(v[COL_PROJECT_KEY]),
                      bbt_dblookup_text(v[COL_REPO_SLUG]), &out->scope);
    out->nets = apr_pstrdup(p, v[COL_NETS] ? v[COL_NETS] : "");
    out->ngroups = v[COL_GROUPS] ? bbt_agroup_list(v[COL_GROUPS], out->groups,
                                                   BBT_AGROUPS_MAX)
                                 : 0;
    out->levels =
        bbt_dblookup_text(v[COL_LEVELS]) ? apr_pstrdup(p, v[COL_LEVELS]) : NULL;
    return 0;
}

bbt_db_status_t bbt_db_lookup(bbt_db_conn_t *c, const char *id, int interval,
                              apr_int64_t now, bbt_db_token_t *out)
{
    const apr_dbd_driver_t *drv = bbt_db_driver(c);
    apr_pool_t *p = bbt_db_pool(c);
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rows = 0, bad = 0;

    if (bbt_db_run(c, &bbt_stmt_lookup, "BBT074", &res, 1, &id) != 0) {
        return BBT_DB_UNAVAILABLE;
    }
    /* Read every row to the end so the result is released. */
    while (apr_dbd_get_row(drv, p, res, &row, -1) == 0) {
        const char *v[COL_COUNT];
        int i;

        if (rows++ > 0) {
            continue;
        }
        for (i = 0; i < COL_COUNT; i++) {
            v[i] = apr_dbd_get_entry(drv, row, i);
        }
        if (bbt_dblookup_row(c, v, interval, now, out) != 0) {
            /* The schema's CHECKs make this impossible; fail closed. */
            bbt_db_say(c, APLOG_ERR, "BBT075",
                       apr_pstrcat(p, "token ", id,
                                   " has a malformed stored hash", NULL));
            bad = 1;
        }
    }
    if (bad) {
        return BBT_DB_UNAVAILABLE;
    }
    return rows == 0 ? BBT_DB_NOT_FOUND : BBT_DB_OK;
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
                                       int *active)
{
    const apr_dbd_driver_t *drv = bbt_db_driver(c);
    apr_pool_t *p = bbt_db_pool(c);
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;

    *active = 0;
    if (bbt_db_run(c, &bbt_stmt_personal, "BBT321", &res, 1, &key) != 0) {
        return BBT_DB_UNAVAILABLE;
    }
    while (apr_dbd_get_row(drv, p, res, &row, -1) == 0) {
        *active = bbt_dblookup_flag(apr_dbd_get_entry(drv, row, 0));
    }
    return BBT_DB_OK;
}
