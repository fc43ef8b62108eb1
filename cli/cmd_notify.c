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
 * per owner per run, composed by mail.c.  A project's or a repository's
 * token has no owner: its notices go to the project's admins (a
 * PROJECT_ADMIN grant, or the owner of a personal project) who are active.
 * A dry run shows what a run would revoke and send, doing it in a
 * transaction that it rolls back (bbtoken_notify_dry).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "interrupt.h"
#include "mail.h"
#include "notify.h"

#define BBTOKEN_SENDMAIL_DEFAULT "/usr/sbin/sendmail"
/* Seconds a mailer may take a message (--sendmail-timeout): a sendmail
 * that queues it locally is done in well under one. */
#define BBTOKEN_SENDMAIL_TIMEOUT 60
#define BBTOKEN_SENDMAIL_TIMEOUT_MAX 3600

void bbtoken_notify_done(bbtoken_ctx_t *ctx)
{
    bbtoken_done_rest(ctx, BBTOKEN_NOTIFY_REST, "%s", BBTOKEN_NOTIFY_DONE);
    bbtoken_done_unlisted(ctx, "%s", BBTOKEN_NOTIFY_UNLISTED);
}

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

static bbtoken_note_kind_t bbtoken_note_kind(const PGresult *res, int row)
{
    const char *kind = PQgetvalue(res, row, BBTOKEN_N_KIND);
    const char *event = PQgetvalue(res, row, BBTOKEN_N_EVENT);

    if (strcmp(kind, "revoked") == 0) {
        return strcmp(event, "revoked_leaked") == 0
                   ? BBTOKEN_NOTE_REVOKED_LEAKED
               : strcmp(event, "revoked_unused") == 0
                   ? BBTOKEN_NOTE_REVOKED_UNUSED
               : strcmp(event, "rotated") == 0 ? BBTOKEN_NOTE_ROTATED_ADMIN
                                               : BBTOKEN_NOTE_REVOKED_ADMIN;
    }
    return strcmp(kind, "expired") == 0       ? BBTOKEN_NOTE_EXPIRED
           : strcmp(kind, "expires_7d") == 0  ? BBTOKEN_NOTE_EXPIRES_7D
           : strcmp(kind, "expires_30d") == 0 ? BBTOKEN_NOTE_EXPIRES_30D
                                              : BBTOKEN_NOTE_UNUSED;
}

/* 1 if row's owner can be mailed: active, with an address fit for a
 * header. */
static int bbtoken_notify_mailable(const PGresult *res, int row)
{
    return PQgetvalue(res, row, BBTOKEN_N_ACTIVE)[0] == 't' &&
           bbtoken_mail_addr_ok(bbtoken_get(res, row, BBTOKEN_N_EMAIL, NULL));
}

/* Notices (or their copies) to record, as three array literals of count
 * elements so far: their ids, their kinds and their recipients' user ids
 * (NULL: none).  Ids are 12 digits, kinds fixed words (the schema's
 * CHECKs) and user ids numbers, so they need no quoting, and
 * BBTOKEN_ELEM bytes an element is room for any. */
#define BBTOKEN_ELEM 24
typedef struct {
    char *ids, *kinds, *uids;
    size_t cap, li, lk, lu;
    int count;
} bbtoken_notices_t;

/* Room for more elements.  0, or an exit status after reporting. */
static int bbtoken_notices_room(bbtoken_notices_t *b, int more)
{
    size_t need = ((size_t)b->count + (size_t)more) * BBTOKEN_ELEM + 3;
    char **buf[3] = {&b->ids, &b->kinds, &b->uids};
    char *p;
    int i;

    if (need <= b->cap) {
        return 0;
    }
    need *= 2;
    for (i = 0; i < 3; i++) {
        if (!(p = realloc(*buf[i], need))) {
            return bbtoken_fail("out of memory");
        }
        *buf[i] = p;
    }
    b->cap = need;
    return 0;
}

