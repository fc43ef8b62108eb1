/*
 * The COMMIT of the access-tokens API's writes (internal to the bbt_rest_*
 * files): create, rotate, update and revoke.
 *
 * A COMMIT whose answer the connection loses may have been done all the
 * same (bbt_xact.h).  Answering it as any failure (503, try again) told
 * the caller that a change the database holds was not made, and for a
 * create or a rotation threw away the only copy of the new token's
 * secret.  Instead, each write's statement reads its transaction's id too
 * (BBT_XACT_ID), and after a lost answer the connection is made again and
 * PostgreSQL asked what became of that transaction and whether the rows
 * show this write (bbt_xact_ask): committed and shown, the write is
 * answered as done; aborted, it failed (503, BBT200); still in progress
 * after BBTokenDBWait's seconds, committed without the rows' evidence, or
 * where the database cannot be asked, the answer says that the outcome is
 * not known and names the token (503, BBT282).  The evidence of each
 * write (bbt_xact.h): a create's new token exists; a rotation's new token
 * exists and the old one is revoked; a revoked token is revoked; an
 * updated token is live and holds every value the update asked (its name,
 * permissions and allow-list: a token changed since to other values, or
 * revoked, shows it no more, and the answer is "not known"; a last use
 * noted since changes none of them).
 */
#ifndef BBT_REST_COMMIT_H
#define BBT_REST_COMMIT_H

#include <libpq-fe.h>

#include "bbt_rest_db.h"
#include "bbt_xact.h"

/* Which write is committed: what its messages say. */
typedef enum {
    BBT_REST_WRITE_CREATE,
    BBT_REST_WRITE_ROTATE,
    BBT_REST_WRITE_UPDATE,
    BBT_REST_WRITE_REVOKE
} bbt_rest_write_t;

typedef struct {
    bbt_rest_write_t write;
    const char *id;           /* the token made or changed */
    const char *old;          /* rotate: the token rotated */
    const char *const *asked; /* update: the name, the project's and the
                                 repository's permission and the allow-list
                                 asked (BBT_XACT_CHANGED), each NULL where
                                 not asked */
    const char *xid;    /* the transaction's id (bbt_rest_commit_xid), NULL
                           until its write statement has read it */
    const char *server; /* when the server that gave it started */
} bbt_rest_commit_t;

/* c->xid and c->server from res, a write statement's result ending in
 * BBT_XACT_ID's columns (copied into x's request pool; left NULL if res
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
