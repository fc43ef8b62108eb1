/*
 * Administration: the token policy, purging dead tokens, and a project's
 * settings.  The schema's commands are cmd_db.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_pgjson.h"
#include "db.h"
#include "tx.h"

/* ---- policy ----------------------------------------------------------- */

/* Seconds as the DURATION the CLI reads back: days, else hours. */
static const char *bbtoken_secs_text(const char *secs, char *buf, size_t len)
{
    long long v = atoll(secs);

    if (v % 86400 == 0) {
        snprintf(buf, len, "%lldd", v / 86400);
    } else {
        snprintf(buf, len, "%lldh", v / 3600);
    }
    return buf;
}

/* The change policy makes, checked against the row it changes; and
 * whether the try that committed changed the row. */
typedef struct {
    const bbtoken_args_t *a;
    const char *unused; /* --revoke-unused-after in seconds, or "none" */
    int changed;
} bbtoken_policy_t;

static int bbtoken_policy_body(bbtoken_ctx_t *ctx, void *arg)
{
    bbtoken_policy_t *p = arg;
    const bbtoken_args_t *a = p->a;
    const char *params[3];
    PGresult *res;
    int has_max;

    p->changed = 0;
    res = bbtoken_exec(ctx, "reading the policy",
                       "SELECT max_expiry_days IS NOT NULL"
                       " FROM bbtoken_policy FOR UPDATE",
                       0, NULL);
    if (!res || PQntuples(res) != 1) {
        PQclear(res);
        return res ? bbtoken_fail("the policy row is missing")
                   : BBTOKEN_EXIT_FAIL;
    }
    has_max = a->max_days ? strcmp(a->max_days, "none") != 0
                          : PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    /* The maximum is what requires an expiry (the database gives it to a
     * token asked without one, and sets expiry_required by it): the
     * options --expiry-required and --expiry-optional, kept for scripts,
     * are only checked against it. */
    if (a->required == 1 && !has_max) {
        return bbtoken_fail("a required expiry needs a maximum: give "
                            "--max-expiry-days N");
    }
    if (a->required == 0 && has_max) {
        return bbtoken_fail("a maximum expiry applies to every new token, "
                            "which then expires: for tokens that may never "
                            "expire give --max-expiry-days none");
    }
    params[0] = a->max_days;
    params[1] = a->max_tokens;
    params[2] = a->revoke_unused ? p->unused : NULL;
    /* A change of revoke_unused_after restarts the unused tokens'
     * warnings: one sent before it gave the date of another policy (or of
     * one switched off since, whose warnings would otherwise stand for a
     * revocation the day it is switched on again), so every live token's
     * is forgotten, and its owner warned again in the week before the date
     * the new policy gives.  Whether the row changed is what the audit
     * trigger records it by (OLD IS DISTINCT FROM NEW). */
    res = bbtoken_exec(
        ctx, "changing the policy",
        "WITH old AS (SELECT p AS r, p.revoke_unused_after AS a"
        " FROM bbtoken_policy p),"
        " new AS (UPDATE bbtoken_policy SET"
        " max_expiry_days = CASE WHEN $1::text IS NULL THEN max_expiry_days"
        " WHEN $1 = 'none' THEN NULL ELSE $1::integer END,"
        " max_tokens_per_user = COALESCE($2::integer, max_tokens_per_user),"
        " revoke_unused_after = CASE WHEN $3::text IS NULL"
        " THEN revoke_unused_after WHEN $3 = 'none' THEN NULL"
        " ELSE make_interval(secs => $3::bigint) END"
        " RETURNING bbtoken_policy AS r, revoke_unused_after AS a),"
        " restart AS (SELECT 1 FROM old, new WHERE old.a IS DISTINCT FROM "
        "new.a),"
        " warned AS (DELETE FROM bbtoken_notices n USING bbtoken_tokens t"
        " WHERE n.kind = 'unused' AND t.id = n.token_id"
        " AND t.revoked_at IS NULL AND EXISTS (SELECT 1 FROM restart)),"
        " copied AS (DELETE FROM bbtoken_notice_copies c USING bbtoken_tokens t"
        " WHERE c.kind = 'unused' AND t.id = c.token_id"
        " AND t.revoked_at IS NULL AND EXISTS (SELECT 1 FROM restart))"
        " SELECT EXISTS (SELECT FROM old, new WHERE old.r IS DISTINCT FROM"
        " new.r)",
        3, params);
    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    p->changed = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return 0;
}

