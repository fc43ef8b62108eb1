/*
 * A COMMIT whose answer the connection lost (xact.h): the server may have
 * committed it or not, and the CLI asks it, as the access-tokens API does
 * (bbt_xact.h).  Each transaction reads its id, its server's start and its
 * own just before its COMMIT; after the loss the CLI connects again and
 * asks what became of that id, and whether the rows show this transaction:
 * a token made or rotated (the question its command gives), a migration's
 * version reached, or else its records in the audit trail, which the
 * schema's triggers write with the transaction's start (now()) and the
 * session's source: another transaction given the same id after a crash
 * started later.  A transaction that changed nothing is not asked about,
 * where the server connected to again is the one that ran it: committed
 * or not, it lost nothing there.  One changed nothing that took no id, or
 * whose every change writes a record to the audit trail (bbtoken_tx_t's
 * audited) and that wrote none, though it took an id (a row locked FOR
 * SHARE, one written over with the values it held): a rerun with the same
 * values, which "not done (safe to run again)" asks for, is most often so.
 * On another server (a standby promoted after a failover, which loses a
 * COMMIT's answer too) its rows are not the ones it was judged by: not
 * known.  Committed and shown, it is done.  Either way the command
 * goes on, on the new connection, unless it held state in the session lost
 * (ctx->held: a lock naming that session, a cursor).  Going on without it
 * would let a second notify take over the lock of a session gone and mail
 * the same notices, and list --revoke read a cursor no longer there: such
 * a command stops, saying what it did and that the rest was not done
 * (BBTOKEN_EXIT_STOPPED).  Aborted, nothing was changed; anything else (in
 * progress past the wait, another server, no evidence, no connection), not
 * known.  Whatever the failure, not connected again included, what the
 * command's transactions before it did (ctx->done) is said with it, in its
 * one line; where the owner guard refused the session made again, which a
 * run again meets as well, that such a run does the rest only once that
 * is put right (ctx->refused).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_xact.h"
#include "db.h"
#include "interrupt.h"
#include "tx.h"
#include "xact.h"

/* The transaction's id (none where it wrote nothing), its server, and its
 * start as the audit trail's "at" holds it, in UTC whatever the session's
 * zone and DateStyle; then whether it wrote a record to the audit trail
 * (its own insertions are seen, and the trail's "at" is the transaction's
 * start: another's that started in the same microsecond only makes it
 * ask), where its every change writes one. */
#define BBTOKEN_XACT_READ_SQL(audited)                                         \
    "SELECT pg_current_xact_id_if_assigned(), " BBT_XACT_SERVER ","            \
    " to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), " audited
static const char bbtoken_xact_read_sql[] = BBTOKEN_XACT_READ_SQL("true");
static const char bbtoken_xact_read_audited_sql[] = BBTOKEN_XACT_READ_SQL(
    "EXISTS (SELECT 1 FROM bbtoken_audit WHERE at = now())");

/* The audit trail's evidence: a record this CLI's session wrote with the
 * transaction's start ($3). */
static const char bbtoken_xact_audited_sql[] = BBT_XACT_ASK(
    "EXISTS (SELECT 1 FROM bbtoken_audit WHERE"
    " at = ($3::timestamp AT TIME ZONE 'UTC') AND source = 'cli')");

/* Whether the server connected to is the one that ran the transaction
 * ($1, its BBT_XACT_SERVER then). */
static const char bbtoken_xact_here_sql[] = "SELECT " BBT_XACT_SERVER " = $1";

/* How long a transaction in progress is waited for: the session's
 * lock_timeout, as a token's store waits for another session's lock, or
 * ours where it has none; as it is shown, and in microseconds. */
static const char bbtoken_xact_wait_sql[] =
    "SELECT w, (extract(epoch FROM w::interval) * 1000000)::bigint"
    " FROM (SELECT CASE current_setting('lock_timeout')"
    " WHEN '0' THEN '" BBTOKEN_MINT_LOCK_WAIT "'"
    " ELSE current_setting('lock_timeout') END AS w) s";

