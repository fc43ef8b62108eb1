/*
 * What `bbtoken notify`'s parts share: the run (cmd_notify.c), the
 * notices due (notify_notes.c: the statement that finds them, its cursors
 * and what a row says), each owner's notices mailed or shown
 * (notify_owner.c) in a message composed from their rows
 * (notify_message.c), what the run records (notify_record.c: each copy
 * mailed, each notice told), the dry run (notify_dry.c), the revocation
 * of unused tokens (notify_unused.c) and the lock that lets one run at a
 * time (notify_lock.c).
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
 * their messages list them, without the copies already sent (this
 * statement, which the dry run reads too); and by notice, a notice's
 * recipients in a row (cursor bbtoken_settle).  Their columns: */
extern const char bbtoken_notes_sql[];
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
static inline void bbtoken_notify_done(bbtoken_ctx_t *ctx)
{
    bbtoken_done_rest(ctx, BBTOKEN_NOTIFY_REST, "%s", BBTOKEN_NOTIFY_DONE);
    bbtoken_done_unlisted(ctx, "%s", BBTOKEN_NOTIFY_UNLISTED);
}

/* A run: its mailer, its sender, and how its messages fared. */
typedef struct {
    bbtoken_ctx_t *ctx;
    const char *sendmail;
    const char *from;
    int dry_run;
    int timeout;      /* --sendmail-timeout */
    int failed;       /* messages sendmail did not take */
    int first_status; /* the first failure's exit status, or -1 */
    int first_errno;  /* ... or why it could not run */
    FILE *out;        /* the lines: stdout, or the dry run's file */
} bbtoken_notify_t;

/* Declare the run's two cursors over the notices due (bbtoken_notes_sql
 * and bbtoken_settle_sql, held past their transaction): a bbtoken_tx_t's
 * body (notify_notes.c). */
int bbtoken_notes_body(bbtoken_ctx_t *ctx, void *arg);

/* 1 if row's owner can be mailed: active, with an address fit for a
 * header (notify_notes.c). */
int bbtoken_notify_mailable(const PGresult *res, int row);

/* One owner's message from rows [first, end) of the notices due, sent
 * from from: malloc'd into *msg, its length in *len (notify_message.c).
 * 0, or an exit status after reporting. */
int bbtoken_notify_message(const char *from, const PGresult *res, int first,
                           int end, char **msg, size_t *len);

/* Each owner's message, from cursor bbtoken_notes (notify_owner.c). */
int bbtoken_notify_owners(bbtoken_notify_t *n);

/* Record the copies of rows [first, end) of res mailed to address to
 * (notify_record.c).  0, or an exit status after reporting. */
int bbtoken_notify_copies(bbtoken_notify_t *n, const PGresult *res, int first,
                          int end, const char *to);

/* Tell the notices whose recipients have their copies, from cursor
 * bbtoken_settle (notify_record.c).  0, or an exit status after
 * reporting. */
int bbtoken_notify_settle(bbtoken_notify_t *n);

/* The dry run (notify_dry.c): the run in a transaction rolled back, its
 * lines on stdout after it.  0, or an exit status after reporting. */
int bbtoken_notify_dry(bbtoken_notify_t *n);

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
