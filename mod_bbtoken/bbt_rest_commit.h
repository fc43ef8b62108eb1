/*
 * The COMMIT of the access-tokens API's writes (internal to the bbt_rest_*
 * files): create, rotate, update and revoke.
 *
 * PostgreSQL makes a COMMIT durable before it answers it, so a COMMIT
 * whose answer the connection loses (a failover, a network cut, a backend
 * ended while it waited for a synchronous standby) may have been done all
 * the same.  Answering it as any failure (503, try again) told the caller
 * that a change the database holds was not made, and for a create or a
 * rotation threw away the only copy of the new token's secret.  Instead,
 * each write's statement reads its transaction's id too (BBT_REST_XID),
 * and after a lost answer the connection is made again and PostgreSQL
 * asked what became of that transaction (pg_xact_status), and, in the
 * same statement, whether the rows show this write: committed and shown,
 * the write is answered as done; aborted, it failed (503, BBT200); still
 * in progress, it is asked again for BBTokenDBWait's seconds, and then, as
 * where the database cannot be asked, the answer says that the outcome
 * is not known and names the token (503, BBT282).
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
 * "committed" counts only with what that other could not have left:
 *   create   the new token, whose id is random, exists;
 *   rotate   the new token exists and the old one is revoked;
 *   revoke   the token is revoked (whoever revoked it, it is);
 *   update   the token's row was written by this id (its xmin, the id's
 *            low 32 bits), which an update that sets the allow-list too
 *            wrote last, in the same transaction: a row changed since
 *            (by a later change, a last use noted) shows it no more, and
 *            the answer is "not known".
 * Committed without that, the outcome is not known (BBT282).  "Aborted"
 * holds either way: a write whose commit record reached the disk keeps
 * its id, which the crash recovery counts past; one whose record did not
 * was lost with the crash, done by no one, whatever its id became.
 */
#ifndef BBT_REST_COMMIT_H
#define BBT_REST_COMMIT_H

#include <libpq-fe.h>

#include "bbt_rest_db.h"

/* Which write is committed: what its messages say. */
typedef enum {
    BBT_REST_WRITE_CREATE,
    BBT_REST_WRITE_ROTATE,
    BBT_REST_WRITE_UPDATE,
    BBT_REST_WRITE_REVOKE
} bbt_rest_write_t;

typedef struct {
    bbt_rest_write_t write;
    const char *id;     /* the token made or changed */
    const char *old;    /* rotate: the token rotated */
    const char *xid;    /* the transaction's id (bbt_rest_commit_xid), NULL
                           until its write statement has read it */
    const char *server; /* when the server that gave it started */
} bbt_rest_commit_t;

/* When the server started, as the write and the question after a lost
 * answer both read it.  An id means that transaction only on the server
 * that gave it: a standby promoted after a failover, which may lack the
 * write's last records, gives the same ids to transactions of its own,
 * and so does a server started again after a crash of its own (a power
 * cut, the postmaster killed).  Asked elsewhere, the outcome is not known.
 * A crash of one backend changes nothing here (the postmaster lives on):
 * the rows' evidence, above, is what tells an id given again. */
#define BBT_REST_SERVER "extract(epoch FROM pg_postmaster_start_time())::text"

/* Appended to the select list of a write's function call: the
 * transaction's id and its server, its last two columns, with no
 * statement of their own.  The write takes an id anyway;
 * pg_current_xact_id, pg_xact_status and pg_postmaster_start_time are
 * PUBLIC's to execute. */
#define BBT_REST_XID ", pg_current_xact_id(), " BBT_REST_SERVER

/* c->xid and c->server from res, a write statement's result ending in
 * BBT_REST_XID's columns (copied into x's request pool; left NULL if res
 * has none). */
void bbt_rest_commit_xid(bbt_rest_t *x, bbt_rest_commit_t *c,
                         const PGresult *res);

/* COMMIT x's transaction: 0 when it is done, answered, or said committed
 * on the connection made again with the rows showing the write (BBT281;
 * the caller answers with what it read in the transaction); or -1 and *rc
 * answered: 503 and BBT200 where the database refused it or says it
 * aborted, 503 saying the outcome is not known (BBT282) where the database
 * cannot be asked, says it committed but the rows do not show this write,
 * or its transaction is still in progress after BBTokenDBWait.  Nothing
 * is left to roll back. */
int bbt_rest_commit(bbt_rest_t *x, const bbt_rest_commit_t *c, int *rc);

#endif
