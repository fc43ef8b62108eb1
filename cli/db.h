/*
 * The CLI's database session (db.c): connecting, the schema version check,
 * the session settings the audit trail reads, running a statement once
 * and reporting its failures, what a command's transactions have done,
 * and the planner's statistics.  Every statement is parameterized: no
 * text from the command line is ever spliced into SQL.  Beside it: tx.h
 * (transactions), xact.h (a COMMIT's answer lost), stream.h (rows a batch
 * at a time), lookup.h, owner.h, mint.h, migrations.h, dbarg.h and
 * dbmask.h, each its .c file's.
 */
#ifndef BBTOKEN_DB_H
#define BBTOKEN_DB_H

#include <libpq-fe.h>

#include "bbt_sqlstate.h"
#include "cli.h"

struct bbtoken_ctx {
    const char *db; /* --db, or NULL: libpq's environment alone */
    PGconn *conn;   /* opened once a command has checked its arguments */
    int any_schema; /* db commands: connect whatever the schema version */
    /* In a try of bbtoken_tx: an abort of the database's (40P01, 40001)
     * is bbtoken_tx's to judge, kept in aborted, not reported. */
    int in_tx;
    char aborted[8]; /* its SQLSTATE, or "" */
    /* A write outside any transaction (bbtoken_exec_rows): bbtoken_exec
     * runs it in one of its own, BEGIN to COMMIT, not as one, so that a
     * connection lost before its COMMIT leaves nothing done, and one lost
     * at it can be asked about (xact.c). */
    int write_alone;
    /* ... and every change it makes writes a record of it to the audit
     * trail (bbtoken_exec_audited): one that wrote none changed nothing. */
    int write_audited;
    /* In a try of bbtoken_tx whose BEGIN was answered: a connection lost
     * before its COMMIT was sent changed nothing. */
    int begun;
    /* db upgrade: a superuser's session gives the tables' owner back what
     * superusers own of the schema (owner.c). */
    int upgrading;
    /* The login is, or may become, a superuser, or reads the server's
     * files; and owner.c's guard has let it through, its search path
     * pinned. */
    int super_session;
    int guarded;
    /* What the command holds in its database session (BBTOKEN_HELD_*
     * bits), which a connection made again does not: after a COMMIT whose
     * answer was lost and which was done, a command holding any stops
     * there (xact.c), and stopped says so: main exits
     * BBTOKEN_EXIT_STOPPED whatever the command returned. */
    unsigned held;
    int stopped;
    /* How many sessions were lost at a COMMIT and made again (xact.c):
     * what one holds (a held cursor) is not in the next. */
    unsigned lost;
    /* A COMMIT of the CLI's is running (db.c's notice receiver), and how
     * many times the server said, since last told, that a commit's wait
     * for a synchronous standby was given up: committed on that server,
     * it may be missing from the standby a failover would promote. */
    int committing;
    unsigned unconfirmed;
    /* The commits so told (bbtoken_committed), and what the first did.
     * They are said once, so that a failure stays one line: at the end of
     * the failure's line (bbtoken_say_tail), or, where the command
     * succeeds, in a line of its own at its end
     * (bbtoken_unconfirmed_said). */
    unsigned unconfirmed_commits;
    char unconfirmed_what[160];
    char tail[192]; /* bbtoken_unconfirmed_tail's text */
    /* The command is one of many transactions (ctx->done's): its end's
     * line counts the commits not confirmed rather than naming one. */
    int several;
    /* What a command of many transactions has done so far that a failure
     * of its next does not undo (bbtoken_done: "1000 tokens of frank were
     * revoked before it (running the command again revokes the rest)"),
     * or "": the failure's message says it, where it would say nothing
     * was changed (bbtoken_changed). */
    char done[512];
    /* The same, where done tells of lines on stdout ("the 1000 tokens
     * listed above") that a write failed to list, as it then reads
     * (bbtoken_done_unlisted), or "": a write that fails says this, one
     * that succeeds makes done true (bbtoken_flush_stdout), but for a
     * pipe's reader, who may have gone before reading them. */
    char unlisted[512];
    /* The lines unlisted tells of were written since it was set (to a
     * pipe, only as far as its buffer). */
    int listed;
    /* The same, where a refusal a run again meets as well ends the
     * command (the owner guard's, for the catalog's state): what was
     * done before it, and that a run again does the rest only once that
     * is put right (bbtoken_done_rest), or "": done then. */
    char refused[512];
    /* The owner guard refused the session (bbtoken_owner_fail): where it
     * is one made again after a lost COMMIT, xact.c says ctx->refused
     * for what came before, as the guard's refusal does. */
    int guard_refused;
    /* db upgrade's hand-back of the schema's objects is under way
     * (owner.c): a session made again to ask what became of its COMMIT
     * reads the catalog alone, its search path pinned, unguarded. */
    int reclaiming;
};

