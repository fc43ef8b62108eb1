/*
 * notify: tell owners about their tokens by mail, for cron.  Each notice
 * goes out once to each of its recipients (bbtoken_notice_copies records
 * each copy, only after sendmail said yes, and bbtoken_notices the notice
 * once every recipient who can be mailed has one): an expiry 30 days and
 * 7 days ahead and the expiry itself, a revocation or a rotation by an
 * administrator, a revocation as leaked or for not being used, and a
 * warning before an unused token is revoked.  With the policy's
 * revoke_unused_after set it also revokes the unused tokens whose warning
 * is at least BBTOKEN_UNUSED_NOTICE old (notify_unused.c).  One message
 * per owner per run (notify_owner.c), composed by mail.c
 * (notify_message.c).  A project's or a repository's token has no owner:
 * its notices go to the project's admins (a PROJECT_ADMIN grant, or the
 * owner of a personal project) who are active.  A dry run shows what a
 * run would revoke and send, doing it in a transaction that it rolls back
 * (notify_dry.c).  Here: the command's options, and the run.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "mail.h"
#include "notify.h"
#include "tx.h"

#define BBTOKEN_SENDMAIL_DEFAULT "/usr/sbin/sendmail"
/* Seconds a mailer may take a message (--sendmail-timeout): a sendmail
 * that queues it locally is done in well under one. */
#define BBTOKEN_SENDMAIL_TIMEOUT 60
#define BBTOKEN_SENDMAIL_TIMEOUT_MAX 3600

/* The sender: --from, BBTOKEN_MAIL_FROM, or bbtoken@ this host's name. */
static int bbtoken_notify_from(const bbtoken_args_t *a, char *buf, size_t len)
{
    const char *from = a->from ? a->from : getenv("BBTOKEN_MAIL_FROM");
    char host[256];

    if (from && *from) {
        snprintf(buf, len, "%s", from);
    } else {
        if (gethostname(host, sizeof(host)) != 0) {
            snprintf(host, sizeof(host), "localhost");
        }
        host[sizeof(host) - 1] = '\0';
        snprintf(buf, len, "bbtoken@%s", host);
    }
    if (!bbtoken_mail_addr_ok(buf)) {
        return bbtoken_fail("%s: not an address for a From: header (give "
                            "--from ADDRESS): %s",
                            from && *from ? "the sender" : "this host's name",
                            bbtoken_repeatable(buf));
    }
    return 0;
}

/* The run itself, under the lock (unless a dry run). */
static int bbtoken_notify_run(bbtoken_notify_t *n)
{
    const bbtoken_tx_t notes_tx = {"finding the notices due",
                                   "BEGIN ISOLATION LEVEL REPEATABLE READ"
                                   " READ ONLY",
                                   NULL,
                                   bbtoken_notes_body,
                                   n,
                                   NULL,
                                   NULL,
                                   0};
    bbtoken_ctx_t *ctx = n->ctx;
    int rc;

    /* Every statement below reads the whole site, and so do the triggers
     * of a revocation (db.h). */
    if ((rc = bbtoken_analyze(ctx, BBTOKEN_ANALYZE_TOKENS
                              ",bbtoken_notices,bbtoken_notice_copies,"
                              "bbtoken_audit"))) {
        return rc;
    }
    if (n->dry_run) {
        return bbtoken_notify_dry(n);
    }
    if ((rc = bbtoken_notify_revoke(ctx, 0, stdout)) ||
        (rc = bbtoken_tx(ctx, &notes_tx)) || (rc = bbtoken_notify_owners(n)) ||
        (rc = bbtoken_notify_settle(n))) {
        return rc;
    }
    if (n->failed) {
        if (n->first_status < 0 && n->first_errno == ETIMEDOUT) {
            return bbtoken_fail("sendmail %s failed for %d message%s (not "
                                "done within %d seconds: stopped); their "
                                "notices go out on the next run",
                                bbtoken_repeatable(n->sendmail), n->failed,
                                n->failed == 1 ? "" : "s", n->timeout);
        }
        if (n->first_status < 0 && n->first_errno == EPIPE) {
            return bbtoken_fail("sendmail %s failed for %d message%s (it "
                                "exited without reading the whole message); "
                                "their notices go out on the next run",
                                bbtoken_repeatable(n->sendmail), n->failed,
                                n->failed == 1 ? "" : "s");
        }
        if (n->first_status < 0) {
            return bbtoken_fail("sendmail %s could not take %d message%s (%s); "
                                "their notices go out on the next run",
                                bbtoken_repeatable(n->sendmail), n->failed,
                                n->failed == 1 ? "" : "s",
                                strerror(n->first_errno));
        }
        return bbtoken_fail("sendmail %s failed for %d message%s (exit status "
                            "%d); their notices go out on the next run",
                            bbtoken_repeatable(n->sendmail), n->failed,
                            n->failed == 1 ? "" : "s", n->first_status);
    }
    return 0;
}

int bbtoken_cmd_notify(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                       const bbtoken_args_t *a)
{
    bbtoken_notify_t n = {ctx, NULL, NULL, a->dry_run, BBTOKEN_SENDMAIL_TIMEOUT,
                          0,   -1,   0,    stdout};
    char from[300];
    const char *sm = a->sendmail ? a->sendmail : getenv("BBTOKEN_SENDMAIL");
    long secs;
    int rc;

    (void)cmd;
    /* An empty value is no value: the environment's and then the default
     * would take its place, and `--sendmail "$SM"` with SM unset would
     * mail through /usr/sbin/sendmail, not the site's BBTOKEN_SENDMAIL. */
    if (a->sendmail && !*a->sendmail) {
        return bbtoken_fail("--sendmail must not be empty");
    }
    if (a->from && !*a->from) {
        return bbtoken_fail("--from must not be empty");
    }
    if (a->sendmail_timeout) {
        if ((rc =
                 bbtoken_check_number("--sendmail-timeout", a->sendmail_timeout,
                                      BBTOKEN_SENDMAIL_TIMEOUT_MAX, 0))) {
            return rc;
        }
        bbt_input_number(a->sendmail_timeout, 1, BBTOKEN_SENDMAIL_TIMEOUT_MAX,
                         &secs);
        n.timeout = (int)secs;
    }
    n.sendmail = sm && *sm ? sm : BBTOKEN_SENDMAIL_DEFAULT;
    n.from = from;
    /* posix_spawn takes a bare name as relative to the working directory:
     * from cron, or through sudo as root, that would run whatever program
     * of that name the directory holds. */
    if (n.sendmail[0] != '/') {
        return bbtoken_fail("sendmail: not an absolute path: %s (give "
                            "--sendmail /PATH)",
                            bbtoken_repeatable(n.sendmail));
    }
    if ((rc = bbtoken_notify_from(a, from, sizeof(from)))) {
        return rc;
    }
    if (!n.dry_run && access(n.sendmail, X_OK) != 0) {
        return bbtoken_fail("cannot run sendmail %s: %s (give --sendmail "
                            "PATH)",
                            bbtoken_repeatable(n.sendmail), strerror(errno));
    }
    ctx->several = !n.dry_run;
    if ((rc = bbtoken_connect(ctx))) {
        return rc;
    }
    /* Two runs at once would mail the same news twice. */
    if (!n.dry_run && (rc = bbtoken_notify_lock(ctx))) {
        return rc;
    }
    rc = bbtoken_notify_run(&n);
    if (!n.dry_run) {
        bbtoken_notify_unlock(ctx);
    }
    return rc;
}