/* Room for max elements.  0, or an exit status after reporting. */
static int bbtoken_notices_init(bbtoken_notices_t *b, int max)
{
    memset(b, 0, sizeof(*b));
    return bbtoken_notices_room(b, max);
}

/* Add row's notice, to the recipient uid ("NULL": none). */
static void bbtoken_notices_add(bbtoken_notices_t *b, const PGresult *res,
                                int row, const char *uid)
{
    char sep = b->count++ ? ',' : '{';

    b->li += (size_t)snprintf(b->ids + b->li, b->cap - b->li, "%c%s", sep,
                              PQgetvalue(res, row, BBTOKEN_N_ID));
    b->lk += (size_t)snprintf(b->kinds + b->lk, b->cap - b->lk, "%c%s", sep,
                              PQgetvalue(res, row, BBTOKEN_N_KIND));
    b->lu +=
        (size_t)snprintf(b->uids + b->lu, b->cap - b->lu, "%c%s", sep, uid);
}

/* Run sql over the array literals (its $1 to $3) and, unless NULL, p4,
 * and empty b.  0, or an exit status after reporting. */
static int bbtoken_notices_exec(bbtoken_notify_t *n, bbtoken_notices_t *b,
                                const char *sql, const char *p4)
{
    const char *params[4] = {b->ids, b->kinds, b->uids, p4};
    long rows;

    snprintf(b->ids + b->li, b->cap - b->li, "%s", b->count ? "}" : "{}");
    snprintf(b->kinds + b->lk, b->cap - b->lk, "%s", b->count ? "}" : "{}");
    snprintf(b->uids + b->lu, b->cap - b->lu, "%s", b->count ? "}" : "{}");
    b->count = 0;
    b->li = b->lk = b->lu = 0;
    return bbtoken_exec_rows(n->ctx, "recording the notices", sql, p4 ? 4 : 3,
                             params, &rows);
}

/* Record the copies mailed to address to.  Tokens purged and a recipient
 * deleted meanwhile are left out, not refused by the copies' foreign keys,
 * which would end the run for every owner after this one: each row is
 * taken FOR KEY SHARE, as the foreign keys' checks then find it.  A row
 * another transaction holds FOR UPDATE (a deletion in flight, or a
 * revocation as leaked or a rotation of the token, which the API role may
 * leave uncommitted for good) is skipped, not waited for: a wait held the
 * run, and notify's lock, as long as that transaction lasted.  Its copy
 * goes out again on the next run.  One recipient a call, so the user's
 * row is taken before any token's, the schema's order (a deletion of the
 * user takes it, then its tokens).  A copy of an earlier idle spell's
 * warning is written over. */
static int bbtoken_copies_record(bbtoken_notify_t *n, bbtoken_notices_t *b,
                                 const char *to)
{
    return bbtoken_notices_exec(
        n, b,
        "INSERT INTO bbtoken_notice_copies (token_id, kind, user_id,"
        " mailed_to) SELECT x.id, x.kind, x.uid, $4::text"
        " FROM unnest($1::text[], $2::text[], $3::bigint[]) AS x(id, kind, uid)"
        " JOIN bbtoken_users u ON u.id = x.uid"
        " JOIN bbtoken_tokens t ON t.id = x.id"
        " FOR KEY SHARE OF u, t SKIP LOCKED"
        " ON CONFLICT (token_id, kind, user_id) DO UPDATE"
        " SET sent_at = now(), mailed_to = EXCLUDED.mailed_to",
        to);
}

/* Record as told each notice whose listed recipients all have their copy
 * (one listed as NULL needs none: nobody could be mailed), with every
 * address it went to and the time of the first copy (an unused token's
 * week before its revocation runs from there: notify_unused.c), and
 * delete its copies.  Tokens purged meanwhile are left out, and so is a
 * token whose row another transaction holds FOR UPDATE (as for the
 * copies), not waited for: the next run tells its notice, mailing nobody
 * again. */