/* ctx->held's bits. */
#define BBTOKEN_HELD_NOTIFY_LOCK 1u /* notify's claim, and its cursors */
#define BBTOKEN_HELD_CURSOR 2u      /* a held stream's cursor */
#define BBTOKEN_HELD_INIT_LOCK 4u   /* db upgrade --init's advisory lock */
#define BBTOKEN_HELD_OWNER 8u       /* db upgrade's role and search path */

/* ISO 8601 in UTC, whatever the session's TimeZone. */
#define BBTOKEN_ISO "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'"

/* The point in time of a bbtoken_when_t's two parameters: $1 and $2
 * (purge), $2 and $3 (audit). */
#define BBTOKEN_WHEN_12                                                        \
    "COALESCE($1::timestamp AT TIME ZONE 'UTC',"                               \
    " now() - make_interval(secs => $2::bigint))"
#define BBTOKEN_WHEN_23                                                        \
    "COALESCE($2::timestamp AT TIME ZONE 'UTC',"                               \
    " now() - make_interval(secs => $3::bigint))"

/* Connect, tell the database who acts, and (unless ctx->any_schema) check
 * the schema version.  0, or an exit status after reporting. */
int bbtoken_connect(bbtoken_ctx_t *ctx);

/* How a commit the synchronous standby did not confirm is told (after
 * "committed on this server, but" where the COMMIT was answered). */
#define BBTOKEN_UNCONFIRMED                                                    \
    "the synchronous standby did not confirm it: a failover may lose it"

/* ... and how many of the command's were not, at the end of a failure's
 * line, or after "done, but" (%u the count, %s "it" or "they"). */
#define BBTOKEN_UNCONFIRMED_OF                                                 \
    "the synchronous standby did not confirm %u of the command's commits: "    \
    "a failover may lose what %s did"

/* A COMMIT sent as what was answered: where the server said meanwhile that
 * its wait for a synchronous standby was given up (a cancel, a
 * statement_timeout), count it (ctx->unconfirmed_commits), to be said
 * once.  The command goes on and its exit status stays: the change is
 * made, and every session of that server sees it. */
void bbtoken_committed(bbtoken_ctx_t *ctx, const char *what);

/* The tail of a failure's line (bbtoken_say_tail, arg the ctx): the
 * commits the standby did not confirm so far, told or not yet
 * (BBTOKEN_UNCONFIRMED_OF), or NULL for none. */
const char *bbtoken_unconfirmed_tail(void *arg);

/* At the end of a command that succeeded: its commits the standby did
 * not confirm, if any, in one line on stderr: "WHAT: committed on this
 * server, but " BBTOKEN_UNCONFIRMED for the one commit of a command of
 * one transaction, else "done, but " BBTOKEN_UNCONFIRMED_OF. */
void bbtoken_unconfirmed_said(bbtoken_ctx_t *ctx);

/* Whatever stdout holds written out: 0 (ctx->done then holds for what it
 * lists), or -1 after saying in one line why (as what, which may be
 * NULL) and what the command's transactions did before it (ctx->unlisted
 * if nothing written since it was set, or if stdout is a closed pipe;
 * else ctx->done). */
int bbtoken_flush_stdout(bbtoken_ctx_t *ctx, const char *what);

/* The database's schema version, or -1 when it has no bbtoken_schema. */
int bbtoken_schema_version(bbtoken_ctx_t *ctx, int *version);

/* Bring the planner's statistics for tables (their names, as the search
 * path finds them, comma-separated) up to date where they are stale:
 * ANALYZE, of those this role owns (another's would only warn).  A command
 * that reads the whole site calls it first.  Statistics taken when a table
 * held none of the rows it holds now (ANALYZE after a mass delete, before
 * VACUUM, then a bulk load before autovacuum came round again) call a
 * table of many pages empty, and the planner joins by loops that read a
 * table whole for each row of another: hours for a few thousand tokens.
 * That state is told from the catalog alone; the rows changed since the
 * last ANALYZE (autovacuum's rule) are told too, but a session reports
 * them up to a second after its commit.  Fresh statistics are left alone:
 * ANALYZE of a big site's tables takes seconds.  A table locked by another
 * (autovacuum) is skipped, not waited for.  On a hot standby, which
 * cannot ANALYZE (its statistics are the primary's), it does nothing.  0,
 * or an exit status after reporting. */
