/*
 * Reports: expiring (every token, a user's, a project's or a
 * repository's, that expires soon or has expired, silent when there is
 * none, for cron) and audit (the trail the database's triggers keep).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_pgjson.h"
#include "db.h"
#include "lookup.h"
#include "stream.h"

/* ---- expiring --------------------------------------------------------- */

enum {
    BBTOKEN_E_USER,
    BBTOKEN_E_ID,
    BBTOKEN_E_NAME,
    BBTOKEN_E_EXPIRES,
    BBTOKEN_E_EXPIRES_MS,
    BBTOKEN_E_EXPIRED,
    BBTOKEN_E_LEFT,
    BBTOKEN_E_LAST,
    BBTOKEN_E_LAST_MS,
    BBTOKEN_E_PROJECT,
    BBTOKEN_E_REPO,
    BBTOKEN_E_ACTIVE,
    BBTOKEN_E_KEY,
    BBTOKEN_E_SLUG
};

/* "in 3 days", "in 5 hours", "in 12 minutes". */
static const char *bbtoken_left(const char *secs, char *buf, size_t len)
{
    long long s = atoll(secs);

    if (s >= 2 * 86400) {
        snprintf(buf, len, "in %lld days", s / 86400);
    } else if (s >= 2 * 3600) {
        snprintf(buf, len, "in %lld hours", s / 3600);
    } else {
        snprintf(buf, len, "in %lld minutes", s / 60 + 1);
    }
    return buf;
}

static const char *const bbtoken_expiring_head[6] = {
    "EXPIRES", "STATUS", "USER", "ID", "NAME", "LAST USED"};

static void bbtoken_expiring_row(const PGresult *res, int i, const char **row,
                                 char (*scratch)[BBTOKEN_CELL_MAX],
                                 const void *arg)
{
    (void)arg;
    row[0] = PQgetvalue(res, i, BBTOKEN_E_EXPIRES);
    row[1] = PQgetvalue(res, i, BBTOKEN_E_EXPIRED)[0] == 't'
                 ? "expired"
                 : bbtoken_left(PQgetvalue(res, i, BBTOKEN_E_LEFT), scratch[0],
                                BBTOKEN_CELL_MAX);
    row[2] = PQgetvalue(res, i, BBTOKEN_E_USER);
    row[3] = PQgetvalue(res, i, BBTOKEN_E_ID);
    row[4] = PQgetvalue(res, i, BBTOKEN_E_NAME);
    row[5] = bbtoken_get(res, i, BBTOKEN_E_LAST, "never");
}

static json_t *bbtoken_expiring_json(const PGresult *res, int i,
                                     const void *arg)
{
    json_t *obj = json_pack(
        "{s:s, s:s, s:o, s:b, s:o*, s:o}", "id",
        PQgetvalue(res, i, BBTOKEN_E_ID), "name",
        PQgetvalue(res, i, BBTOKEN_E_NAME), "expiryDate",
        bbt_pgjson_int(res, i, BBTOKEN_E_EXPIRES_MS), "expired",
        PQgetvalue(res, i, BBTOKEN_E_EXPIRED)[0] == 't', "lastAuthenticated",
        bbt_pgjson_int(res, i, BBTOKEN_E_LAST_MS), "permissions",
        bbtoken_perms_json(bbtoken_get(res, i, BBTOKEN_E_PROJECT, NULL),
                           PQgetvalue(res, i, BBTOKEN_E_REPO)));

    (void)arg;
    if (obj &&
        bbtoken_holder_json(obj,
                            PQgetisnull(res, i, BBTOKEN_E_KEY)
                                ? PQgetvalue(res, i, BBTOKEN_E_USER)
                                : NULL,
                            PQgetvalue(res, i, BBTOKEN_E_ACTIVE)[0] == 't',
                            bbtoken_get(res, i, BBTOKEN_E_KEY, NULL),
                            bbtoken_get(res, i, BBTOKEN_E_SLUG, NULL)) != 0) {
        json_decref(obj);
        obj = NULL;
    }
    return obj;
}

static const bbtoken_report_t bbtoken_expiring_report = {
    "listing expiring tokens",
    "SELECT COALESCE(u.name,"
    " bbtoken_scope_name(t.project_key, t.repo_slug)), t.id, t.name,"
    " to_char(t.expires_at AT TIME ZONE 'UTC', " BBTOKEN_ISO "),"
    " (extract(epoch FROM t.expires_at) * 1000)::bigint,"
    " t.expires_at <= now(),"
    " extract(epoch FROM t.expires_at - now())::bigint,"
    " to_char(t.last_authenticated AT TIME ZONE 'UTC', " BBTOKEN_ISO "),"
    " (extract(epoch FROM t.last_authenticated) * 1000)::bigint,"
    " t.project_perm, t.repo_perm, COALESCE(u.active, true),"
    " t.project_key, t.repo_slug"
    " FROM bbtoken_tokens t LEFT JOIN bbtoken_users u ON u.id = t.user_id"
    " WHERE t.revoked_at IS NULL AND t.expires_at IS NOT NULL"
    " AND t.expires_at <= now() + make_interval(secs => $1::bigint)"
    " ORDER BY t.expires_at, t.id",
    bbtoken_expiring_head,
    6,
    bbtoken_expiring_row,
    bbtoken_expiring_json,
    1};