static int bbtoken_notices_told(bbtoken_notify_t *n, bbtoken_notices_t *b)
{
    int rc = bbtoken_notices_exec(
        n, b,
        "WITH x AS (SELECT x.id, x.kind, x.uid, c.user_id AS copied,"
        " c.sent_at, c.mailed_to FROM unnest($1::text[], $2::text[],"
        " $3::bigint[]) AS x(id, kind, uid)"
        " JOIN bbtoken_tokens t ON t.id = x.id"
        " LEFT JOIN bbtoken_notice_copies c ON c.token_id = x.id"
        " AND c.kind = x.kind AND c.user_id = x.uid"
        " AND " BBTOKEN_TOLD_COPY_COUNTS " FOR KEY SHARE OF t SKIP LOCKED),"
        " told AS (INSERT INTO bbtoken_notices (token_id, kind, sent_at,"
        " mailed_to) SELECT id, kind, COALESCE(min(sent_at), now()),"
        " string_agg(mailed_to, ', ' ORDER BY sent_at, mailed_to)"
        " FROM x GROUP BY id, kind"
        " HAVING bool_and(uid IS NULL OR copied IS NOT NULL)"
        " ON CONFLICT (token_id, kind) DO UPDATE"
        " SET sent_at = EXCLUDED.sent_at, mailed_to = EXCLUDED.mailed_to"
        " RETURNING token_id, kind)"
        " DELETE FROM bbtoken_notice_copies c USING told"
        " WHERE c.token_id = told.token_id AND c.kind = told.kind",
        NULL);

    if (rc == 0) {
        bbtoken_notify_done(n->ctx);
    }
    return rc;
}

static void bbtoken_notices_free(bbtoken_notices_t *b)
{
    free(b->ids);
    free(b->kinds);
    free(b->uids);
}

/* Notices a statement tells (a notice's copies go in one). */
#define BBTOKEN_SETTLE_BATCH 1000

/* 1 if rows a and b of res are one notice (to several recipients). */
static int bbtoken_notify_notice_same(const PGresult *res, int a, int b)
{
    return strcmp(PQgetvalue(res, a, BBTOKEN_N_ID),
                  PQgetvalue(res, b, BBTOKEN_N_ID)) == 0 &&
           strcmp(PQgetvalue(res, a, BBTOKEN_N_KIND),
                  PQgetvalue(res, b, BBTOKEN_N_KIND)) == 0;
}

/* Tell the notices whose recipients have their copies: each of those who
 * can be mailed (a project's token has several admins; those who cannot
 * be mailed need none), or nobody, when none can (settled: told without
 * mail).  A copy sendmail refused, or a run stopped midway, leaves its
 * notice due: the next run sends the copies missing.  The notices come by
 * notice from the run's snapshot (bbtoken_settle), after every owner was
 * tried, each with all its recipients, and whether each has a copy is
 * read as the statement runs. */