int bbtoken_xact_read(bbtoken_ctx_t *ctx, const char *what, int audited,
                      bbtoken_xact_t *x)
{
    PGresult *res = bbtoken_exec_once(ctx, what,
                                      audited ? bbtoken_xact_read_audited_sql
                                              : bbtoken_xact_read_sql,
                                      0, NULL);

    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    snprintf(x->xid, sizeof(x->xid), "%s", bbtoken_get(res, 0, 0, ""));
    snprintf(x->server, sizeof(x->server), "%s", PQgetvalue(res, 0, 1));
    snprintf(x->start, sizeof(x->start), "%s", PQgetvalue(res, 0, 2));
    x->unchanged = !x->xid[0] || PQgetvalue(res, 0, 3)[0] != 't';
    PQclear(res);
    return 0;
}

/* Connect again, as the first session was set up: the guard pins its
 * search path again.  0, or an exit status with why in said (size
 * bytes), unsaid: it is part of the one line that says what became of
 * the transaction (exit 1), which says what the command did before it
 * (ctx->done) once, after: a failure of the session's set-up does not. */
static int bbtoken_xact_reconnect(bbtoken_ctx_t *ctx, char *said, size_t size)
{
    char done[sizeof(ctx->done)], unlisted[sizeof(ctx->unlisted)];
    char refused[sizeof(ctx->refused)], *outer;
    size_t outer_size;
    int rc;

    bbtoken_interrupt_conn(NULL);
    PQfinish(ctx->conn);
    ctx->conn = NULL;
    ctx->guarded = 0;
    ctx->lost++;
    memcpy(done, ctx->done, sizeof(done));
    memcpy(unlisted, ctx->unlisted, sizeof(unlisted));
    memcpy(refused, ctx->refused, sizeof(refused));
    ctx->done[0] = ctx->unlisted[0] = ctx->refused[0] = '\0';
    ctx->guard_refused = 0;
    outer = bbtoken_say_held(&outer_size);
    bbtoken_say_hold(said, size);
    rc = bbtoken_connect(ctx);
    bbtoken_say_resume(outer, outer_size);
    memcpy(ctx->done, done, sizeof(done));
    memcpy(ctx->unlisted, unlisted, sizeof(unlisted));
    memcpy(ctx->refused, refused, sizeof(refused));
    /* Connected: anything said meanwhile is no part of a failure. */
    if (rc == 0 && said[0]) {
        bbtoken_warn("%s", said);
    }
    return rc;
}

/* What the command's transactions before it did, after lead, as
 * bbtoken_changed says it (plain where nothing); but where the owner
 * guard refused the session made again, a run again meets that refusal
 * too until the catalog is put right: ctx->refused then, which says a
 * run again does the rest only after that, where the command has one. */
static const char *bbtoken_xact_before(const bbtoken_ctx_t *ctx,
                                       const char *plain, const char *lead,
                                       char *buf, size_t size)
{
    if (ctx->guard_refused && ctx->refused[0]) {
        snprintf(buf, size, "%s%s", lead, ctx->refused);
        return buf;
    }
    return bbtoken_changed(ctx, plain, lead, buf, size);
}

static PGresult *bbtoken_xact_exec(void *arg, const char *sql, int n,
                                   const char *const *params)
{
    bbtoken_ctx_t *ctx = arg;

    return PQexecParams(ctx->conn, sql, n, NULL, params, NULL, NULL, 0);
}

