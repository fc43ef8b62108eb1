/*
 * What `bbtoken notify`'s parts share: the notices (cmd_notify.c), the
 * revocation of unused tokens (notify_unused.c) and the lock that lets
 * one run at a time (notify_lock.c).
 */
#ifndef BBTOKEN_NOTIFY_H
#define BBTOKEN_NOTIFY_H

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

/* Revoke the unused tokens that are due (dry run: say which would be),
 * printing a line for each.  The reason makes the audit trigger write
 * 'revoked_unused'.  0, or an exit status after reporting. */
int bbtoken_notify_revoke(bbtoken_ctx_t *ctx, int dry_run);

/* Take notify's lock for this session, unless another run's session holds
 * it.  0, or an exit status after reporting ("another bbtoken notify is
 * running"). */
int bbtoken_notify_lock(bbtoken_ctx_t *ctx);

/* Give it back (a session that ends gives it back too). */
void bbtoken_notify_unlock(bbtoken_ctx_t *ctx);

#endif
