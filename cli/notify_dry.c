/*
 * notify --dry-run (notify.h): what a run would revoke and send, done in
 * a transaction that it rolls back, its lines kept in a temporary file
 * and shown on stdout only after the transaction is over.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "notify.h"
#include "stream.h"
#include "tx.h"

/* The dry run's lines, from its temporary file, on stdout, once its
 * transaction is over.  0, or an exit status after reporting: only when
 * report is set (the dry run did not fail already); the lines are copied
 * either way, those of a dry run that failed as far as it got. */
static int bbtoken_notify_show(bbtoken_notify_t *n, int report)
{
    char buf[8192];
    size_t got;
    int e = 0;

    /* The reason only when this call found it, as bbtoken_stdout_written. */
    errno = 0;
    if (fflush(n->out) != 0 || ferror(n->out) ||
        fseek(n->out, 0, SEEK_SET) != 0) {
        e = errno;
        return report ? bbtoken_fail("notify --dry-run: cannot write its "
                                     "temporary file%s%s",
                                     e ? ": " : "", e ? strerror(e) : "")
                      : 0;
    }
    while ((got = fread(buf, 1, sizeof(buf), n->out)) > 0) {
        if (fwrite(buf, 1, got, stdout) != got) {
            e = errno;
            break;
        }
    }
    if (!report) {
        return 0;
    }
    if (!e && ferror(n->out)) {
        return bbtoken_fail("notify --dry-run: cannot read its temporary "
                            "file: %s",
                            strerror(errno));
    }
    /* As bbtoken_flush_stdout says it (a dry run changed nothing), with
     * the reason said here: stdio writes a chunk this big past its buffer,
     * so the flush would find nothing left to write, and no reason. */
    if (e) {
        return bbtoken_fail("cannot write to stdout: %s", strerror(e));
    }
    return bbtoken_flush_stdout(n->ctx, NULL) != 0 ? BBTOKEN_EXIT_FAIL : 0;
}

/* The dry run does what the run does, so that the messages it shows are
 * the ones the run would send, the revocations it would make told in them,
 * but in one transaction that it rolls back at its end: the unused tokens
 * due revoked (their audit records written, httpd's caches' NOTIFY queued,
 * which PostgreSQL sends only at a COMMIT), then the notices read through
 * a cursor of that transaction, each owner's message shown; nothing is
 * mailed, recorded or settled, and notify's lock is not taken, so a dry
 * run never stops a run.  Until it ends it holds the rows of the tokens it
 * revoked: a run meanwhile skips them, as any row another session holds,
 * and revokes them the next time, and a revocation of one of them, or a
 * change of its owner, waits.  So its lines go to a temporary file while
 * the transaction is open, and to stdout only after it: a stdout that
 * nobody reads (`notify --dry-run | less`, the pager left open) would
 * otherwise hold the transaction, and those rows, for as long.  A file,
 * not memory: a big site's messages (tens of thousands) would make the
 * CLI's memory grow with them (t/57-notify-stream). */
int bbtoken_notify_dry(bbtoken_notify_t *n)
{
    PGresult *res;
    int rc, shown;

    if (!(n->out = tmpfile())) {
        n->out = stdout;
        return bbtoken_fail("notify --dry-run: cannot make a temporary file "
                            "for its output: %s",
                            strerror(errno));
    }
    if (!(res =
              bbtoken_exec(n->ctx, "starting the dry run",
                           "BEGIN ISOLATION LEVEL READ COMMITTED", 0, NULL))) {
        rc = BBTOKEN_EXIT_FAIL;
    } else {
        PQclear(res);
        if ((rc = bbtoken_notify_revoke(n->ctx, 1, n->out)) == 0 &&
            (rc = bbtoken_stream_scroll(n->ctx, "finding the notices due",
                                        "bbtoken_notes", bbtoken_notes_sql)) ==
                0) {
            rc = bbtoken_notify_owners(n);
        }
        bbtoken_exec_quiet(n->ctx, "ROLLBACK");
    }
    /* A ROLLBACK that did not end the transaction (the connection broken,
     * which the server may not have noticed yet): the session is ended,
     * with it the transaction, before stdout is written. */
    if (PQtransactionStatus(n->ctx->conn) != PQTRANS_IDLE) {
        PQfinish(n->ctx->conn);
        n->ctx->conn = NULL;
    }
    shown = bbtoken_notify_show(n, rc == 0);
    fclose(n->out);
    n->out = stdout;
    return rc ? rc : shown;
}
