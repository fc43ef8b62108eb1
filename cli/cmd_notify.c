/*
 * notify: tell owners about their tokens by mail, for cron.  Each notice
 * goes out once (bbtoken_notices records it, only after sendmail said
 * yes): an expiry 30 days and 7 days ahead and the expiry itself, a
 * revocation or a rotation by an administrator, a revocation as leaked or
 * for not being used, and a warning before an unused token is revoked.
 * With the policy's revoke_unused_after set it also revokes the unused
 * tokens whose warning is at least BBTOKEN_UNUSED_NOTICE old.  One message
 * per owner per run, composed by mail.c.  A project's or a repository's
 * token has no owner: its notices go to the project's admins (a
 * PROJECT_ADMIN grant, or the owner of a personal project) who are active.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "mail.h"

#define BBTOKEN_SENDMAIL_DEFAULT "/usr/sbin/sendmail"
/* How long before its revocation an unused token's owner is warned, and
 * the least time between the warning and the revocation. */
#define BBTOKEN_UNUSED_NOTICE "interval '7 days'"

/* Live tokens idle since: the last use, or the creation. */
#define BBTOKEN_IDLE "COALESCE(t.last_authenticated, t.created_at)"

/* Who a token is for messages: its owner's name, or project:KEY or
 * repo:KEY/slug. */
#define BBTOKEN_HOLDER_NAME                                                    \
    "COALESCE((SELECT o.name FROM bbtoken_users o WHERE o.id = t.user_id),"    \
    " bbtoken_scope_name(t.project_key, t.repo_slug))"

/* Unused tokens due for revocation: idle for the policy's time, and warned
 * (after their last use) at least BBTOKEN_UNUSED_NOTICE ago.  t is the
 * token, p the policy. */
#define BBTOKEN_UNUSED_DUE                                                     \
    " p.revoke_unused_after IS NOT NULL AND t.revoked_at IS NULL"              \
    " AND (t.expires_at IS NULL OR t.expires_at > now())"                      \
    " AND " BBTOKEN_IDLE " + p.revoke_unused_after <= now()"                   \
    " AND EXISTS (SELECT 1 FROM bbtoken_notices n WHERE n.token_id = t.id"     \
    " AND n.kind = 'unused' AND n.sent_at >= " BBTOKEN_IDLE                    \
    " AND n.sent_at <= now() - " BBTOKEN_UNUSED_NOTICE ")"

/* Every notice due, one row each, by owner.  Expiry: the stage a token is
 * in now, unless it was created inside it (a 20-day token gets no 30-day
 * notice).  Unused: the warning, once per idle spell, unless the token
 * expires first.  Revoked: the revocation's most telling audit event (a
 * reason over a plain 'revoked'; of 'revoked' and 'rotated' the later, so
 * a rotation's old token is told as rotated, and its new one, revoked
 * later, as revoked), unless the owner revoked or rotated it over HTTP
 * themself.  A project's or a repository's token whose project has no
 * active admin to tell gets one row without a user, grouped by holder:
 * left out, its notices would never be settled, and revoke-unused-after,
 * which waits for a recorded warning, would never revoke it. */
/* Whom a notice goes to: its token's owner; for a token without one, the
 * personal project's owner and the project's admins, each found by an
 * index (one join with their OR read every user for every notice). */
#define BBTOKEN_NOTE_USER                                                      \
    "SELECT u.id, u.name, u.display_name, u.email, u.active"