/* The wait into *us, as shown into shown. */
static void bbtoken_xact_wait(bbtoken_ctx_t *ctx, int64_t *us, char *shown,
                              size_t size)
{
    PGresult *res = PQexec(ctx->conn, bbtoken_xact_wait_sql);

    *us = 30000000;
    snprintf(shown, size, "%s", BBTOKEN_MINT_LOCK_WAIT);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        *us = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        snprintf(shown, size, "%s", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
}

/* Why the database could not say, into why. */
static void bbtoken_xact_why(bbtoken_ctx_t *ctx, bbt_xact_t found,
                             const bbtoken_tx_t *tx, const bbtoken_xact_t *x,
                             const char *wait, char *why, size_t size)
{
    switch (found) {
    case BBT_XACT_UNSHOWN:
        if (tx->ask) {
            snprintf(why, size,
                     "transaction %s committed, but the database does not "
                     "hold %s: its id may have been given again to another "
                     "transaction after a crash lost this one",
                     x->xid, tx->ask->evidence);
        } else {
            snprintf(why, size,
                     "transaction %s committed, but the database does not "
                     "hold its records in the audit trail: a change the "
                     "audit trail does not record, or its id given again to "
                     "another transaction after a crash lost this one",
                     x->xid);
        }
        break;
    case BBT_XACT_PENDING:
        snprintf(why, size,
                 "transaction %s was still in progress after %s "
                 "(lock_timeout)",
                 x->xid, wait);
        break;
    case BBT_XACT_ELSEWHERE:
        snprintf(why, size,
                 "the server connected to is not the one that ran %s%s "
                 "(started at another time: another server, or restarted)",
                 x->xid[0] ? "transaction " : "it", x->xid);
        break;
    case BBT_XACT_FORGOTTEN:
        snprintf(why, size, "transaction %s is too old for the server to say",
                 x->xid);
        break;
    default:
        snprintf(why, size, "its status could not be read: %s",
                 PQerrorMessage(ctx->conn));
        break;
    }
}

/* What ctx->held's bits stand for, in messages. */
static const struct {
    unsigned bit;
    const char *name;
} bbtoken_xact_held[] = {
    {BBTOKEN_HELD_NOTIFY_LOCK, "notify's lock"},
    {BBTOKEN_HELD_CURSOR, "its listing's cursor"},
    {BBTOKEN_HELD_INIT_LOCK, "the lock of db upgrade --init"},
    {BBTOKEN_HELD_OWNER, "the role and search path of db upgrade"},
};

/* Done, but the session held what the new one does not: stop. */
static int bbtoken_xact_stop(bbtoken_ctx_t *ctx)
{
    char held[256] = "";
    size_t i, len = 0;
    int n = 0;

    for (i = 0; i < sizeof(bbtoken_xact_held) / sizeof(bbtoken_xact_held[0]);
         i++) {
        if (ctx->held & bbtoken_xact_held[i].bit && len < sizeof(held)) {
            len +=
                (size_t)snprintf(held + len, sizeof(held) - len, "%s%s",
                                 n++ ? " and " : "", bbtoken_xact_held[i].name);
        }
    }
    ctx->stopped = 1;
    bbtoken_fail("stopped there: the database session that held %s was lost "
                 "with the connection, and a new one does not hold %s: the "
                 "rest was not done (run the command again)",
                 held, n > 1 ? "them" : "it");
    return BBTOKEN_EXIT_STOPPED;
}

/* The transaction changed nothing, judged by the rows of the server that
 * ran it: if the one connected to again is that server, whether it
 * committed or not, the database holds what it would have.  On another
 * (a standby promoted, which may lack the last records of the one lost)
 * or on the same started again, what it holds was not what the
 * transaction was judged by: whether it took effect is not known, as for
 * any write asked about there.  BBT_XACT_DONE where it is the same, else
 * BBT_XACT_ELSEWHERE or BBT_XACT_UNREAD. */
static bbt_xact_t bbtoken_xact_here(bbtoken_ctx_t *ctx, const bbtoken_xact_t *x)
{
    const char *params[1] = {x->server};
    PGresult *res = bbtoken_xact_exec(ctx, bbtoken_xact_here_sql, 1, params);
    bbt_xact_t found = BBT_XACT_UNREAD;

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        found = PQgetvalue(res, 0, 0)[0] == 't' ? BBT_XACT_DONE
                                                : BBT_XACT_ELSEWHERE;
    }
    PQclear(res);
    return found;
}

/* It changed nothing, and its server is the one connected to: the command
 * goes on, on the new connection, as if the answer had come (a rerun's
 * "already", "no such" and the like as usual), unless it held state in
 * the session lost. */
static int bbtoken_xact_unchanged(bbtoken_ctx_t *ctx, const char *what,
                                  const bbtoken_xact_t *x, const char *lost)
{
    bbtoken_warn("%s: the connection was lost at its COMMIT (%s), but %s, so "
                 "nothing was lost: connected again",
                 what, lost,
                 x->xid[0] ? "it had changed nothing (the audit trail "
                             "records each of its changes, and it had "
                             "recorded none)"
                           : "it had written nothing");
    return ctx->held ? bbtoken_xact_stop(ctx) : 0;
}

