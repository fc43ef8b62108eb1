/*
 * A COMMIT whose answer the connection lost (xact.c): what the
 * transaction was, read before it, and what became of it, asked after.
 */
#ifndef BBTOKEN_XACT_H
#define BBTOKEN_XACT_H

#include "tx.h"

/* A transaction's id ("" where it took none: it wrote nothing), its
 * server's start and its own (now(), UTC), read just before its COMMIT
 * (xact.c); and whether it changed nothing: no id, or, audited, no record
 * of its own in the audit trail. */
typedef struct {
    char xid[32];
    char server[64];
    char start[40];
    int unchanged;
} bbtoken_xact_t;

/* Read x in the open transaction, asking the audit trail where audited
 * (bbtoken_tx_t's).  0, or an exit status after reporting (as what). */
int bbtoken_xact_read(bbtoken_ctx_t *ctx, const char *what, int audited,
                      bbtoken_xact_t *x);

/* The connection was lost at tx's COMMIT, which x was read for (lost:
 * libpq's message): connect again (ctx->conn is then the new connection)
 * and, unless x says it changed nothing and the server is the one that
 * ran it, ask what became of it, for at most the session's lock_timeout
 * (BBTOKEN_MINT_LOCK_WAIT where it has none) while it is in progress.  0
 * when it changed nothing there, or committed and the rows show it (with
 * ctx->unconfirmed's word), said on stderr, unless ctx->held: then
 * BBTOKEN_EXIT_STOPPED, ctx->stopped set, after saying that the rest was
 * not done; or an exit status after saying that it was not done
 * (aborted: nothing changed) or that whether it took effect is not
 * known. */
int bbtoken_xact_lost(bbtoken_ctx_t *ctx, const bbtoken_tx_t *tx,
                      const bbtoken_xact_t *x, const char *lost);

#endif
