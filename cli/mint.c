/*
 * A new token's transaction, for create and rotate (mint.h): mint it, store
 * it, print it once on stdout, commit (bbtoken_tx); a taken id is drawn
 * again.
 *
 * Storing it waits for locks that other sessions may hold for as long as
 * they like: the place's turn (a row of bbtoken_locks, which the policy's
 * trigger locks inside the API role's functions too, so a session of that
 * role that made or renamed a token there and left its transaction open
 * holds it), the owner's row, the rotated token's.  So the wait is
 * bounded (lock_timeout), and its end names who holds the lock.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "db.h"
#include "interrupt.h"
#include "mint.h"
#include "tx.h"

/* A try's body: the id drawn was taken; not an exit status. */
#define BBTOKEN_MINT_AGAIN (-1)
/* ... or a lock waited for until lock_timeout. */
#define BBTOKEN_MINT_WAITED (-2)

/* The transaction's lock_timeout: the session's, or ours where it has
 * none (an administrator's PGOPTIONS may say another). */
static const char bbtoken_mint_wait_sql[] =
    "SELECT set_config('lock_timeout', CASE current_setting('lock_timeout')"
    " WHEN '0' THEN '" BBTOKEN_MINT_LOCK_WAIT "'"
    " ELSE current_setting('lock_timeout') END, true)";

/* The sessions holding the rows of held (mint.h): a row locked or changed
 * by a transaction not yet ended has that transaction's id as its xmax,
 * and that transaction holds the lock on its own id (one xmax of several
 * lockers, a multixact, names nobody here).  After the wait was given up
 * the waiter is gone from pg_locks, so pg_blocking_pids() would say
 * nothing. */
static const char bbtoken_mint_held_sql[] =
    "WITH t AS (SELECT xmax, user_id, project_key, repo_slug"
    " FROM bbtoken_tokens WHERE id = $1),"
    " p AS (SELECT COALESCE($3, (SELECT project_key FROM t)) AS k,"
    " CASE WHEN $3 IS NULL THEN (SELECT repo_slug FROM t) ELSE $4 END AS s),"
    " r AS (SELECT xmax FROM t"
    " UNION ALL SELECT u.xmax FROM bbtoken_users u"
    " WHERE u.id = COALESCE($2::bigint, (SELECT user_id FROM t))"
    " UNION ALL SELECT l.xmax FROM bbtoken_locks l, p"
    " WHERE l.name = bbtoken_scope_name(p.k, p.s))"
    " SELECT string_agg(DISTINCT k.pid::text, ', ') FROM r"
    " JOIN pg_locks k ON k.locktype = 'transactionid'"
    " AND k.transactionid = r.xmax AND k.mode = 'ExclusiveLock'"
    " AND k.granted AND k.pid <> pg_backend_pid()";

/* A token's transaction, across the tries bbtoken_tx makes of it. */
typedef struct {
    const bbtoken_mint_t *mt;
    bbtoken_tx_t tx;
    bbt_minted_t m;
    int shown; /* m is on stdout */
    char lost[512];
    /* Once m is shown: what tells its commit after a lost answer. */
    bbtoken_tx_ask_t ask;
    char evidence[128];
    char wait[32]; /* the lock_timeout, as the session says it */
} bbtoken_minting_t;

/* Store the token, and print it before bbtoken_tx commits: a token nobody
 * saw must not become valid.  Once printed, a try the database aborted is
 * run again with the same token, not printed again: the abort undid the
 * row, so what the next try stores is what stdout shows. */
