/*
 * notify's revocation of unused tokens (notify.h): the tokens idle for
 * the policy's revoke_unused_after, whose owner was warned at least
 * BBTOKEN_UNUSED_NOTICE before, revoked a batch at a time before the
 * notices due are read, so that their revocations are told in the same
 * run.  A dry run revokes them the same way in its own transaction, which
 * it rolls back once it has shown the messages (notify_dry.c).
 */
#include <stdio.h>
#include <string.h>

#include "notify.h"
#include "tx.h"

/* Who a token is for messages: its owner's name, or project:KEY or
 * repo:KEY/slug. */
#define BBTOKEN_HOLDER_NAME                                                    \
    "COALESCE((SELECT o.name FROM bbtoken_users o WHERE o.id = t.user_id),"    \
    " bbtoken_scope_name(t.project_key, t.repo_slug))"

#define BBTOKEN_UNUSED_DUE_FROM BBTOKEN_UNUSED_FROM(BBTOKEN_IDLE)

/* The policy, as the one row it is: bbtoken_policy has one, but no ANALYZE
 * ever runs on it (autovacuum waits for 50 changes), and unanalysed it is
 * planned as some 1,500 rows, each multiplying what the plan expects to
 * read for it (a batch's revocation hashed every notice). */
#define BBTOKEN_POLICY_ROW                                                     \
    " (SELECT (SELECT revoke_unused_after FROM bbtoken_policy)"                \
    " AS revoke_unused_after) p"

/* Unused tokens due for revocation: idle for the policy's time, and warned
 * (in the week before the date the policy gives: BBTOKEN_UNUSED_FROM) at
 * least BBTOKEN_UNUSED_NOTICE ago: told, or a
 * project's token's first admin's copy, so that an admin whose mail keeps
 * failing cannot keep a forgotten token alive (the copies missing are
 * still sent).  One EXISTS over both tables: two ORed would be two probes
 * for every live token.  t is the token, p the policy
 * (BBTOKEN_POLICY_ROW).  " OFFSET 0" keeps the EXISTS a probe by index
 * for each token that passes the rest, neither joined nor hashed: a
 * batch's thousand tokens joined with the warnings read every warning for
 * each batch, or all of those from the lowest id. */
#define BBTOKEN_UNUSED_PROBED                                                  \
    " p.revoke_unused_after IS NOT NULL AND t.revoked_at IS NULL"              \
    " AND (t.expires_at IS NULL OR t.expires_at > now())"                      \
    " AND " BBTOKEN_IDLE " + p.revoke_unused_after <= now()"                   \
    " AND EXISTS (SELECT 1 FROM (SELECT token_id, kind, sent_at"               \
    " FROM bbtoken_notices UNION ALL SELECT token_id, kind, sent_at"           \
    " FROM bbtoken_notice_copies) w WHERE w.token_id = t.id"                   \
    " AND w.kind = 'unused' AND w.sent_at >= " BBTOKEN_UNUSED_DUE_FROM         \
    " AND w.sent_at <= now() - " BBTOKEN_UNUSED_NOTICE " OFFSET 0)"

/* A batch's statements, the last id looked at before it, the last it looks
 * at (empty: none left), and what it revoked (NULL: none was due). */
typedef struct {
    const char *find, *lock, *revoke;
    const char *after;
    char last[64];
    PGresult *res;
} bbtoken_unused_t;

static int bbtoken_unused_body(bbtoken_ctx_t *ctx, void *arg)
{
    static const char what[] = "revoking unused tokens";
    bbtoken_unused_t *u = arg;
    PGresult *res, *locked;
    const char *ids;

    /* A try before this one returned rows that it did not commit. */
    PQclear(u->res);
    u->res = NULL;
    u->last[0] = '\0';
    if (!(res = bbtoken_exec(ctx, what,
                             "SELECT set_config('bbtoken.revoke_reason',"
                             " 'unused', true)",
                             0, NULL))) {
        return BBTOKEN_EXIT_FAIL;
    }
    PQclear(res);
    if (!(res = bbtoken_exec(ctx, what, u->find, 1, &u->after))) {
        return BBTOKEN_EXIT_FAIL;
    }
    snprintf(u->last, sizeof(u->last), "%s", PQgetvalue(res, 0, 1));
    if (PQgetisnull(res, 0, 0)) {
        /* None of these is due, or no token is left. */
        PQclear(res);
        return 0;
    }
    ids = PQgetvalue(res, 0, 0);
    /* Each statement's result is the next one's parameter: the candidates
     * the lock's, the rows it locked the revocation's. */
    locked = bbtoken_exec(ctx, what, u->lock, 1, &ids);
    PQclear(res);
    if (!locked) {
        return BBTOKEN_EXIT_FAIL;
    }
    ids = PQgetvalue(locked, 0, 0);
    u->res = bbtoken_exec(ctx, what, u->revoke, 1, &ids);
    PQclear(locked);
    return u->res ? 0 : BBTOKEN_EXIT_FAIL;
}

static void bbtoken_unused_print(int dry_run, FILE *out, const PGresult *res)
{
    int i;

    for (i = 0; i < PQntuples(res); i++) {
        fprintf(out, "%s %s of %s (\"%s\"): unused since %s\n",
                dry_run ? "would revoke" : "revoked", PQgetvalue(res, i, 0),
                PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                PQgetvalue(res, i, 3));
    }
}

