/*
 * What `bbtoken notify`'s parts share: the notices (cmd_notify.c) and
 * the statement that finds them (notify_notes.c), the revocation of unused
 * tokens (notify_unused.c) and the lock that lets one run at a time
 * (notify_lock.c).
 */
#ifndef BBTOKEN_NOTIFY_H
#define BBTOKEN_NOTIFY_H

#include <stdio.h>

#include "db.h"

/* How long before its revocation an unused token's owner is warned, and
 * the least time between the warning and the revocation. */
#define BBTOKEN_UNUSED_NOTICE "interval '7 days'"

/* Live tokens idle since: the last use, or the creation. */
#define BBTOKEN_IDLE "COALESCE(t.last_authenticated, t.created_at)"

/* The earliest an unused token's warning (a notice, or a copy of one) may
 * have been sent and count, for a token idle since idle: the week before
 * the revocation the policy in force now gives.  One sent under a shorter
 * policy since raised (a 30-day one's, under 365 days) promised another
 * date, and does not stand for this one: the owner is warned again.  NULL
 * (none counts) while the policy is off. */
#define BBTOKEN_UNUSED_FROM(idle)                                              \
    "(" idle " + (SELECT revoke_unused_after FROM bbtoken_policy) "            \
    "- " BBTOKEN_UNUSED_NOTICE ")"

/* A copy (alias c) of a notice of this kind counts as sent, unless it is of
 * an unused token idle since idle and sent before its warning could count
 * (BBTOKEN_UNUSED_FROM): the warning of an earlier spell, or of a shorter
 * policy. */
#define BBTOKEN_COPY_COUNTS(kind, idle)                                        \
    "(" kind " <> 'unused' OR c.sent_at >= " BBTOKEN_UNUSED_FROM(idle) ")"
/* ... for a notice named by the statement that records it as told (x, its
 * token t). */
#define BBTOKEN_TOLD_COPY_COUNTS BBTOKEN_COPY_COUNTS("x.kind", BBTOKEN_IDLE)

/* The notices due, one row each (notify_notes.c): by owner, in the order
 * their messages list them, without the copies already sent; and by
 * notice, a notice's recipients in a row.  Their columns: */
extern const char bbtoken_notes_sql[];
extern const char bbtoken_settle_sql[];
enum {
    BBTOKEN_N_KIND,
    BBTOKEN_N_EVENT,
    BBTOKEN_N_ID,
    BBTOKEN_N_NAME,
    BBTOKEN_N_WHEN,
    BBTOKEN_N_NEVER,
    BBTOKEN_N_UNTIL,
    BBTOKEN_N_ADDR,
    BBTOKEN_N_AFTER,
    BBTOKEN_N_UID,
    BBTOKEN_N_USER,
    BBTOKEN_N_DISPLAY,
    BBTOKEN_N_EMAIL,
    BBTOKEN_N_ACTIVE,
    BBTOKEN_N_HOLDER
};

/* What a run's committed transactions did, for the message of a failure
 * after them (ctx->done): each told on stdout as it was done.  Where
 * stdout could not be written, some of those lines may be lost, and
 * which is not known (a line of a message not mailed among them). */
#define BBTOKEN_NOTIFY_REST "the next run does the rest"
#define BBTOKEN_NOTIFY_DONE "the lines above tell what was done before it"
#define BBTOKEN_NOTIFY_UNLISTED                                                \
    "the lines that tell what was done before it were perhaps not all "        \
    "written (" BBTOKEN_NOTIFY_REST ")"

/* ctx->done (and ctx->unlisted) after a transaction of the run's. */
void bbtoken_notify_done(bbtoken_ctx_t *ctx);

/* Revoke the unused tokens that are due, printing a line for each to out
 * (stdout, or the dry run's temporary file).  The reason makes the audit
 * trigger write 'revoked_unused'.  A dry run revokes them in the
 * transaction its caller opened and rolls back, each line saying "would
 * revoke".  0, or an exit status after reporting. */
int bbtoken_notify_revoke(bbtoken_ctx_t *ctx, int dry_run, FILE *out);

/* Take notify's lock for this session, unless another run's session holds
 * it.  0, or an exit status after reporting ("another bbtoken notify is
 * running"). */
int bbtoken_notify_lock(bbtoken_ctx_t *ctx);

/* Give it back (a session that ends gives it back too). */
void bbtoken_notify_unlock(bbtoken_ctx_t *ctx);

#endif
