/*
 * The statements a request's verification runs (see bbt_db.h): the token
 * lookup, the owner's level, and a personal project's owner.  Each is a
 * prepared statement of bbt_db.c's (bbt_dbrun.h), asked only once the
 * token's secret is verified but the lookup: a refusal (an unknown id, a
 * wrong secret) reads the token and owner rows and nothing else, so it
 * takes the same work whoever owns the id and whatever the owner may do.
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
    COL_NOW_US,
    COL_PROJECT_KEY,
    COL_REPO_SLUG,
    COL_NETS,
    COL_GROUPS,
    COL_LEVEL,
    COL_COUNT
};

/* Times come as microseconds since the epoch, the database's clock
 * included, and whether the token has expired or a throttled write is due
 * is decided in C: every expression here is built again each time the
 * prepared statement runs, and that cost more than the query.
 * A project's or a repository's token has no owner (the users are a LEFT
 * JOIN); its key and slug come next.  Then the allow-list and the
 * address groups the token is known to have been used from, as text, both
 * from the token's row (sql/migrations/0013: aggregating
 * bbtoken_token_nets here cost more than the rest of the lookup).
 *
 * Last, the owner's live level on the target (key, slug), but only when
 * the caller sent the SHA-256 of the token's hash and it is the stored
 * hash's, which the row keeps (bbt_token_hash_digest_hex; secret_digest,
 * sql/migrations/0017: the hash itself is never a parameter, which
 * statement logging would write out), for a personal token that the
 * verdict will accept: live, not expired, of an active owner, presented
 * under the owner's name when in Basic, and with no allow-list (whether the
 * client is inside one is APR's to say, in C: such a token's level comes
 * from the second statement); NULL otherwise.  PostgreSQL evaluates a CASE
 * branch only when it is taken, so a refusal still reads the token and
 * owner rows and nothing else (t/75 and t/95 count the level's runs).
 * The level is a PL/pgSQL function (sql/migrations/0015): the same query
 * inlined here as a subquery ran only when taken too (EXPLAIN ANALYZE:
 * "never executed"), but the executor set it up on every run, which cost
 * every lookup about half as much again.  C still verifies the secret
 * itself and uses the level only then (bbt_verify.c). */
static const char bbt_sql_lookup[] =
    "SELECT t.salt, t.secret_hash, t.name, u.name, u.active, t.project_perm,"
    " t.repo_perm, t.revoked_at IS NOT NULL, u.id,"
    " (date_part('epoch', t.expires_at) * 1000000)::bigint,"
    " (date_part('epoch', t.last_authenticated) * 1000000)::bigint,"
    " (date_part('epoch', t.expired_refused_at) * 1000000)::bigint,"
    " (date_part('epoch', now()) * 1000000)::bigint,"
    " t.project_key, t.repo_slug, array_to_string(t.allowed_nets, ' '),"
    " array_to_string(t.seen_nets, ' '),"
    " CASE WHEN t.user_id IS NOT NULL"
    " AND t.revoked_at IS NULL AND u.active"
    " AND (t.expires_at IS NULL OR t.expires_at > now())"
    " AND t.allowed_nets IS NULL"
    " AND lower(u.name) = lower(COALESCE(%s, u.name))"
    " AND t.secret_digest = %s"
    " THEN bbtoken_owner_level_of(u, %s, %s) END"
    " FROM bbtoken_tokens t LEFT JOIN bbtoken_users u ON u.id = t.user_id"
    " WHERE t.id = %s";

/* The verified token's owner's live level on (key, slug). */
static const char bbt_sql_owner_level[] =
    "SELECT COALESCE(ol.level, 0) FROM bbtoken_users u"
    " LEFT JOIN LATERAL bbtoken_owner_levels(u, %s, %s) ol ON true"
    " WHERE u.id = %s::bigint";

/* Apart: in the lookup, even in a CASE branch never taken, the executor
 * would set it up on every run (17% fewer lookups a second, pgbench). */
static const char bbt_sql_personal[] =
    "SELECT EXISTS (SELECT 1 FROM bbtoken_users"
    " WHERE lower(name) = lower(substr(%s, 2)) AND active)";

static const bbt_db_stmt_t bbt_stmt_lookup = {
    BBT_STMT_LOOKUP, "bbtoken_lookup_v11", bbt_sql_lookup, "the token lookup"};
static const bbt_db_stmt_t bbt_stmt_level = {
    BBT_STMT_LEVEL, "bbtoken_owner_level_v1", bbt_sql_owner_level,
    "the owner's level"};
static const bbt_db_stmt_t bbt_stmt_personal = {
    BBT_STMT_PERSONAL, "bbtoken_personal_v1", bbt_sql_personal,
    "the personal project's owner"};