int bbtoken_analyze(bbtoken_ctx_t *ctx, const char *tables);

/* The tables a statement over every token reads, itself or through the
 * triggers of its change (bbtoken_lookup's rows, their levels from the
 * grants): bbtoken_analyze's list for the commands that read the whole
 * site, each adding those it reads besides.  Those that change one
 * holder's tokens (revoke --user, user disable) do without: on such
 * statistics they read a table of a few pages whole for each of the
 * holder's tokens, which stops with those pages, and on a big site whose
 * statistics are merely behind (autovacuum's rule) the ANALYZE would cost
 * them more than it saves (0.6 s at 20,000 tokens). */
#define BBTOKEN_ANALYZE_TOKENS                                                 \
    "bbtoken_tokens,bbtoken_users,bbtoken_project_grants,"                     \
    "bbtoken_repo_grants,bbtoken_lookup"

/* What a failed statement's error means (bbt_sql_classify). */
bbt_sql_class_t bbtoken_classify(const PGresult *res);

/* Report a failed statement (as `what`) and free it; returns
 * BBTOKEN_EXIT_FAIL. */
int bbtoken_db_fail(bbtoken_ctx_t *ctx, PGresult *res, const char *what);

/* Set ctx->done: what the command's transactions committed so far did,
 * as a clause about the transaction that would fail next ("it"); and
 * ctx->unlisted and ctx->refused emptied. */
void bbtoken_done(bbtoken_ctx_t *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* After bbtoken_done, where its clause tells of lines printed on stdout:
 * ctx->unlisted, the same as it is true if they were not all written. */
void bbtoken_done_unlisted(bbtoken_ctx_t *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* bbtoken_done where a run again does the rest (again: "running the
 * command again revokes the rest"): done says it in parentheses, and
 * ctx->refused, for a refusal a run again meets too, after "once that is
 * put right". */
void bbtoken_done_rest(bbtoken_ctx_t *ctx, const char *again, const char *fmt,
                       ...) __attribute__((format(printf, 3, 4)));
#define BBTOKEN_REVOKES_REST "running the command again revokes the rest"

/* What a failure's message says of what is changed: plain while the
 * command has done nothing (ctx->done empty), else lead and ctx->done,
 * in buf (size bytes). */
const char *bbtoken_changed(const bbtoken_ctx_t *ctx, const char *plain,
                            const char *lead, char *buf, size_t size);

/* ... where a transaction changed nothing: "nothing was changed (safe to
 * run again)", or that it changed nothing, but what came before it did. */
#define BBTOKEN_UNCHANGED(ctx, buf)                                            \
    bbtoken_changed((ctx), "nothing was changed (safe to run again)",          \
                    "that transaction changed nothing, but ", (buf),           \
                    sizeof(buf))

/* Run a statement as it is, once: inside a transaction (whose runner
 * judges an abort), or where none is to be expected (the session's
 * settings, and reading the schema's version, which only a migration
 * under its lock writes): those are not run again.  NULL (reported as
 * `what`) unless it succeeded.  db.c. */
PGresult *bbtoken_exec_once(bbtoken_ctx_t *ctx, const char *what,
                            const char *sql, int n, const char *const *params);

/* Run a statement whose result does not matter (ROLLBACK after a
 * failure). */
void bbtoken_exec_quiet(bbtoken_ctx_t *ctx, const char *sql);

/* A value of a result, or `null` when it is SQL NULL. */
const char *bbtoken_get(const PGresult *res, int row, int col,
                        const char *null);

/* Tokens a bulk write's transaction (a revocation's) takes at most: a big
 * site's run holds a batch in memory and in locks, not every token. */
#define BBTOKEN_WRITE_BATCH "1000"

/* How long a statement waits for a lock where the session sets no
 * lock_timeout: a new token's store (mint.h), and the question after a
 * COMMIT whose answer was lost (xact.h). */
#define BBTOKEN_MINT_LOCK_WAIT "30s"

#endif
