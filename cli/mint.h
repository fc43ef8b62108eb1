/*
 * A new token's transaction (mint.c): minted, stored, printed, committed.
 */
#ifndef BBTOKEN_MINT_H
#define BBTOKEN_MINT_H

#include <libpq-fe.h>

#include "bbt_token.h"
#include "cli.h"

/* A new token's transaction (mint.c): what create and rotate each say and
 * store. */
typedef struct {
    const char *what;      /* the statement, in messages */
    const char *commit;    /* the COMMIT, in messages */
    const char *unwritten; /* what an unprinted token leaves, in messages */
    /* A COMMIT whose answer was lost, in messages (the token printed may
     * be valid or not); its id follows. */
    const char *lost;
    /* What the store leaves in the rows, asked about after a COMMIT whose
     * answer was lost: BBT_XACT_ASK's question over the new token's id
     * ($3) and old ($4), NULL where there is none; and what was done,
     * in messages. */
    const char *ask;
    const char *old;
    const char *done;
    /* Store m in the open transaction: the statement's result, rows
     * expected. */
    PGresult *(*store)(bbtoken_ctx_t *ctx, const bbt_minted_t *m, void *arg);
    /* Read and free a stored result: 0 to print and commit, or an exit
     * status after reporting (rolled back). */
    int (*stored)(bbtoken_ctx_t *ctx, PGresult *res, const bbt_minted_t *m,
                  void *arg);
    void *arg;
    /* The rows whose locks store waits for, to name the session holding
     * one when the wait is given up: the token rotated, the owner's id,
     * the project's key and the repository's slug, NULL where store names
     * none (a rotation names the token, whose row says the rest). */
    const char *const *held;
} bbtoken_mint_t;

/* Mint a token, store it, print it on stdout, then commit; the id is
 * drawn again (up to BBT_MINT_TRIES) while it is taken.  store waits at
 * most the session's lock_timeout for a lock, BBTOKEN_MINT_LOCK_WAIT
 * where the session has none, and then fails naming the session that
 * holds it.  0, or an exit status after reporting. */
int bbtoken_mint_commit(bbtoken_ctx_t *ctx, const bbtoken_mint_t *mt);

#endif
