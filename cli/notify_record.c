/*
 * What notify records (notify.h): the copies of each message, once
 * sendmail took it, and each notice as told once every recipient who can
 * be mailed has a copy, or nobody can be (settled: told without mail).
 * Notices and copies go to the database as array literals, a batch in
 * one statement.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify.h"
#include "stream.h"
#include "tx.h"

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

/* Record the copies of rows [first, end) of res mailed to address to, and
 * say what the run has done. */
int bbtoken_notify_copies(bbtoken_notify_t *n, const PGresult *res, int first,
                          int end, const char *to)
{
    bbtoken_notices_t b;
    int i, rc;

    if ((rc = bbtoken_notices_init(&b, end - first)) == 0) {
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
int bbtoken_notify_settle(bbtoken_notify_t *n)
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