static int bbt_db_flag(const char *v)
{
    return v && v[0] == 't';
}

static bbt_level_t bbt_db_level(const char *v, bbt_scope_t scope)
{
    bbt_perm_t perm;

    if (!v || bbt_perm_parse(v, &perm) != 0 || perm.scope != scope) {
        return BBT_LEVEL_NONE;
    }
    return perm.level;
}

/* A bigint column (NULL: 0). */
static apr_int64_t bbt_db_int64(const char *v)
{
    return v ? apr_atoi64(v) : 0;
}

/* An expiry in microseconds, 0 for none (the driver gives "" for NULL):
 * an expiry at the epoch itself is a time, and is kept one earlier, still
 * long past, so that it never reads as none. */
static apr_int64_t bbt_db_expiry(const char *v)
{
    apr_int64_t us = bbt_db_int64(v);

    return us == 0 && v && *v ? -1 : us;
}

/* A text column, NULL for SQL NULL: the driver gives "" for both, and the
 * schema lets no key or slug be empty. */
static const char *bbt_db_text(const char *v)
{
    return v && *v ? v : NULL;
}

static int bbt_db_copy_hex(char *dst, size_t n, const char *src)
{
    if (!src || strlen(src) != n) {
        return -1;
    }
    memcpy(dst, src, n + 1);
    return 0;
}

bbt_db_status_t bbt_db_lookup(bbt_db_conn_t *c, const char *id, int interval,
                              const char *digest, const char *basic_user,
                              const char *key, const char *slug,
                              bbt_db_token_t *out)
{
    const apr_dbd_driver_t *drv = bbt_db_driver(c);
    apr_pool_t *p = bbt_db_pool(c);
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    apr_int64_t now;
    int rows = 0, bad = 0;
    /* In the order of the statement's placeholders.  No target, no
     * level: then no digest either. */
    const char *args[] = {basic_user, key ? digest : NULL, key, slug, id};

    if (bbt_db_run(c, &bbt_stmt_lookup, "BBT074", &res,
                   (int)(sizeof(args) / sizeof(args[0])), args) != 0) {
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
        if (bbt_db_copy_hex(out->salt, BBT_SALT_HEX_LEN, v[COL_SALT]) ||
            bbt_db_copy_hex(out->hash, BBT_HASH_HEX_LEN, v[COL_HASH])) {
            /* The schema's CHECKs make this impossible; fail closed. */
            bbt_db_say(c, APLOG_ERR, "BBT075",
                       apr_pstrcat(p, "token ", id,
                                   " has a malformed stored hash", NULL));
            bad = 1;
            continue;
        }
        out->token_name = apr_pstrdup(p, v[COL_TOKEN_NAME]);
        out->user_name = apr_pstrdup(p, v[COL_USER_NAME]);
        out->user_active = bbt_db_flag(v[COL_ACTIVE]);
        out->tok_project = bbt_db_level(v[COL_PROJECT_PERM], BBT_SCOPE_PROJECT);
        out->tok_repo = bbt_db_level(v[COL_REPO_PERM], BBT_SCOPE_REPO);
        out->revoked = bbt_db_flag(v[COL_REVOKED]);
        out->user_id = bbt_db_int64(v[COL_USER_ID]);
        out->expires_us = bbt_db_expiry(v[COL_EXPIRES_US]);
        out->last_use_us = bbt_db_int64(v[COL_LAST_USE_US]);
        out->refused_us = bbt_db_int64(v[COL_REFUSED_US]);
        /* By the database's clock, as its write functions judge. */
        now = bbt_db_int64(v[COL_NOW_US]);
        out->expired = bbt_centry_expired(out->expires_us, now);
        out->stale = bbt_centry_due(out->last_use_us, interval, now);
        out->refusal_due = bbt_centry_due(out->refused_us, interval, now);
        /* A project's or a repository's token has no owner row (the LEFT
         * JOIN's NULLs); a row of no kind is refused as broken. */
        bbt_kind_from_row(bbt_db_text(v[COL_PROJECT_KEY]),
                          bbt_db_text(v[COL_REPO_SLUG]), &out->scope);
        out->nets = apr_pstrdup(p, v[COL_NETS] ? v[COL_NETS] : "");
        out->ngroups =
            v[COL_GROUPS]
                ? bbt_agroup_list(v[COL_GROUPS], out->groups, BBT_AGROUPS_MAX)
                : 0;
        /* NULL (or the driver's "") when the level was not computed. */
        out->level_given = v[COL_LEVEL] && *v[COL_LEVEL];
        out->owner_level = bbt_db_int_level(v[COL_LEVEL]);
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
        *active = bbt_db_flag(apr_dbd_get_entry(drv, row, 0));
    }
    return BBT_DB_OK;
}