int bbtoken_cmd_policy(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                       const bbtoken_args_t *a)
{
    char unused[32], shown[32];
    bbtoken_policy_t p = {a, unused, 0};
    /* Audited: the policy's trigger records any change of its row, and
     * the warnings it forgets go with a change of revoke_unused_after. */
    const bbtoken_tx_t tx = {"changing the policy",
                             "BEGIN",
                             NULL,
                             bbtoken_policy_body,
                             &p,
                             NULL,
                             NULL,
                             1};
    PGresult *res;
    int rc;

    (void)cmd;
    if ((a->max_days &&
         (rc = bbtoken_check_number("--max-expiry-days", a->max_days,
                                    BBT_EXPIRY_DAYS_MAX, 1))) ||
        (a->max_tokens &&
         (rc = bbtoken_check_number("--max-tokens", a->max_tokens,
                                    BBT_POLICY_MAX_TOKENS, 0))) ||
        (a->revoke_unused && (rc = bbtoken_check_unused(
                                  a->revoke_unused, unused, sizeof(unused))))) {
        return rc;
    }
    if ((rc = bbtoken_connect(ctx))) {
        return rc;
    }
    if ((a->required != -1 || a->max_days || a->max_tokens ||
         a->revoke_unused) &&
        (rc = bbtoken_tx(ctx, &tx))) {
        return rc;
    }
    /* Committed: a failure to show it (the read, stdout) leaves it made. */
    if (p.changed) {
        bbtoken_done(ctx, "the policy was changed before it");
    }
    res = bbtoken_exec(ctx, "reading the policy",
                       "SELECT expiry_required, max_expiry_days,"
                       " max_tokens_per_user,"
                       " extract(epoch FROM revoke_unused_after)::bigint"
                       " FROM bbtoken_policy",
                       0, NULL);
    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return bbtoken_fail("the policy row is missing");
    }
    if (a->json) {
        rc = bbtoken_json_out(json_pack(
            "{s:b, s:o, s:o, s:o}", "expiryRequired",
            PQgetvalue(res, 0, 0)[0] == 't', "maxExpiryDays",
            PQgetisnull(res, 0, 1) ? json_null() : bbt_pgjson_int(res, 0, 1),
            "maxTokensPerUser", bbt_pgjson_int(res, 0, 2),
            "revokeUnusedAfterSeconds",
            PQgetisnull(res, 0, 3) ? json_null() : bbt_pgjson_int(res, 0, 3)));
    } else {
        printf("expiry-required: %s\n"
               "max-expiry-days: %s\n"
               "max-tokens: %s\n"
               "revoke-unused-after: %s\n",
               PQgetvalue(res, 0, 0)[0] == 't' ? "yes" : "no",
               bbtoken_get(res, 0, 1, "none"), PQgetvalue(res, 0, 2),
               PQgetisnull(res, 0, 3)
                   ? "none"
                   : bbtoken_secs_text(PQgetvalue(res, 0, 3), shown,
                                       sizeof(shown)));
        rc = 0;
    }
    PQclear(res);
    return rc;
}

/* ---- purge ------------------------------------------------------------ */

/* Ended leak report counts a transaction of purge deletes at most: each
 * batch's locks last a moment, and a run stopped midway keeps the batches
 * it committed. */
#define BBTOKEN_THROTTLE_BATCH 10000

/* What the purge's transactions committed so far deleted (ctx->done):
 * after the last (last), a failure (its second line's write) promises no
 * rest. */
static void bbtoken_purge_done(bbtoken_ctx_t *ctx, long tokens, long counts,
                               int last)
{
    char more[64] = "", what[128];

    if (tokens + counts == 0) {
        return;
    }
    if (counts > 0) {
        snprintf(more, sizeof(more), " and %ld ended leak report count%s",
                 counts, counts == 1 ? "" : "s");
    }
    snprintf(what, sizeof(what), "%ld token%s%s %s purged", tokens,
             tokens == 1 ? "" : "s", more,
             tokens + counts == 1 ? "was" : "were");
    if (last) {
        bbtoken_done(ctx, "%s: none is left to purge", what);
    } else {
        bbtoken_done_rest(ctx, "running the command again purges the rest",
                          "%s before it", what);
    }
}

/* Delete the leak reports' counts whose window has ended (the API's
 * window, BBT_LEAK_WINDOW_SECS), a batch at a time, oldest first through
 * the window_start index; those a report holds are skipped, never waited
 * for (it is counting them anew).  A report clears a few itself
 * (sql/migrations/0055_leak_sweep_bound.sql), too few to catch up with a
 * flood from many addresses, whose rows would otherwise stay.  tokens:
 * how many tokens the purge deleted before, for a failure's message. */
static int bbtoken_purge_throttle(bbtoken_ctx_t *ctx, long tokens, long *total)
{
    char secs[16], batch[16];
    const char *params[2] = {secs, batch};
    long rows;
    int rc;

    snprintf(secs, sizeof(secs), "%d", BBT_LEAK_WINDOW_SECS);
    snprintf(batch, sizeof(batch), "%d", BBTOKEN_THROTTLE_BATCH);
    *total = 0;
    do {
        rc = bbtoken_exec_rows(
            ctx, "purging ended leak report counts",
            "DELETE FROM bbtoken_leak_throttle WHERE ctid = ANY (ARRAY("
            "SELECT ctid FROM bbtoken_leak_throttle"
            " WHERE window_start <= now() - make_interval(secs => $1::integer)"
            " ORDER BY window_start LIMIT $2::integer FOR UPDATE SKIP LOCKED))",
            2, params, &rows);
        if (rc == 0) {
            *total += rows;
            bbtoken_purge_done(ctx, tokens, *total,
                               rows < BBTOKEN_THROTTLE_BATCH);
        }
    } while (rc == 0 && rows == BBTOKEN_THROTTLE_BATCH);
    return rc;
}

