/*
 * notify's revocation of unused tokens (notify.h): the tokens idle for
 * the policy's revoke_unused_after, whose owner was warned at least
 * BBTOKEN_UNUSED_NOTICE before, revoked a batch at a time before the
 * notices due are read, so that their revocations are told in the same
 * run.
 */
#include <stdio.h>

#include "notify.h"

/* Who a token is for messages: its owner's name, or project:KEY or
 * repo:KEY/slug. */
#define BBTOKEN_HOLDER_NAME                                                    \
    "COALESCE((SELECT o.name FROM bbtoken_users o WHERE o.id = t.user_id),"    \
    " bbtoken_scope_name(t.project_key, t.repo_slug))"

/* Unused tokens due for revocation: idle for the policy's time, and warned
 * (after their last use) at least BBTOKEN_UNUSED_NOTICE ago: told, or a
 * project's token's first admin's copy, so that an admin whose mail keeps
 * failing cannot keep a forgotten token alive (the copies missing are
 * still sent).  One EXISTS over both tables, which the planner makes a
 * semi-join: two ORed would be two probes for every live token.  t is the
 * token, p the policy. */
#define BBTOKEN_UNUSED_DUE                                                     \
    " p.revoke_unused_after IS NOT NULL AND t.revoked_at IS NULL"              \
    " AND (t.expires_at IS NULL OR t.expires_at > now())"                      \
    " AND " BBTOKEN_IDLE " + p.revoke_unused_after <= now()"                   \
    " AND EXISTS (SELECT 1 FROM (SELECT token_id, kind, sent_at"               \
    " FROM bbtoken_notices UNION ALL SELECT token_id, kind, sent_at"           \
    " FROM bbtoken_notice_copies) w WHERE w.token_id = t.id"                   \
    " AND w.kind = 'unused' AND w.sent_at >= " BBTOKEN_IDLE                    \
    " AND w.sent_at <= now() - " BBTOKEN_UNUSED_NOTICE ")"

/* A batch's statement, the last id revoked before it, and what it
 * returned. */
typedef struct {
    const char *sql;
    const char *after;
    PGresult *res;
} bbtoken_unused_t;

static int bbtoken_unused_body(bbtoken_ctx_t *ctx, void *arg)
{
    bbtoken_unused_t *u = arg;
    PGresult *res;

    /* A try before this one returned rows that it did not commit. */
    PQclear(u->res);
    u->res = NULL;
    if (!(res = bbtoken_exec(ctx, "revoking unused tokens",
                             "SELECT set_config('bbtoken.revoke_reason',"
                             " 'unused', true)",
                             0, NULL))) {
        return BBTOKEN_EXIT_FAIL;
    }
    PQclear(res);
    u->res = bbtoken_exec(ctx, "revoking unused tokens", u->sql, 1, &u->after);
    return u->res ? 0 : BBTOKEN_EXIT_FAIL;
}

static void bbtoken_unused_print(int dry_run, const PGresult *res)
{
    int i;

    for (i = 0; i < PQntuples(res); i++) {
        printf("%s %s of %s (\"%s\"): unused since %s\n",
               dry_run ? "would revoke" : "revoked", PQgetvalue(res, i, 0),
               PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
               PQgetvalue(res, i, 3));
    }
}

int bbtoken_notify_revoke(bbtoken_ctx_t *ctx, int dry_run)
{
    static const char cols[] =
        " t.id, " BBTOKEN_HOLDER_NAME ", t.name,"
        " to_char(" BBTOKEN_IDLE " AT TIME ZONE 'UTC', " BBTOKEN_ISO ")";
    char sql[4096], after[64] = "";
    bbtoken_unused_t u = {sql, after, NULL};
    const bbtoken_tx_t tx = {"revoking unused tokens", "BEGIN", NULL,
                             bbtoken_unused_body, &u};
    bbtoken_stream_t s;
    int more, rows;

    if (dry_run) {
        snprintf(sql, sizeof(sql),
                 "SELECT%s FROM bbtoken_tokens t, bbtoken_policy p"
                 " WHERE%s ORDER BY t.id",
                 cols, BBTOKEN_UNUSED_DUE);
        if (bbtoken_stream_open(ctx, &s, "finding unused tokens", sql, 0, NULL,
                                0)) {
            return BBTOKEN_EXIT_FAIL;
        }
        while ((more = bbtoken_stream_next(&s)) > 0) {
            bbtoken_unused_print(dry_run, s.res);
        }
        return bbtoken_stream_close(&s, more < 0 ? BBTOKEN_EXIT_FAIL : 0);
    }
    /* A batch at a time, the lowest ids first (keyset: after the last id
     * revoked), each batch its own transaction: a run stopped midway
     * keeps the batches it committed, whose owners are told from the
     * audit trail.  Lowest id first, as every revocation of more than one
     * token (sql/migrations/0024_lock_order.sql): a leak report naming two
     * of them never waits for this one in a circle.  A token that stops
     * being due while the batch waits for its lock (used, or revoked by
     * someone else) is dropped by the lock's recheck before the LIMIT
     * counts it: the batch takes the next one due instead, so only an
     * empty batch ends the revoking (t/57-notify-stream). */
    snprintf(sql, sizeof(sql),
             "WITH r AS (UPDATE bbtoken_tokens t SET revoked_at = now()"
             " FROM bbtoken_policy p WHERE t.id IN (SELECT t.id"
             " FROM bbtoken_tokens t, bbtoken_policy p WHERE%s AND t.id > $1"
             " ORDER BY t.id LIMIT " BBTOKEN_WRITE_BATCH " FOR UPDATE OF t)"
             " AND%s RETURNING%s) SELECT * FROM r ORDER BY 1",
             BBTOKEN_UNUSED_DUE, BBTOKEN_UNUSED_DUE, cols);
    do {
        if (bbtoken_tx(ctx, &tx) != 0) {
            PQclear(u.res);
            return BBTOKEN_EXIT_FAIL;
        }
        bbtoken_unused_print(dry_run, u.res);
        if ((rows = PQntuples(u.res)) > 0) {
            snprintf(after, sizeof(after), "%s",
                     PQgetvalue(u.res, rows - 1, 0));
        }
        PQclear(u.res);
        u.res = NULL;
    } while (rows > 0);
    return 0;
}