int bbtoken_notify_revoke(bbtoken_ctx_t *ctx, int dry_run, FILE *out)
{
    static const char cols[] =
        " t.id, " BBTOKEN_HOLDER_NAME ", t.name,"
        " to_char(" BBTOKEN_IDLE " AT TIME ZONE 'UTC', " BBTOKEN_ISO ")";
    char find[2048], sql[4096], after[64] = "";
    bbtoken_unused_t u = {find,
                          "SELECT COALESCE(array_agg(k.id), '{}')"
                          " FROM (SELECT t.id FROM bbtoken_tokens t"
                          " WHERE t.id = ANY ($1::text[])"
                          " AND t.revoked_at IS NULL ORDER BY t.id"
                          " FOR UPDATE SKIP LOCKED) k",
                          sql,
                          after,
                          "",
                          NULL};
    const bbtoken_tx_t tx = {"revoking unused tokens",
                             "BEGIN ISOLATION LEVEL READ COMMITTED",
                             NULL,
                             bbtoken_unused_body,
                             &u,
                             NULL,
                             NULL,
                             0};
    PGresult *res;
    int on, ro, rc;

    /* With no revoke_unused_after no token is due, and the batches would
     * still walk every token to find that out (a second on a big site, each
     * run): the rule's first condition, asked once.  A policy set after this
     * is for the next run, as one set after the walk would be. */
    if (!(res = bbtoken_exec(ctx, "reading the policy",
                             "SELECT revoke_unused_after IS NOT NULL,"
                             " current_setting('transaction_read_only')"
                             " FROM bbtoken_policy",
                             0, NULL))) {
        return BBTOKEN_EXIT_FAIL;
    }
    on = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    ro = on && strcmp(PQgetvalue(res, 0, 1), "on") == 0;
    PQclear(res);
    if (!on) {
        return 0;
    }
    /* A dry run revokes too, in the transaction it rolls back, so that its
     * messages tell of those revocations.  A read-only session takes no
     * such statement (a run stops before, at its lock). */
    if (dry_run && ro) {
        return bbtoken_fail("notify --dry-run: this session is read-only (a "
                            "hot standby, or default_transaction_read_only "
                            "on), and with revoke-unused-after set the dry "
                            "run revokes the unused tokens due in a "
                            "transaction it rolls back: run it on the "
                            "primary");
    }
    /* A batch at a time, the lowest ids first (keyset: the next tokens after
     * the last id looked at, those of them due its candidates), each batch its
     * own transaction: a run stopped midway keeps the batches it committed,
     * whose owners are told from the audit trail.  Three statements, so that a
     * token changed meanwhile costs only its own recheck (one statement
     * rechecked the whole rule, the notices with it, for each row changed
     * under it: minutes on a thousand): the candidates are read without a
     * lock; those of their rows that no other transaction holds are locked, by
     * a statement that reads nothing else and returns them; and the revocation
     * of those, whose snapshot is taken after the locks (READ COMMITTED: a
     * snapshot per statement), sees each row as it stays and keeps the ones
     * still due.  A row another transaction holds is skipped, not waited for:
     * most often a use being written (bbtoken_touch), which httpd's lookup
     * role may leave uncommitted for as long as it likes; waiting for it held
     * this run, and notify's lock with it, so every later run stopped at that
     * lock.  A token skipped is reconsidered by the next run.  A batch with no
     * candidates, or whose candidates were all used or skipped, revokes none
     * and the run goes on: only a batch with no token ends it
     * (t/57-notify-stream, t/37-roles-locks).  A batch is the next tokens,
     * each tested, not the next thousand due: their search's bound on the ids
     * never reached the warnings, and each batch read all the warnings before
     * it, or every token after it (quadratic on a big site).  Revoked ones
     * too: the planner's count of the live tokens after an id spreads the
     * revocations it knows of (this run's, all below that id, once autovacuum
     * has analysed them) over every id, and where it counted few it read the
     * whole table, for each of the last batches.  The find returns the
     * candidates (NULL: none) and the batch's last id (NULL: no token left). */
    snprintf(find, sizeof(find),
             "SELECT array_agg(t.id ORDER BY t.id) FILTER (WHERE%s),"
             " max(t.id) FROM (SELECT * FROM bbtoken_tokens WHERE id > $1"
             " ORDER BY id LIMIT " BBTOKEN_WRITE_BATCH
             ") t," BBTOKEN_POLICY_ROW,
             BBTOKEN_UNUSED_PROBED);
    snprintf(sql, sizeof(sql),
             "WITH r AS (UPDATE bbtoken_tokens t SET revoked_at = now()"
             " FROM" BBTOKEN_POLICY_ROW " WHERE t.id = ANY ($1::text[])"
             " AND%s RETURNING%s) SELECT * FROM r ORDER BY 1",
             BBTOKEN_UNUSED_PROBED, cols);
    do {
        /* A dry run's batches are statements of its transaction: each a
         * transaction of its own would commit, and one the database
         * aborted would be run again by bbtoken_tx after the dry run's
         * transaction had been rolled back, outside it.  So a dry run
         * that the database aborts fails, having changed nothing. */
        rc = dry_run ? bbtoken_unused_body(ctx, &u) : bbtoken_tx(ctx, &tx);
        if (rc != 0) {
            /* Done, and then stopped (xact.c): what it revoked is told. */
            if (ctx->stopped && u.res) {
                bbtoken_unused_print(dry_run, out, u.res);
            }
            PQclear(u.res);
            return BBTOKEN_EXIT_FAIL;
        }
        if (u.res) {
            bbtoken_unused_print(dry_run, out, u.res);
            if (!dry_run && PQntuples(u.res) > 0) {
                bbtoken_notify_done(ctx);
            }
        }
        PQclear(u.res);
        u.res = NULL;
        snprintf(after, sizeof(after), "%s", u.last);
    } while (after[0]);
    return 0;
}