int bbtoken_cmd_purge(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                      const bbtoken_args_t *a)
{
    bbtoken_when_t before;
    const char *params[2];
    long rows;
    int rc;

    if (!a->before) {
        return bbtoken_usage_error(cmd->usage,
                                   "purge needs --expired-before WHEN");
    }
    ctx->several = 1;
    /* It reads every token, and its triggers each deleted one's lookup
     * row, notices and copies (db.h). */
    if ((rc = bbtoken_when(a->before, "--expired-before", &before)) ||
        (rc = bbtoken_connect(ctx)) ||
        (rc = bbtoken_analyze(ctx, BBTOKEN_ANALYZE_TOKENS
                              ",bbtoken_notices,bbtoken_notice_copies"))) {
        return rc;
    }
    params[0] = before.abs;
    params[1] = before.ago;
    /* Dead rows only, whatever WHEN says: a revoked token, or one whose
     * expiry is past.  The audit trigger records each deletion.  Locked
     * lowest id first, as every statement taking several tokens
     * (sql/migrations/0024_lock_order.sql): taken in the order of the rows
     * on disk, the expired ones could each be held by a purge and by a
     * revoke --user or the deletion of their owner, waiting for another
     * the other holds. */
    rc = bbtoken_exec_audited(
        ctx, "purging tokens",
        "WITH t(cut) AS (SELECT " BBTOKEN_WHEN_12 "),"
        " d AS (SELECT k.id FROM bbtoken_tokens k, t WHERE"
        " (k.revoked_at IS NOT NULL AND k.revoked_at < t.cut)"
        " OR (k.expires_at <= now() AND k.expires_at < t.cut)"
        " ORDER BY k.id FOR UPDATE OF k)"
        " DELETE FROM bbtoken_tokens WHERE id IN (SELECT id FROM d)",
        2, params, &rows);
    if (rc == 0) {
        printf("purged %ld token%s\n", rows, rows == 1 ? "" : "s");
        bbtoken_purge_done(ctx, rows, 0, 0);
        rc = bbtoken_purge_throttle(ctx, rows, &rows);
    }
    if (rc == 0) {
        printf("purged %ld ended leak report count%s\n", rows,
               rows == 1 ? "" : "s");
    }
    return rc;
}

/* ---- project ---------------------------------------------------------- */

int bbtoken_cmd_project(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                        const bbtoken_args_t *a)
{
    bbtoken_target_t t;
    const char *params[2] = {NULL, NULL};
    PGresult *res;
    long rows;
    int rc, may;

    (void)cmd;
    if (a->repo_admins && strcmp(a->repo_admins, "yes") != 0 &&
        strcmp(a->repo_admins, "no") != 0) {
        return bbtoken_fail("--repo-admins-manage-tokens takes yes or no, "
                            "not %s",
                            bbtoken_repeatable(a->repo_admins));
    }
    if ((rc = bbtoken_parse_target(a->operands[0], &t))) {
        return rc;
    }
    if (t.slug) {
        return bbtoken_fail("project takes a project KEY, not a repository: "
                            "%s",
                            bbtoken_repeatable(a->operands[0]));
    }
    if ((rc = bbtoken_connect(ctx))) {
        return rc;
    }
    params[0] = t.key;
    if (a->repo_admins) {
        params[1] = strcmp(a->repo_admins, "yes") == 0 ? "true" : "false";
        /* The audit trigger records only a real change. */
        rc = bbtoken_exec_audited(
            ctx, "changing the project",
            "INSERT INTO bbtoken_projects (project_key,"
            " repo_admins_manage_tokens) VALUES ($1, $2::boolean)"
            " ON CONFLICT (project_key) DO UPDATE"
            " SET repo_admins_manage_tokens = "
            "EXCLUDED.repo_admins_manage_tokens"
            " WHERE bbtoken_projects.repo_admins_manage_tokens"
            " IS DISTINCT FROM EXCLUDED.repo_admins_manage_tokens",
            2, params, &rows);
        if (rc) {
            return rc;
        }
        if (rows > 0) {
            bbtoken_done(ctx, "the project's setting was changed before it");
        }
    }
    res = bbtoken_exec(ctx, "reading the project",
                       "SELECT COALESCE((SELECT repo_admins_manage_tokens"
                       " FROM bbtoken_projects WHERE project_key = $1), true)",
                       1, params);
    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    may = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (a->json) {
        return bbtoken_json_out(json_pack("{s:s, s:b}", "key", t.key,
                                          "repoAdminsManageTokens", may));
    }
    printf("project %s\nrepo-admins-manage-tokens: %s\n", t.key,
           may ? "yes" : "no");
    return 0;
}