int bbtoken_cmd_expiring(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                         const bbtoken_args_t *a)
{
    const char *within = a->within ? a->within : "7d";
    long long secs = bbtoken_duration(within);
    char secbuf[32];
    const char *params[1] = {secbuf};
    int rc = 0;

    (void)cmd;
    if (secs < 0) {
        return bbtoken_fail("--within: not a duration (7d, 12h, 2w): %s",
                            bbtoken_repeatable(within));
    }
    snprintf(secbuf, sizeof(secbuf), "%lld", secs);
    /* It reads every live token with its owner (db.h). */
    if ((rc = bbtoken_connect(ctx)) ||
        (rc = bbtoken_analyze(ctx, BBTOKEN_ANALYZE_TOKENS))) {
        return rc;
    }
    /* Nothing to say: say nothing, so that cron sends no mail. */
    return bbtoken_stream_report(ctx, &bbtoken_expiring_report, 1, params,
                                 a->json);
}

/* ---- audit ------------------------------------------------------------ */

enum {
    BBTOKEN_A_TIME,
    BBTOKEN_A_MS,
    BBTOKEN_A_EVENT,
    BBTOKEN_A_TOKEN,
    BBTOKEN_A_USER,
    BBTOKEN_A_ACTOR,
    BBTOKEN_A_ROLE,
    BBTOKEN_A_SOURCE,
    BBTOKEN_A_ADDR,
    BBTOKEN_A_DETAIL,
    BBTOKEN_A_ID,
    BBTOKEN_A_BY,
    BBTOKEN_A_FROM
};

/* A text column as a JSON string, or NULL to leave the member out. */
static json_t *bbtoken_json_str(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL
                                      : json_string(PQgetvalue(res, row, col));
}

static const char *const bbtoken_audit_head[7] = {
    "TIME", "EVENT", "TOKEN", "USER", "BY", "FROM", "DETAIL"};

/* BY and FROM come made by the query: nothing to format here. */
static void bbtoken_audit_row(const PGresult *res, int i, const char **row,
                              char (*scratch)[BBTOKEN_CELL_MAX],
                              const void *arg)
{
    (void)scratch;
    (void)arg;
    row[0] = PQgetvalue(res, i, BBTOKEN_A_TIME);
    row[1] = PQgetvalue(res, i, BBTOKEN_A_EVENT);
    row[2] = bbtoken_get(res, i, BBTOKEN_A_TOKEN, "-");
    row[3] = bbtoken_get(res, i, BBTOKEN_A_USER, "-");
    row[4] = PQgetvalue(res, i, BBTOKEN_A_BY);
    row[5] = PQgetvalue(res, i, BBTOKEN_A_FROM);
    row[6] = bbtoken_get(res, i, BBTOKEN_A_DETAIL, "");
}

static json_t *bbtoken_audit_json(const PGresult *res, int i, const void *arg)
{
    (void)arg;
    return json_pack("{s:o, s:o, s:s, s:o*, s:o*, s:s, s:s, s:s, s:o*, s:o*}",
                     "id", bbt_pgjson_int(res, i, BBTOKEN_A_ID), "time",
                     bbt_pgjson_int(res, i, BBTOKEN_A_MS), "event",
                     PQgetvalue(res, i, BBTOKEN_A_EVENT), "tokenId",
                     bbtoken_json_str(res, i, BBTOKEN_A_TOKEN), "user",
                     bbtoken_json_str(res, i, BBTOKEN_A_USER), "actor",
                     PQgetvalue(res, i, BBTOKEN_A_ACTOR), "dbRole",
                     PQgetvalue(res, i, BBTOKEN_A_ROLE), "source",
                     PQgetvalue(res, i, BBTOKEN_A_SOURCE), "clientAddress",
                     bbtoken_json_str(res, i, BBTOKEN_A_ADDR), "detail",
                     bbtoken_json_str(res, i, BBTOKEN_A_DETAIL));
}

/* The records of the audit's holder $1: a user's by name in any case, as
 * users are named; a project's or a repository's tokens' (project:KEY,
 * repo:KEY/slug, which no user's name is: it has no colon) exactly, as list
 * takes them, since TEAM/app and TEAM/App are two repositories. */