static int bbtoken_xact_find(bbtoken_ctx_t *ctx, const bbtoken_tx_t *tx,
                             const bbtoken_xact_t *x, const char *lost)
{
    const char *what = tx->commit ? tx->commit : tx->what;
    const char *params[4] = {x->xid, x->server, x->start, NULL};
    char wait[64] = "", why[640], said[512], changed[sizeof(ctx->done) + 64];
    /* The old session's word that its commit's wait for the standby was
     * given up: said with "done", where it holds. */
    const unsigned unconfirmed = ctx->unconfirmed;
    const char *after;
    bbt_xact_t found;
    int64_t us;

    ctx->unconfirmed = 0;
    if (bbtoken_xact_reconnect(ctx, said, sizeof(said)) != 0) {
        if (x->unchanged && ctx->guard_refused && ctx->refused[0]) {
            /* After the refusal, as the guard's own says it: "once that
             * is put right" is the refusal's. */
            return bbtoken_fail(
                "%s: the connection was lost at its COMMIT "
                "(%s), but it had %s; not connected again: "
                "%s; but %s",
                what, lost, x->xid[0] ? "changed nothing" : "written nothing",
                said, ctx->refused);
        }
        if (x->unchanged) {
            /* Nothing lost, but the command cannot go on: what its
             * transactions before this one did stands. */
            return bbtoken_fail(
                "%s: the connection was lost at its COMMIT (%s), but it had "
                "%s: %s; not connected again: %s",
                what, lost, x->xid[0] ? "changed nothing" : "written nothing",
                BBTOKEN_UNCHANGED(ctx, changed), said);
        }
        snprintf(why, sizeof(why), "not connected again: %s", said);
        found = BBT_XACT_UNREAD;
    } else if (x->unchanged) {
        if ((found = bbtoken_xact_here(ctx, x)) == BBT_XACT_DONE) {
            return bbtoken_xact_unchanged(ctx, what, x, lost);
        }
        bbtoken_xact_why(ctx, found, tx, x, wait, why, sizeof(why));
    } else {
        if (tx->ask) {
            params[2] = tx->ask->args[0];
            params[3] = tx->ask->args[1];
        }
        bbtoken_xact_wait(ctx, &us, wait, sizeof(wait));
        found = bbt_xact_ask(bbtoken_xact_exec, ctx,
                             tx->ask ? tx->ask->sql : bbtoken_xact_audited_sql,
                             params[3] ? 4 : 3, params, us);
        if (found != BBT_XACT_DONE && found != BBT_XACT_NOT_DONE) {
            bbtoken_xact_why(ctx, found, tx, x, wait, why, sizeof(why));
        }
    }
    if (found == BBT_XACT_DONE) {
        bbtoken_warn(
            "%s: done, though the connection was lost at its COMMIT "
            "(%s): connected again, the database says its "
            "transaction %s committed, and it holds %s%s",
            tx->ask && tx->ask->done ? tx->ask->done : tx->what, lost, x->xid,
            tx->ask ? tx->ask->evidence : "its records in the audit trail",
            unconfirmed ? "; but " BBTOKEN_UNCONFIRMED : "");
        return ctx->held ? bbtoken_xact_stop(ctx) : 0;
    }
    if (found == BBT_XACT_NOT_DONE) {
        return bbtoken_fail("%s: not done: the connection was lost at its "
                            "COMMIT (%s), and connected again, the database "
                            "says its transaction %s did not commit: %s",
                            what, lost, x->xid,
                            BBTOKEN_UNCHANGED(ctx, changed));
    }
    /* Whatever became of it, what came before it stands. */
    after = bbtoken_xact_before(ctx, "", "; whatever became of it, ", changed,
                                sizeof(changed));
    if (tx->lost) {
        return bbtoken_fail("%s (%s); the database could not say: %s%s",
                            tx->lost, lost, why, after);
    }
    return bbtoken_fail("%s: the connection was lost at its COMMIT (%s), so "
                        "whether it took effect is not known (look before "
                        "running it again); the database could not say: %s%s",
                        tx->what, lost, why, after);
}

/* An interrupt lets the finding out finish, as it lets a COMMIT
 * (interrupt.c): the line it ends with tells what became of it. */
int bbtoken_xact_lost(bbtoken_ctx_t *ctx, const bbtoken_tx_t *tx,
                      const bbtoken_xact_t *x, const char *lost)
{
    int rc;

    bbtoken_interrupt_hold(1);
    rc = bbtoken_xact_find(ctx, tx, x, lost);
    bbtoken_interrupt_hold(0);
    return rc;
}
