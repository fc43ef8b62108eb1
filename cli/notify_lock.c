/*
 * notify's lock (notify.h): one run at a time, since two would mail the
 * same news twice.
 *
 * A run spans many transactions (each batch of unused tokens revoked, the
 * notices found, each message's copies recorded), and a row lock lasts
 * one.  A session's advisory lock lasts the run, but any role that may
 * connect may take any advisory lock, and the key is known: the lookup
 * role, whose password every repository host holds, held it and every run
 * stopped at once.  So a run claims bbtoken_locks' row 'notify', which no
 * role but the tables' owner may read, lock or write (migration 54), for
 * its database session: the row names the session holding it (its pid,
 * login role and start), and a claim succeeds only when that session is
 * gone.  The claim is a transaction of its own that first locks the row,
 * so that two claims at once take turns, and only then reads
 * pg_stat_activity (the transaction's first read of it, which PostgreSQL
 * then keeps for the transaction): a run that claimed the row and
 * committed meanwhile is seen alive.  A session's start is shown only to
 * a member of its login role (or of pg_read_all_stats); without it the
 * pid and the role decide, and a session of the same login that took the
 * pid of a run gone looks like that run until it ends: notify says so,
 * naming the pid, and does nothing, as for a run.  No transaction stays
 * open for the run (an open one would hold back VACUUM everywhere, and
 * idle_in_transaction_session_timeout would end it).  The run gives the
 * row back at its end; a run killed leaves it naming a session that is
 * gone, which the next run's claim takes over, as the advisory lock went
 * with its session.
 */
#include <stdio.h>

#include "notify.h"
#include "tx.h"

typedef struct {
    int taken;
    char holder[16]; /* not taken: the pid of the session holding it */
} bbtoken_notify_claim_t;

static int bbtoken_notify_claim(bbtoken_ctx_t *ctx, void *arg)
{
    static const char what[] = "taking the notify lock";
    bbtoken_notify_claim_t *c = arg;
    PGresult *res;

    c->taken = 0;
    c->holder[0] = '\0';
    /* The row locked (made again, should someone have deleted it). */
    if (!(res = bbtoken_exec(ctx, what,
                             "INSERT INTO bbtoken_locks (name)"
                             " VALUES ('notify') ON CONFLICT (name)"
                             " DO UPDATE SET name = EXCLUDED.name",
                             0, NULL))) {
        return BBTOKEN_EXIT_FAIL;
    }
    PQclear(res);
    /* Then taken unless the session it names is alive (another than
     * this one, with the same login role and, where it can be told, the
     * same start).  The outer SELECT reads the row as it was before. */
    if (!(res = bbtoken_exec(
              ctx, what,
              "WITH c AS (UPDATE bbtoken_locks l SET holder_pid = s.pid,"
              " holder_role = s.usesysid, holder_start = s.backend_start"
              " FROM pg_stat_activity s"
              " WHERE l.name = 'notify' AND s.pid = pg_backend_pid()"
              " AND NOT EXISTS (SELECT FROM pg_stat_activity h"
              " WHERE h.pid = l.holder_pid AND h.pid <> pg_backend_pid()"
              " AND h.usesysid = l.holder_role"
              " AND (h.backend_start = l.holder_start) IS NOT FALSE)"
              " RETURNING 1)"
              " SELECT EXISTS (SELECT FROM c), holder_pid FROM bbtoken_locks"
              " WHERE name = 'notify'",
              0, NULL))) {
        return BBTOKEN_EXIT_FAIL;
    }
    c->taken = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    if (!c->taken && PQntuples(res) == 1) {
        snprintf(c->holder, sizeof(c->holder), "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    /* Committed either way: the row claimed, or as it was. */
    return 0;
}

int bbtoken_notify_lock(bbtoken_ctx_t *ctx)
{
    bbtoken_notify_claim_t c;
    const bbtoken_tx_t tx = {"taking the notify lock",
                             "BEGIN ISOLATION LEVEL READ COMMITTED",
                             NULL,
                             bbtoken_notify_claim,
                             &c,
                             NULL,
                             NULL,
                             0};
    int rc;

    if ((rc = bbtoken_tx(ctx, &tx))) {
        return rc;
    }
    if (!c.taken) {
        return bbtoken_fail("another bbtoken notify is running (its "
                            "database session's pid: %s)",
                            c.holder[0] ? c.holder : "unknown");
    }
    /* The claim names this session: the run may not go on in another. */
    ctx->held |= BBTOKEN_HELD_NOTIFY_LOCK;
    return 0;
}

void bbtoken_notify_unlock(bbtoken_ctx_t *ctx)
{
    if (PQtransactionStatus(ctx->conn) != PQTRANS_IDLE) {
        bbtoken_exec_quiet(ctx, "ROLLBACK");
    }
    bbtoken_exec_quiet(ctx, "UPDATE bbtoken_locks SET holder_pid = NULL,"
                            " holder_role = NULL, holder_start = NULL"
                            " WHERE name = 'notify'"
                            " AND holder_pid = pg_backend_pid()");
    /* Its commit not confirmed by the standby is not said: after a
     * failover the claim names a session gone, which the next run takes
     * over; and after a failure, whose line is said, it would be a line
     * more. */
    ctx->unconfirmed = 0;
    ctx->held &= ~BBTOKEN_HELD_NOTIFY_LOCK;
}