static int bbtoken_mint_body(bbtoken_ctx_t *ctx, void *arg)
{
    bbtoken_minting_t *g = arg;
    const bbtoken_mint_t *mt = g->mt;
    char line[BBT_TOKEN_MAX_LEN + 2]; /* the token and a newline */
    PGresult *res;
    size_t len;
    int rc;

    if (!g->shown && bbt_token_mint(&g->m) != 0) {
        return bbtoken_fail("the random number generator failed");
    }
    if (!(res = bbtoken_exec_once(ctx, g->tx.what, bbtoken_mint_wait_sql, 0,
                                  NULL))) {
        return BBTOKEN_EXIT_FAIL;
    }
    snprintf(g->wait, sizeof(g->wait), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    /* store sends its statement itself: interrupted, it is not sent. */
    if (bbtoken_interrupt_stops()) {
        return bbtoken_interrupt_fail(ctx, g->shown ? mt->commit : mt->what);
    }
    res = mt->store(ctx, &g->m, mt->arg);
    if (bbt_sql_lock_given_up(PQresultErrorField(res, PG_DIAG_SQLSTATE))) {
        PQclear(res);
        return BBTOKEN_MINT_WAITED;
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        /* Only a taken id is worth another draw: one a live token holds,
         * or one a purged token used (ids are never reused). */
        if (bbtoken_classify(res) != BBT_SQL_ID_TAKEN) {
            /* On a try after the token was printed, the message must say
             * that what stdout shows is not valid, whatever the reason. */
            return bbtoken_db_fail(ctx, res, g->shown ? mt->commit : mt->what);
        }
        PQclear(res);
        if (g->shown) {
            return bbtoken_fail("%s: its id was taken meanwhile", mt->commit);
        }
        return BBTOKEN_MINT_AGAIN;
    }
    if ((rc = mt->stored(ctx, res, &g->m, mt->arg)) != 0) {
        /* stored said why in its own words; after the token was printed,
         * also that what stdout shows is not valid. */
        if (g->shown) {
            bbtoken_fail("%s", mt->commit);
        }
        return rc;
    }
    if (g->shown) {
        return 0;
    }
    /* Interrupted, it is not committed (tx.c): a token shown would not
     * be valid, so none is. */
    if (bbtoken_interrupt_stops()) {
        return bbtoken_interrupt_fail(ctx, mt->what);
    }
    len = strlen(g->m.token);
    memcpy(line, g->m.token, len);
    line[len] = '\n';
    rc = bbtoken_write_all(STDOUT_FILENO, line, len + 1);
    OPENSSL_cleanse(line, sizeof(line));
    if (rc != 0) {
        return bbtoken_fail("cannot write the token to stdout (%s); %s",
                            strerror(errno), mt->unwritten);
    }
    /* From here on, any failure leaves the token printed invalid; but a
     * COMMIT whose answer is lost may have made it valid. */
    g->shown = 1;
    g->tx.what = mt->commit;
    snprintf(g->lost, sizeof(g->lost), "%s; the token printed is token %s",
             mt->lost, g->m.id);
    g->tx.lost = g->lost;
    if (mt->ask) {
        if (mt->old) {
            snprintf(g->evidence, sizeof(g->evidence),
                     "token %s, and token %s revoked", g->m.id, mt->old);
        } else {
            snprintf(g->evidence, sizeof(g->evidence), "token %s", g->m.id);
        }
        g->ask.sql = mt->ask;
        g->ask.args[0] = g->m.id;
        g->ask.args[1] = mt->old;
        g->ask.evidence = g->evidence;
        g->ask.done = mt->done;
        g->tx.ask = &g->ask;
    }
    return 0;
}

/* The wait for a lock was given up, the transaction rolled back: say
 * so, naming the sessions that hold the rows store locks, where they are
 * found.  An exit status. */
static int bbtoken_mint_waited(bbtoken_ctx_t *ctx, const bbtoken_minting_t *g)
{
    static const char *const none[4] = {NULL, NULL, NULL, NULL};
    const bbtoken_mint_t *mt = g->mt;
    char who[160] = "";
    const char *pids;
    PGresult *res;

    if (bbtoken_interrupt_stops()) {
        return bbtoken_interrupt_fail(ctx, g->shown ? mt->commit : mt->what);
    }
    /* A failure here leaves the message without a pid: no more. */
    res = PQexecParams(ctx->conn, bbtoken_mint_held_sql, 4, NULL,
                       mt->held ? mt->held : none, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
        !PQgetisnull(res, 0, 0)) {
        pids = PQgetvalue(res, 0, 0);
        if (strchr(pids, ',')) {
            snprintf(who, sizeof(who), " (their pids: %s)", pids);
        } else {
            snprintf(who, sizeof(who),
                     " (its pid: %s; SELECT pg_terminate_backend(%s) ends it)",
                     pids, pids);
        }
    }
    PQclear(res);
    return bbtoken_fail(
        "%s: gave up after waiting %s (lock_timeout) for a lock that another "
        "database session holds%s, most likely a transaction left open; %s",
        g->shown ? mt->commit : mt->what, g->wait,
        who[0] ? who : " (pg_stat_activity and pg_locks show it)",
        g->shown ? "nothing was stored" : mt->unwritten);
}

int bbtoken_mint_commit(bbtoken_ctx_t *ctx, const bbtoken_mint_t *mt)
{
    bbtoken_minting_t g;
    int rc = BBTOKEN_MINT_AGAIN, tries;

    memset(&g, 0, sizeof(g));
    g.mt = mt;
    g.tx.commit = mt->commit;
    g.tx.begin = "BEGIN";
    g.tx.body = bbtoken_mint_body;
    g.tx.arg = &g;
    for (tries = 0; tries < BBT_MINT_TRIES && rc == BBTOKEN_MINT_AGAIN;
         tries++) {
        g.tx.what = mt->what;
        rc = bbtoken_tx(ctx, &g.tx);
    }
    bbt_minted_wipe(&g.m);
    if (rc == BBTOKEN_MINT_WAITED) {
        return bbtoken_mint_waited(ctx, &g);
    }
    if (rc == BBTOKEN_MINT_AGAIN) {
        return bbtoken_fail("no free token id after %d tries", BBT_MINT_TRIES);
    }
    return rc;
}