#define BBTOKEN_NOTES                                                          \
    "WITH p AS (SELECT revoke_unused_after AS after FROM bbtoken_policy),"     \
    " live AS (SELECT t.*, " BBTOKEN_IDLE " AS idle FROM bbtoken_tokens t"     \
    " WHERE t.revoked_at IS NULL),"                                            \
    " stage AS (SELECT l.*, CASE WHEN l.expires_at <= now() THEN 'expired'"    \
    " WHEN l.expires_at <= now() + interval '7 days' THEN 'expires_7d'"        \
    " WHEN l.expires_at <= now() + interval '30 days' THEN 'expires_30d'"      \
    " END AS kind FROM live l WHERE l.expires_at IS NOT NULL),"                \
    " notes AS ("                                                              \
    "SELECT s.kind, NULL::text AS event, s.id, s.user_id, s.expires_at AS at," \
    " false AS never_used, NULL::timestamptz AS until, NULL::inet AS addr,"    \
    " NULL::text AS after FROM stage s"                                        \
    " WHERE s.kind IS NOT NULL AND (s.kind = 'expired' OR s.created_at"        \
    " < s.expires_at - CASE s.kind WHEN 'expires_7d' THEN interval '7 days'"   \
    " ELSE interval '30 days' END)"                                            \
    " AND NOT EXISTS (SELECT 1 FROM bbtoken_notices n"                         \
    " WHERE n.token_id = s.id AND n.kind = s.kind)"                            \
    " UNION ALL "                                                              \
    "SELECT 'unused', NULL, l.id, l.user_id, l.idle,"                          \
    " l.last_authenticated IS NULL,"                                           \
    " GREATEST(l.idle + p.after, now() + " BBTOKEN_UNUSED_NOTICE "), NULL,"    \
    " bbtoken_duration_text(p.after) FROM live l, p"                           \
    " WHERE p.after IS NOT NULL"                                               \
    " AND l.idle + p.after - " BBTOKEN_UNUSED_NOTICE " <= now()"               \
    " AND (l.expires_at IS NULL OR l.expires_at > GREATEST(l.idle + p.after,"  \
    " now() + " BBTOKEN_UNUSED_NOTICE "))"                                     \
    " AND NOT EXISTS (SELECT 1 FROM bbtoken_notices n WHERE n.token_id = l.id" \
    " AND n.kind = 'unused' AND n.sent_at >= l.idle)"                          \
    " UNION ALL "                                                              \
    "SELECT 'revoked', r.event, r.id, r.user_id, r.at, false, NULL, r.addr,"   \
    " (extract(epoch FROM r.at - r.idle)::bigint / 86400) || ' days'"          \
    " FROM (SELECT DISTINCT ON (t.id) t.id, t.user_id, u.name AS owner,"       \
    " " BBTOKEN_IDLE " AS idle, a.event, a.source, a.actor, a.at,"             \
    " a.client_addr AS addr"                                                   \
    " FROM bbtoken_tokens t LEFT JOIN bbtoken_users u ON u.id = t.user_id"     \
    " JOIN bbtoken_audit a ON a.token_id = t.id"                               \
    " AND a.event IN ('revoked', 'revoked_unused', 'revoked_leaked',"          \
    " 'rotated')"                                                              \
    " WHERE t.revoked_at IS NOT NULL AND NOT EXISTS (SELECT 1"                 \
    " FROM bbtoken_notices n WHERE n.token_id = t.id AND n.kind = 'revoked')"  \
    " ORDER BY t.id, a.event IN ('revoked', 'rotated'), a.id DESC) r"          \
    " WHERE r.event NOT IN ('revoked', 'rotated') OR r.source <> 'http'"       \
    " OR lower(r.actor) <> lower(COALESCE(r.owner, '')))"                      \
    " SELECT n.kind, n.event, n.id, t.name,"                                   \
    " to_char(n.at AT TIME ZONE 'UTC', " BBTOKEN_ISO "), n.never_used,"        \
    " to_char(n.until AT TIME ZONE 'UTC', " BBTOKEN_ISO "), host(n.addr),"     \
    " n.after, u.id, u.name, u.display_name, u.email, u.active,"               \
    " CASE WHEN t.repo_slug IS NOT NULL"                                       \
    " THEN 'repository ' || t.project_key || '/' || t.repo_slug"               \
    " WHEN t.user_id IS NULL THEN 'project ' || t.project_key END"             \
    " FROM notes n JOIN bbtoken_tokens t ON t.id = n.id"                       \
    " LEFT JOIN LATERAL (" BBTOKEN_NOTE_USER " FROM bbtoken_users u"           \
    " WHERE u.id = n.user_id"                                                  \
    " UNION " BBTOKEN_NOTE_USER " FROM bbtoken_users u"                        \
    " WHERE n.user_id IS NULL AND u.active AND left(t.project_key, 1) = '~'"   \
    " AND lower(u.name) = substr(t.project_key, 2)"                            \
    " UNION " BBTOKEN_NOTE_USER " FROM bbtoken_project_grants g"               \
    " JOIN bbtoken_users u ON u.id = g.user_id"                                \
    " WHERE n.user_id IS NULL AND u.active AND g.project_key = t.project_key"  \
    " AND g.permission = 'PROJECT_ADMIN') u ON true"