static int bbtoken_notify_settle(bbtoken_notify_t *n)
{
    bbtoken_notices_t b;
    bbtoken_groups_t g;
    int more = 0, first, end, i, count, rc;

    if ((rc = bbtoken_notices_init(&b, BBTOKEN_SETTLE_BATCH))) {
        return rc;
    }
    bbtoken_groups_init(&g, n->ctx, "finding the notices due", "bbtoken_settle",
                        bbtoken_notify_notice_same);
    while (rc == 0 && (more = bbtoken_groups_next(&g, &first, &end)) > 0) {
        if ((rc = bbtoken_notices_room(&b, end - first))) {
            break;
        }
        count = b.count;
        for (i = first; i < end; i++) {
            if (bbtoken_notify_mailable(g.res, i)) {
                bbtoken_notices_add(&b, g.res, i,
                                    PQgetvalue(g.res, i, BBTOKEN_N_UID));
            }
        }
        if (b.count == count) {
            bbtoken_notices_add(&b, g.res, first, "NULL");
        }
        if (b.count >= BBTOKEN_SETTLE_BATCH) {
            rc = bbtoken_notices_told(n, &b);
        }
    }
    if (rc == 0 && more == 0 && b.count) {
        rc = bbtoken_notices_told(n, &b);
    }
    bbtoken_groups_close(&g);
    bbtoken_notices_free(&b);
    return rc ? rc : more < 0 ? BBTOKEN_EXIT_FAIL : 0;
}

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
    int count = end - first, i, status, why, rc;
    const char *s = count == 1 ? "" : "s";
    char date[64], msgid[400], mailing[640];
    bbtoken_note_t *notes;
    bbtoken_notices_t b;
    bbtoken_mail_t m;
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
    if (!(notes = calloc((size_t)count, sizeof(*notes)))) {
        return bbtoken_fail("out of memory");
    }
    for (i = first; i < end; i++) {
        bbtoken_note_t *o = &notes[i - first];

        o->kind = bbtoken_note_kind(res, i);
        o->id = PQgetvalue(res, i, BBTOKEN_N_ID);
        o->name = PQgetvalue(res, i, BBTOKEN_N_NAME);
        o->when = PQgetvalue(res, i, BBTOKEN_N_WHEN);
        o->never_used = PQgetvalue(res, i, BBTOKEN_N_NEVER)[0] == 't';
        o->until = bbtoken_get(res, i, BBTOKEN_N_UNTIL, NULL);
        o->address = bbtoken_get(res, i, BBTOKEN_N_ADDR, NULL);
        o->after = bbtoken_get(res, i, BBTOKEN_N_AFTER, NULL);
        o->holder = bbtoken_get(res, i, BBTOKEN_N_HOLDER, NULL);
    }
    bbtoken_mail_date(date, sizeof(date));
    if (bbtoken_mail_message_id(n->from, msgid, sizeof(msgid)) != 0) {
        free(notes);
        return bbtoken_fail("the random number generator failed");
    }
    m.from = n->from;
    m.to = to;
    m.user = user;
    m.display_name = bbtoken_get(res, first, BBTOKEN_N_DISPLAY, NULL);
    m.date = date;
    m.message_id = msgid;
    m.notes = notes;
    m.nnotes = (size_t)count;
    msg = bbtoken_mail_compose(&m, &len);
    free(notes);
    if (!msg) {
        return bbtoken_fail("out of memory");
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
    if ((rc = bbtoken_notices_init(&b, count)) == 0) {
        for (i = first; i < end; i++) {
            bbtoken_notices_add(&b, res, i, PQgetvalue(res, i, BBTOKEN_N_UID));
        }
        rc = bbtoken_copies_record(n, &b, to);
        bbtoken_notices_free(&b);
    }
    if (rc == 0) {
        bbtoken_notify_done(n->ctx);
    }
    return rc;
}

/* The notices due, two cursors over one snapshot, which outlive its
 * transaction: notify records each message's copies as it goes, and
 * reads them by owner a group at a time, and then, to tell those whose
 * copies are all sent or that nobody could be mailed, by notice.  The
 * server holds the rows. */
static int bbtoken_notes_body(bbtoken_ctx_t *ctx, void *arg)
{
    (void)arg;
    if (bbtoken_stream_hold(ctx, "finding the notices due", "bbtoken_notes",
                            bbtoken_notes_sql)) {
        return BBTOKEN_EXIT_FAIL;
    }
    return bbtoken_stream_hold(ctx, "finding the notices due", "bbtoken_settle",
                               bbtoken_settle_sql);
}

/* Each owner's message, from cursor bbtoken_notes. */
static int bbtoken_notify_owners(bbtoken_notify_t *n)
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
static int bbtoken_notify_dry(bbtoken_notify_t *n)
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
