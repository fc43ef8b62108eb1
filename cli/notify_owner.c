/*
 * Each owner's notices for notify (notify.h), read a group at a time from
 * the cursor by owner: mailed through sendmail.c, their copies then
 * recorded; shown by a dry run; or, for an owner who cannot be mailed,
 * why not.  A message sendmail did not take is counted for the run's end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interrupt.h"
#include "mail.h"
#include "notify.h"
#include "stream.h"

/* 1 if rows a and b of res go in one message: the same owner, or, for a
 * token nobody can be told of, the same holder. */
static int bbtoken_notify_same(const PGresult *res, int a, int b)
{
    if (PQgetisnull(res, a, BBTOKEN_N_UID) ||
        PQgetisnull(res, b, BBTOKEN_N_UID)) {
        return PQgetisnull(res, a, BBTOKEN_N_UID) &&
               PQgetisnull(res, b, BBTOKEN_N_UID) &&
               strcmp(PQgetvalue(res, a, BBTOKEN_N_HOLDER),
                      PQgetvalue(res, b, BBTOKEN_N_HOLDER)) == 0;
    }
    return strcmp(PQgetvalue(res, a, BBTOKEN_N_UID),
                  PQgetvalue(res, b, BBTOKEN_N_UID)) == 0;
}

/* One owner's notices, rows [first, end) of res: mailed, shown (dry
 * run), or, for an owner who cannot be mailed, reported and settled (not
 * in a dry run). */
static int bbtoken_notify_owner(bbtoken_notify_t *n, const PGresult *res,
                                int first, int end)
{
    const char *user = PQgetvalue(res, first, BBTOKEN_N_USER);
    const char *to = bbtoken_get(res, first, BBTOKEN_N_EMAIL, NULL);
    int count = end - first, status, why, rc;
    const char *s = count == 1 ? "" : "s";
    char mailing[640];
    char *msg;
    size_t len;

    if (!bbtoken_notify_mailable(res, first)) {
        if (PQgetisnull(res, first, BBTOKEN_N_UID)) {
            fprintf(n->out,
                    "not mailed: %s has no active project admin (%d "
                    "notice%s)\n",
                    PQgetvalue(res, first, BBTOKEN_N_HOLDER), count, s);
        } else if (PQgetvalue(res, first, BBTOKEN_N_ACTIVE)[0] != 't') {
            fprintf(n->out, "not mailed: %s is disabled (%d notice%s)\n", user,
                    count, s);
        } else if (!to) {
            fprintf(n->out,
                    "not mailed: %s has no e-mail address (%d notice%s)\n",
                    user, count, s);
        } else {
            fprintf(n->out,
                    "not mailed: %s's address cannot go into a mail header: "
                    "%s (%d notice%s)\n",
                    user, to, count, s);
        }
        /* Settled after every owner is tried: bbtoken_notify_settle. */
        return 0;
    }
    if ((rc = bbtoken_notify_message(n->from, res, first, end, &msg, &len))) {
        return rc;
    }
    if (n->dry_run) {
        fprintf(n->out, "would mail %s <%s>: %d notice%s\n", user, to, count,
                s);
        fwrite(msg, 1, len, n->out);
        putc('\n', n->out);
        free(msg);
        return 0;
    }
    /* Interrupted before or while the mailer has it: no further message,
     * and this one not mailed (the mailer stopped, as at its deadline). */
    status = -1;
    if (!bbtoken_interrupt_stops()) {
        fflush(stdout);
        status = bbtoken_sendmail(n->sendmail, n->from, msg, len, n->timeout,
                                  bbtoken_interrupt_stops);
    }
    why = errno;
    free(msg);
    if (status != 0 && bbtoken_interrupt_stops()) {
        snprintf(mailing, sizeof(mailing), "mailing %s <%s>", user, to);
        return bbtoken_interrupt_unsent(n->ctx, mailing,
                                        "that message was not mailed");
    }
    if (status != 0) {
        if (n->failed++ == 0) {
            n->first_status = status;
            n->first_errno = why;
        }
        printf("not mailed: sendmail failed for %s <%s> (%d notice%s kept for "
               "the next run)\n",
               user, to, count, s);
        return 0;
    }
    printf("mailed %s <%s>: %d notice%s\n", user, to, count, s);
    /* Recorded after sendmail took it, not before: a record first would
     * stand for a message a mailer then refused, or that a run killed
     * meanwhile never sent, and its notice would never go out (an unused
     * token's warning, whose revocation follows).  So the record's
     * failure leaves a message mailed that the next run mails again, and
     * its message says so. */
    bbtoken_done(n->ctx,
                 "the message to %s <%s> listed above was mailed before it, "
                 "and without that transaction's record the next run mails "
                 "it again",
                 user, to);
    return bbtoken_notify_copies(n, res, first, end, to);
}

/* Each owner's message, from cursor bbtoken_notes. */
int bbtoken_notify_owners(bbtoken_notify_t *n)
{
    bbtoken_groups_t g;
    int rc = 0, first, end, more;

    bbtoken_groups_init(&g, n->ctx, "finding the notices due", "bbtoken_notes",
                        bbtoken_notify_same);
    while ((more = bbtoken_groups_next(&g, &first, &end)) > 0 &&
           (rc = bbtoken_notify_owner(n, g.res, first, end)) == 0) {
    }
    bbtoken_groups_close(&g);
    return rc ? rc : more < 0 ? BBTOKEN_EXIT_FAIL : 0;
}