/* By owner, for the messages: one owner's rows in a row, in the order
 * their message lists them. */
static const char bbtoken_notes_sql[] = BBTOKEN_NOTES
    " ORDER BY u.id, CASE WHEN u.id IS NULL THEN t.project_key END,"
    " CASE WHEN u.id IS NULL THEN t.repo_slug END,"
    " CASE WHEN n.event = 'revoked_leaked' THEN 0"
    " WHEN n.event IN ('revoked', 'rotated') THEN 1"
    " WHEN n.event = 'revoked_unused' THEN 2"
    " WHEN n.kind = 'expired' THEN 3 WHEN n.kind = 'expires_7d' THEN 4"
    " WHEN n.kind = 'expires_30d' THEN 5 ELSE 6 END, n.id";
/* By notice, for settling those nobody could be mailed: a notice's
 * recipients in a row. */
static const char bbtoken_settle_sql[] = BBTOKEN_NOTES " ORDER BY n.id, n.kind";

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

typedef struct {
    bbtoken_ctx_t *ctx;
    const char *sendmail;
    const char *from;
    int dry_run;
    int failed;       /* messages sendmail did not take */
    int first_status; /* the first failure's exit status, or -1 */
    int first_errno;  /* ... or why it could not run */
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

/* Notices to record, as two array literals of count elements so far:
 * their ids and their kinds.  Ids are 12 digits and kinds fixed words
 * (the schema's CHECKs), so they need no quoting, and 16 bytes an
 * element is room for either. */
typedef struct {
    char *ids, *kinds;
    size_t cap, li, lk;
    int count;
} bbtoken_notices_t;

/* Room for max notices.  0, or an exit status after reporting. */
static int bbtoken_notices_init(bbtoken_notices_t *b, int max)
{
    memset(b, 0, sizeof(*b));
    b->cap = (size_t)max * 16 + 3;
    b->ids = malloc(b->cap);
    b->kinds = malloc(b->cap);
    if (!b->ids || !b->kinds) {
        free(b->ids);
        free(b->kinds);
        return bbtoken_fail("out of memory");
    }
    return 0;
}

/* Add row's notice. */
static void bbtoken_notices_add(bbtoken_notices_t *b, const PGresult *res,
                                int row)
{
    char sep = b->count++ ? ',' : '{';

    b->li += (size_t)snprintf(b->ids + b->li, b->cap - b->li, "%c%s", sep,
                              PQgetvalue(res, row, BBTOKEN_N_ID));
    b->lk += (size_t)snprintf(b->kinds + b->lk, b->cap - b->lk, "%c%s", sep,
                              PQgetvalue(res, row, BBTOKEN_N_KIND));
}

/* Record the notices as told, mailed to `to` (NULL: settled, told
 * without mail), and empty b.  Tokens purged meanwhile are left out. */
static int bbtoken_notices_record(bbtoken_notify_t *n, bbtoken_notices_t *b,
                                  const char *to)
{
    const char *params[3] = {b->ids, b->kinds, to};
    long rows;

    snprintf(b->ids + b->li, b->cap - b->li, "%s", b->count ? "}" : "{}");
    snprintf(b->kinds + b->lk, b->cap - b->lk, "%s", b->count ? "}" : "{}");
    b->count = 0;
    b->li = b->lk = 0;
    return bbtoken_exec_rows(
        n->ctx, "recording the notices",
        "INSERT INTO bbtoken_notices (token_id, kind, mailed_to)"
        " SELECT x.id, x.kind, $3::text FROM unnest($1::text[], $2::text[])"
        " AS x(id, kind) WHERE EXISTS (SELECT 1 FROM bbtoken_tokens t"
        " WHERE t.id = x.id)"
        " ON CONFLICT (token_id, kind) DO UPDATE"
        " SET sent_at = now(), mailed_to = EXCLUDED.mailed_to",
        3, params, &rows);
}

static void bbtoken_notices_free(bbtoken_notices_t *b)
{
    free(b->ids);
    free(b->kinds);
}

/* Notices a statement settles. */
#define BBTOKEN_SETTLE_BATCH 1000

/* 1 if rows a and b of res are one notice (to several recipients). */
static int bbtoken_notify_notice_same(const PGresult *res, int a, int b)
{
    return strcmp(PQgetvalue(res, a, BBTOKEN_N_ID),
                  PQgetvalue(res, b, BBTOKEN_N_ID)) == 0 &&
           strcmp(PQgetvalue(res, a, BBTOKEN_N_KIND),
                  PQgetvalue(res, b, BBTOKEN_N_KIND)) == 0;
}

/* Settle, as told without mail, the notices of owners who cannot be
 * mailed, unless someone else is to be told the same notice (a project's
 * token has several admins): then whether it is told is that mail's to
 * say, and a mail sendmail refused is sent again next run.  The notices
 * come by notice from the run's snapshot (bbtoken_settle), after every
 * owner was tried. */
static int bbtoken_notify_settle(bbtoken_notify_t *n)
{
    bbtoken_notices_t b;
    bbtoken_groups_t g;
    int more = 0, first, end, i, rc;

    if ((rc = bbtoken_notices_init(&b, BBTOKEN_SETTLE_BATCH))) {
        return rc;
    }
    bbtoken_groups_init(&g, n->ctx, "finding the notices due", "bbtoken_settle",
                        bbtoken_notify_notice_same);
    while (rc == 0 && (more = bbtoken_groups_next(&g, &first, &end)) > 0) {
        for (i = first; i < end && !bbtoken_notify_mailable(g.res, i); i++) {
        }
        if (i == end) {
            bbtoken_notices_add(&b, g.res, first);
        }
        if (b.count == BBTOKEN_SETTLE_BATCH) {
            rc = bbtoken_notices_record(n, &b, NULL);
        }
    }
    if (rc == 0 && more == 0 && b.count) {
        rc = bbtoken_notices_record(n, &b, NULL);
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
 * run), or, for an owner who cannot be mailed, reported and settled. */
static int bbtoken_notify_owner(bbtoken_notify_t *n, const PGresult *res,
                                int first, int end)
{
    const char *user = PQgetvalue(res, first, BBTOKEN_N_USER);
    const char *to = bbtoken_get(res, first, BBTOKEN_N_EMAIL, NULL);
    int count = end - first, i, status, why, rc;
    const char *s = count == 1 ? "" : "s";
    char date[64], msgid[400];
    bbtoken_note_t *notes;
    bbtoken_notices_t b;
    bbtoken_mail_t m;
    char *msg;
    size_t len;

    if (!bbtoken_notify_mailable(res, first)) {
        if (PQgetisnull(res, first, BBTOKEN_N_UID)) {
            printf("not mailed: %s has no active project admin (%d "
                   "notice%s)\n",
                   PQgetvalue(res, first, BBTOKEN_N_HOLDER), count, s);
        } else if (PQgetvalue(res, first, BBTOKEN_N_ACTIVE)[0] != 't') {
            printf("not mailed: %s is disabled (%d notice%s)\n", user, count,
                   s);
        } else if (!to) {
            printf("not mailed: %s has no e-mail address (%d notice%s)\n", user,
                   count, s);
        } else {
            printf("not mailed: %s's address cannot go into a mail header: "
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
        printf("would mail %s <%s>: %d notice%s\n", user, to, count, s);
        fwrite(msg, 1, len, stdout);
        putchar('\n');
        free(msg);
        return 0;
    }
    fflush(stdout);
    status = bbtoken_sendmail(n->sendmail, msg, len);
    why = errno;
    free(msg);
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
    if ((rc = bbtoken_notices_init(&b, count)) == 0) {
        for (i = first; i < end; i++) {
            bbtoken_notices_add(&b, res, i);
        }
        rc = bbtoken_notices_record(n, &b, to);
        bbtoken_notices_free(&b);
    }
    return rc;
}

/* A batch's statement, the last id revoked before it, and what it
 * returned. */
typedef struct {
    const char *sql;
    const char *after;
    PGresult *res;
} bbtoken_unused_t;

static int bbtoken_unused_body(bbtoken_ctx_t *ctx, void *arg)
{
    bbtoken_unused_t *u = arg;
    PGresult *res;

    /* A try before this one returned rows that it did not commit. */
    PQclear(u->res);
    u->res = NULL;
    if (!(res = bbtoken_exec(ctx, "revoking unused tokens",
                             "SELECT set_config('bbtoken.revoke_reason',"
                             " 'unused', true)",
                             0, NULL))) {
        return BBTOKEN_EXIT_FAIL;
    }
    PQclear(res);
    u->res = bbtoken_exec(ctx, "revoking unused tokens", u->sql, 1, &u->after);
    return u->res ? 0 : BBTOKEN_EXIT_FAIL;
}

static void bbtoken_unused_print(const bbtoken_notify_t *n, const PGresult *res)
{
    int i;

    for (i = 0; i < PQntuples(res); i++) {
        printf("%s %s of %s (\"%s\"): unused since %s\n",
               n->dry_run ? "would revoke" : "revoked", PQgetvalue(res, i, 0),
               PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
               PQgetvalue(res, i, 3));
    }
}

/* Revoke the unused tokens that are due (dry run: say which would be).
 * The reason makes the audit trigger write 'revoked_unused'. */
static int bbtoken_notify_revoke(bbtoken_notify_t *n)
{
    static const char cols[] =
        " t.id, " BBTOKEN_HOLDER_NAME ", t.name,"
        " to_char(" BBTOKEN_IDLE " AT TIME ZONE 'UTC', " BBTOKEN_ISO ")";
    char sql[2048], after[64] = "";
    bbtoken_unused_t u = {sql, after, NULL};
    const bbtoken_tx_t tx = {"revoking unused tokens", "BEGIN", NULL,
                             bbtoken_unused_body, &u};
    bbtoken_stream_t s;
    int more, rows;

    if (n->dry_run) {
        snprintf(sql, sizeof(sql),
                 "SELECT%s FROM bbtoken_tokens t, bbtoken_policy p"
                 " WHERE%s ORDER BY t.id",
                 cols, BBTOKEN_UNUSED_DUE);
        if (bbtoken_stream_open(n->ctx, &s, "finding unused tokens", sql, 0,
                                NULL, 0)) {
            return BBTOKEN_EXIT_FAIL;
        }
        while ((more = bbtoken_stream_next(&s)) > 0) {
            bbtoken_unused_print(n, s.res);
        }
        return bbtoken_stream_close(&s, more < 0 ? BBTOKEN_EXIT_FAIL : 0);
    }
    /* A batch at a time, the lowest ids first (keyset: after the last id
     * revoked), each batch its own transaction: a run stopped midway
     * keeps the batches it committed, whose owners are told from the
     * audit trail.  Lowest id first, as every revocation of more than one
     * token (sql/migrations/0024_lock_order.sql): a leak report naming two
     * of them never waits for this one in a circle.  A token that stops
     * being due while the batch waits for its lock (used, or revoked by
     * someone else) is dropped by the lock's recheck before the LIMIT
     * counts it: the batch takes the next one due instead, so only an
     * empty batch ends the revoking (t/57-notify-stream). */
    snprintf(sql, sizeof(sql),
             "WITH r AS (UPDATE bbtoken_tokens t SET revoked_at = now()"
             " FROM bbtoken_policy p WHERE t.id IN (SELECT t.id"
             " FROM bbtoken_tokens t, bbtoken_policy p WHERE%s AND t.id > $1"
             " ORDER BY t.id LIMIT " BBTOKEN_WRITE_BATCH " FOR UPDATE OF t)"
             " AND%s RETURNING%s) SELECT * FROM r ORDER BY 1",
             BBTOKEN_UNUSED_DUE, BBTOKEN_UNUSED_DUE, cols);
    do {
        if (bbtoken_tx(n->ctx, &tx) != 0) {
            PQclear(u.res);
            return BBTOKEN_EXIT_FAIL;
        }
        bbtoken_unused_print(n, u.res);
        if ((rows = PQntuples(u.res)) > 0) {
            snprintf(after, sizeof(after), "%s",
                     PQgetvalue(u.res, rows - 1, 0));
        }
        PQclear(u.res);
        u.res = NULL;
    } while (rows > 0);
    return 0;
}

/* The notices due, two cursors over one snapshot, which outlive its
 * transaction: notify records each message's notices as it goes, and
 * reads them by owner a group at a time, and then, to settle those
 * nobody could be mailed, by notice.  The server holds the rows. */
static int bbtoken_notes_body(bbtoken_ctx_t *ctx, void *arg)
{
    const bbtoken_notify_t *n = arg;

    if (bbtoken_stream_hold(ctx, "finding the notices due", "bbtoken_notes",
                            bbtoken_notes_sql)) {
        return BBTOKEN_EXIT_FAIL;
    }
    return n->dry_run
               ? 0
               : bbtoken_stream_hold(ctx, "finding the notices due",
                                     "bbtoken_settle", bbtoken_settle_sql);
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
                            buf);
    }
    return 0;
}

int bbtoken_cmd_notify(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                       const bbtoken_args_t *a)
{
    bbtoken_notify_t n = {ctx, NULL, NULL, a->dry_run, 0, -1, 0};
    char from[300];
    const char *sm = a->sendmail ? a->sendmail : getenv("BBTOKEN_SENDMAIL");
    const bbtoken_tx_t notes_tx = {"finding the notices due",
                                   "BEGIN ISOLATION LEVEL REPEATABLE READ"
                                   " READ ONLY",
                                   NULL, bbtoken_notes_body, &n};
    bbtoken_groups_t g;
    PGresult *res;
    int rc, first, end, more;

    (void)cmd;
    n.sendmail = sm && *sm ? sm : BBTOKEN_SENDMAIL_DEFAULT;
    n.from = from;
    /* posix_spawn takes a bare name as relative to the working directory:
     * from cron, or through sudo as root, that would run whatever program
     * of that name the directory holds. */
    if (n.sendmail[0] != '/') {
        return bbtoken_fail("sendmail: not an absolute path: %s (give "
                            "--sendmail /PATH)",
                            n.sendmail);
    }
    if ((rc = bbtoken_notify_from(a, from, sizeof(from)))) {
        return rc;
    }
    if (!n.dry_run && access(n.sendmail, X_OK) != 0) {
        return bbtoken_fail("cannot run sendmail %s: %s (give --sendmail "
                            "PATH)",
                            n.sendmail, strerror(errno));
    }
    if ((rc = bbtoken_connect(ctx))) {
        return rc;
    }
    if (!n.dry_run) {
        /* Two runs at once would mail the same news twice. */
        res = bbtoken_exec(ctx, "taking the notify lock",
                           "SELECT pg_try_advisory_lock(hashtext("
                           "'bbtoken notify'))",
                           0, NULL);
        if (!res) {
            return BBTOKEN_EXIT_FAIL;
        }
        rc = PQgetvalue(res, 0, 0)[0] == 't';
        PQclear(res);
        if (!rc) {
            return bbtoken_fail("another bbtoken notify is running");
        }
    }
    if ((rc = bbtoken_notify_revoke(&n)) || (rc = bbtoken_tx(ctx, &notes_tx))) {
        return rc;
    }
    bbtoken_groups_init(&g, ctx, "finding the notices due", "bbtoken_notes",
                        bbtoken_notify_same);
    while ((more = bbtoken_groups_next(&g, &first, &end)) > 0 &&
           (rc = bbtoken_notify_owner(&n, g.res, first, end)) == 0) {
    }
    bbtoken_groups_close(&g);
    if (rc || more < 0) {
        return rc ? rc : BBTOKEN_EXIT_FAIL;
    }
    if (!n.dry_run && (rc = bbtoken_notify_settle(&n))) {
        return rc;
    }
    if (n.failed) {
        if (n.first_status < 0) {
            return bbtoken_fail("sendmail %s could not take %d message%s (%s); "
                                "their notices go out on the next run",
                                n.sendmail, n.failed, n.failed == 1 ? "" : "s",
                                strerror(n.first_errno));
        }
        return bbtoken_fail("sendmail %s failed for %d message%s (exit status "
                            "%d); their notices go out on the next run",
                            n.sendmail, n.failed, n.failed == 1 ? "" : "s",
                            n.first_status);
    }
    return 0;
}
