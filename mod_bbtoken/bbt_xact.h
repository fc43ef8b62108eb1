/*
 * What became of a transaction whose COMMIT's answer the connection lost:
 * the question and its loop, shared by the access-tokens API's writes
 * (bbt_rest_commit.c) and the CLI's (cli/xact.c).  libpq alone, nothing of
 * httpd.
 *
 * PostgreSQL makes a COMMIT durable before it answers it, so a COMMIT
 * whose answer is lost (a failover, a network cut, a backend ended while
 * it waited for a synchronous standby) may have been done all the same.
 * The writer reads its transaction's id and its server's start in the
 * transaction, and after a lost answer connects again and asks
 * (pg_xact_status), in the same statement, whether the rows show this
 * write (the rows' evidence, below): what only it leaves there, or what it
 * answers, which another transaction given its id can show only by making
 * it so.
 *
 * The rows alone are no answer: the old backend may still be alive, its
 * transaction in progress (waiting for a synchronous standby, or for a
 * COMMIT the cut never let through), its rows unseen by any other session
 * until it ends, either way; and a concurrent change may have made or
 * undone what the write did meanwhile.  Nor is the id alone: a backend's
 * crash makes the postmaster end every backend and recover from the WAL
 * without restarting itself (its start time unchanged), and it gives
 * again the ids of transactions whose records never reached the disk, so
 * a write lost so may have its id committed by another transaction.  So
 * "committed" counts only with the rows' evidence, and is otherwise not
 * known.  "Aborted" holds either way: a write whose commit record reached
 * the disk keeps its id, which the crash recovery counts past; one whose
 * record did not was lost with the crash, done by no one, whatever its id
 * became.
 */
#ifndef BBT_XACT_H
#define BBT_XACT_H

#include <stdint.h>

#include <libpq-fe.h>

/* When the server started, as the write and the question after a lost
 * answer both read it.  An id means that transaction only on the server
 * that gave it: a standby promoted after a failover, which may lack the
 * write's last records, gives the same ids to transactions of its own,
 * and so does a server started again after a crash of its own (a power
 * cut, the postmaster killed).  Asked elsewhere, the outcome is not known.
 * A crash of one backend changes nothing here (the postmaster lives on):
 * the rows' evidence, above, is what tells an id given again. */
#define BBT_XACT_SERVER "extract(epoch FROM pg_postmaster_start_time())::text"

/* Appended to the select list of a write's statement: the transaction's
 * id and its server, its last two columns, with no statement of their
 * own.  The write takes an id anyway; pg_current_xact_id, pg_xact_status
 * and pg_postmaster_start_time are PUBLIC's to execute. */
#define BBT_XACT_ID ", pg_current_xact_id(), " BBT_XACT_SERVER

/* The question about transaction $1 (an xid8's text) of server $2: three
 * columns, whether the server is the same, the transaction's status there,
 * and whether the rows show it (shown, a boolean expression that may read
 * the statement's further parameters). */
#define BBT_XACT_ASK(shown)                                                    \
    "SELECT s.same, CASE WHEN s.same THEN pg_xact_status($1::xid8) END,"       \
    " CASE WHEN s.same THEN " shown " END"                                     \
    " FROM (SELECT " BBT_XACT_SERVER " = $2 AS same) s"

/* The rows' evidence of the token writes, each over placeholders given.
 * A transaction given the write's id again (a backend's crash, above) is
 * likeliest the module's last use of a token noted (bbtoken_touch), which
 * writes that token's row: what a row's version is written by is no
 * evidence (its xmin), what it holds is.
 *   made     the new token, whose id is random, exists: only its write
 *            makes it;
 *   rotated  the new token exists and the old one is revoked;
 *   revoked  the token is revoked (whoever revoked it, it is);
 *   changed  the token is live and holds every value the update asked:
 *            its name, its permissions (project, repository) and its
 *            allow-list (networks space-separated, "" for none, made
 *            cidr[] as bbtoken_api_set_nets makes it), each NULL where it
 *            was not asked.  Whoever set them, they are what the update
 *            answers; a transaction with its id that left other values
 *            (the old name with a last use noted) shows nothing. */
#define BBT_XACT_MADE(id)                                                      \
    "EXISTS (SELECT 1 FROM bbtoken_tokens WHERE id = " id ")"
#define BBT_XACT_REVOKED(id)                                                   \
    "EXISTS (SELECT 1 FROM bbtoken_tokens WHERE id = " id                      \
    " AND revoked_at IS NOT NULL)"
#define BBT_XACT_ROTATED(id, old)                                              \
    BBT_XACT_MADE(id) " AND " BBT_XACT_REVOKED(old)
#define BBT_XACT_CHANGED(id, name, project, repo, nets)                        \
    "EXISTS (SELECT 1 FROM bbtoken_tokens WHERE id = " id                      \
    " AND revoked_at IS NULL"                                                  \
    " AND (" name "::text IS NULL OR name = " name ")"                         \
    " AND (" project "::text IS NULL OR project_perm = " project ")"           \
    " AND (" repo "::text IS NULL OR repo_perm = " repo ")"                    \
    " AND (" nets "::text IS NULL OR allowed_nets IS NOT DISTINCT FROM"        \
    " NULLIF(string_to_array(NULLIF(" nets ", ''), ' '), '{}')::cidr[]))"

/* What the question's answers came to. */
typedef enum {
    BBT_XACT_DONE,      /* committed, and the rows show it */
    BBT_XACT_NOT_DONE,  /* aborted */
    BBT_XACT_UNSHOWN,   /* committed, the rows not showing it */
    BBT_XACT_PENDING,   /* still in progress when the wait ended */
    BBT_XACT_ELSEWHERE, /* another server, or this one started again */
    BBT_XACT_FORGOTTEN, /* too old for the server to say */
    BBT_XACT_UNREAD     /* the question failed */
} bbt_xact_t;

/* Run a statement with text parameters on the connection made again; NULL
 * or a failed result when it failed (the caller keeps why). */
typedef PGresult *bbt_xact_exec_fn(void *arg, const char *sql, int n,
                                   const char *const *params);

/* Ask sql (BBT_XACT_ASK's shape, with its n params) through exec until it
 * answers: one in progress (its backend still alive: waiting for a
 * synchronous standby, say, or for the COMMIT a network cut kept from it)
 * is asked about again until wait_us has passed, no other session seeing
 * its change before it ends, and it may still end either way.  One said
 * committed whose rows are unseen is asked once more first: the status is
 * read when pg_xact_status runs, the rows with the statement's snapshot,
 * taken before, so a transaction that ended in between is committed to
 * the one and unseen by the other. */
bbt_xact_t bbt_xact_ask(bbt_xact_exec_fn *exec, void *arg, const char *sql,
                        int n, const char *const *params, int64_t wait_us);

#endif