#define BBTOKEN_AUDIT_HOLDER                                                   \
    BBT_SQL_NAME_ANY_CASE("user_name", "$1")                                   \
    " AND (strpos($1, ':') = 0 OR user_name = $1)"

static const bbtoken_report_t bbtoken_audit_report = {
    "reading the audit trail",
    "SELECT to_char(at AT TIME ZONE 'UTC', " BBTOKEN_ISO "),"
    " (extract(epoch FROM at) * 1000)::bigint, event, token_id,"
    " user_name, actor, db_role, source, host(client_addr), detail, id,"
    " CASE WHEN actor = db_role THEN actor"
    " ELSE actor || ' (db ' || db_role || ')' END,"
    " source || COALESCE(' ' || host(client_addr), '')"
    " FROM bbtoken_audit"
    " WHERE ($1::text IS NULL OR " BBTOKEN_AUDIT_HOLDER ")"
    " AND (($2::text IS NULL AND $3::text IS NULL)"
    " OR at >= " BBTOKEN_WHEN_23 ")"
    " AND ($4::text IS NULL OR token_id = $4)"
    " ORDER BY at, id",
    bbtoken_audit_head,
    7,
    bbtoken_audit_row,
    bbtoken_audit_json,
    0};

/* The holder an audit names (s, or the user params[0] when s is NULL):
 * known to the trail (a user since deleted, a project's tokens since
 * purged) or to the database, or else a failure, as list of one is
 * (bbtoken_scope_known).  Before the report: a table's head comes first.
 * 0, or an exit status after reporting. */
static int bbtoken_audit_known(bbtoken_ctx_t *ctx, const char *const *params,
                               const bbt_tokscope_t *s)
{
    char what[BBT_KIND_ID_MAX + 16];
    int known = bbtoken_exec_bool(ctx, "reading the audit trail",
                                  "SELECT EXISTS (SELECT 1 FROM bbtoken_audit"
                                  " WHERE " BBTOKEN_AUDIT_HOLDER ")",
                                  1, params);

    if (known) {
        return known < 0 ? BBTOKEN_EXIT_FAIL : 0;
    }
    if (!s) {
        return bbtoken_user_known(ctx, params[0]);
    }
    return bbtoken_scope_known(ctx, bbt_kind_describe(s, what, sizeof(what)),
                               s->key,
                               s->kind == BBT_KIND_REPO ? s->slug : NULL);
}

/* The token --token names: known to the trail (purged since) or to the
 * database (a row written without the CLI or the API has no record), or
 * else a failure, as an unknown holder is.  0, or an exit status after
 * reporting. */
static int bbtoken_audit_token_known(bbtoken_ctx_t *ctx, const char *id)
{
    const char *params[1] = {id};
    int known = bbtoken_exec_bool(
        ctx, "reading the audit trail",
        "SELECT EXISTS (SELECT 1 FROM bbtoken_audit WHERE token_id = $1)"
        " OR EXISTS (SELECT 1 FROM bbtoken_tokens WHERE id = $1)",
        1, params);

    if (known < 0) {
        return BBTOKEN_EXIT_FAIL;
    }
    return known ? 0
                 : bbtoken_fail("no such token: %s: neither the audit trail "
                                "nor the database names it",
                                id);
}

int bbtoken_cmd_audit(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                      const bbtoken_args_t *a)
{
    bbtoken_when_t since;
    const char *params[4] = {a->noperands ? a->operands[0] : NULL, NULL, NULL,
                             a->token};
    char holder[BBT_KIND_ID_MAX];
    bbt_tokscope_t s;
    int rc;

    if (a->project || a->repo) {
        bbt_kind_t kind;
        bbtoken_target_t t;

        if ((rc = bbtoken_holder_args(cmd, a, &kind, &t))) {
            return rc;
        }
        bbtoken_scope_of(kind, &t, &s);
        params[0] = bbt_kind_identity(&s, holder, sizeof(holder));
    } else if (params[0] && (rc = bbtoken_check_user(params[0]))) {
        return rc;
    }
    if ((a->token && (rc = bbtoken_check_id(a->token))) ||
        (a->since && (rc = bbtoken_when(a->since, "--since", &since))) ||
        (rc = bbtoken_connect(ctx)) ||
        (params[0] && (rc = bbtoken_audit_known(
                           ctx, params, a->project || a->repo ? &s : NULL))) ||
        (a->token && (rc = bbtoken_audit_token_known(ctx, a->token)))) {
        return rc;
    }
    if (a->since) {
        params[1] = since.abs;
        params[2] = since.ago;
    }
    return bbtoken_stream_report(ctx, &bbtoken_audit_report, 4, params,
                                 a->json);
}
