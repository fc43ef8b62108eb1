/*
 * The reports that grow with the site (audit, list --all, expiring), read
 * a batch of rows at a time and printed as they come, so that the CLI's
 * memory stays bounded whatever the row count (stream.h).  The rows come from
 * a cursor WITH HOLD declared in a read-only REPEATABLE READ transaction:
 * one snapshot, whose rows the server computes whole at the COMMIT and
 * keeps past it, so that nothing is written to stdout while a transaction
 * is open.  A stdout that blocks (a pager left open, a stalled pipe)
 * would otherwise hold the transaction, its locks on the tables read
 * (a migration's ALTER TABLE waits for them, and every write behind it)
 * and its snapshot (which holds back vacuum) for as long.  A table,
 * which needs every row's width before its first line, reads the rows
 * twice (a SCROLL cursor: the server keeps the result, not the CLI) and
 * prints what it measured.  JSON needs one pass: the array's elements are
 * printed one by one, laid out as the whole array would be.  A command
 * that writes between batches reads such a cursor too: a group of rows
 * that go together at a time (bbtoken_groups_next), or, printed as a
 * report is, a batch at a time, each acted on first in a transaction of
 * its own (bbtoken_stream_open_held: list --all --revoke).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "stream.h"
#include "tx.h"

/* Rows a batch holds: a few hundred kilobytes of the widest report. */
#define BBTOKEN_STREAM_BATCH "1000"

/* Declare cursor `name` (how: its options) over sql with its parameters,
 * in the transaction under way.  0, or an exit status after reporting.
 *
 * The planner plans a cursor for its first tenth of rows
 * (cursor_tuple_fraction), and a plan that starts fast may be quadratic
 * in all of them: a nested loop rescanning a materialised join.  Every
 * cursor here is read to its end, and one WITH HOLD is computed whole at
 * its transaction's COMMIT, so it is planned for all its rows: notify's
 * notices due, planned to start fast, took over five minutes at 50,000
 * tokens where the whole plan takes seconds (t/57-notify-stream). */
static int bbtoken_stream_declare(bbtoken_ctx_t *ctx, const char *what,
                                  const char *name, const char *how,
                                  const char *sql, int n,
                                  const char *const *params)
{
    static const char fmt[] = "DECLARE %s %s FOR %s";
    size_t len = sizeof(fmt) + strlen(name) + strlen(how) + strlen(sql);
    PGresult *res;
    char *q;

    if (!(res = bbtoken_exec(ctx, what, "SET LOCAL cursor_tuple_fraction = 1",
                             0, NULL))) {
        return BBTOKEN_EXIT_FAIL;
    }
    PQclear(res);
    if (!(q = malloc(len))) {
        return bbtoken_fail("out of memory");
    }
    snprintf(q, len, fmt, name, how, sql);
    res = bbtoken_exec(ctx, what, q, n, params);
    free(q);
    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    PQclear(res);
    return 0;
}

/* Declare cursor bbtoken_rows (how: its options) in a read-only
 * snapshot, its transaction left open. */
static int bbtoken_stream_begin(bbtoken_ctx_t *ctx, bbtoken_stream_t *s,
                                const char *what, const char *how,
                                const char *sql, int n,
                                const char *const *params)
{
    PGresult *res;

    memset(s, 0, sizeof(*s));
    s->ctx = ctx;
    s->what = what;
    res = bbtoken_exec(
        ctx, what, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL);
    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    PQclear(res);
    s->cursor = 1;
    if (bbtoken_stream_declare(ctx, what, "bbtoken_rows", how, sql, n,
                               params)) {
        bbtoken_stream_close(s, BBTOKEN_EXIT_FAIL);
        return BBTOKEN_EXIT_FAIL;
    }
    return 0;
}

int bbtoken_stream_open(bbtoken_ctx_t *ctx, bbtoken_stream_t *s,
                        const char *what, const char *sql, int n,
                        const char *const *params, int scroll)
{
    int rc;

    /* Its COMMIT runs the query to its end before the first row is read:
     * the rows past work_mem go to a temporary file of the server's,
     * which lasts until the cursor's CLOSE (or the session's end). */
    if ((rc = bbtoken_stream_begin(ctx, s, what,
                                   scroll ? "SCROLL CURSOR WITH HOLD"
                                          : "NO SCROLL CURSOR WITH HOLD",
                                   sql, n, params)) ||
        (rc = bbtoken_stream_close(s, 0))) {
        return rc;
    }
    s->cursor = s->held = 1;
    s->lost = ctx->lost;
    ctx->held |= BBTOKEN_HELD_CURSOR;
    return 0;
}

int bbtoken_stream_open_held(bbtoken_ctx_t *ctx, bbtoken_stream_t *s,
                             const char *what, const char *sql, int n,
                             const char *const *params,
                             bbtoken_stream_act_fn *act, void *arg)
{
    int rc;

    /* SCROLL: bbtoken_stream_last steps back. */
    if ((rc = bbtoken_stream_open(ctx, s, what, sql, n, params, 1))) {
        return rc;
    }
    s->act = act;
    s->act_arg = arg;
    return 0;
}

void bbtoken_stream_result(bbtoken_stream_t *s, PGresult *res)
{
    memset(s, 0, sizeof(*s));
    s->res = res;
}

/* The next batch into s->res: 1, 0 at the end, -1 after reporting. */
static int bbtoken_stream_next(bbtoken_stream_t *s)
{
    if (!s->cursor) {
        if (s->done) {
            return 0;
        }
        s->done = 1;
        return PQntuples(s->res) > 0;
    }
    PQclear(s->res);
    s->res = NULL;
    /* What came so far is out before the next batch is asked for (a
     * failure's message follows it); one that cannot be written ends the
     * pass: a bulk revocation goes no further than it could list. */
    if (bbtoken_flush_stdout(s->ctx, s->what) != 0) {
        return -1;
    }
    s->res = bbtoken_exec(
        s->ctx, s->what,
        "FETCH FORWARD " BBTOKEN_STREAM_BATCH " FROM bbtoken_rows", 0, NULL);
    if (!s->res) {
        return -1;
    }
    return PQntuples(s->res) > 0;
}

/* Back before the first row.  0, or an exit status after reporting. */
static int bbtoken_stream_rewind(bbtoken_stream_t *s)
{
    PGresult *res;

    if (!s->cursor) {
        s->done = 0;
        return 0;
    }
    if (!(res = bbtoken_exec(s->ctx, s->what, "MOVE ABSOLUTE 0 IN bbtoken_rows",
                             0, NULL))) {
        return BBTOKEN_EXIT_FAIL;
    }
    PQclear(res);
    return 0;
}

int bbtoken_stream_close(bbtoken_stream_t *s, int rc)
{
    PGresult *res;

    PQclear(s->res);
    PQclear(s->kept);
    s->res = s->kept = NULL;
    if (!s->cursor) {
        return rc;
    }
    s->cursor = 0;
    if (s->held) {
        /* Outside any transaction: the server frees its rows. */
        s->held = 0;
        s->ctx->held &= ~BBTOKEN_HELD_CURSOR;
        if (s->lost != s->ctx->lost) {
            /* Its session was lost since (xact.c): the cursor went with
             * it, and the new one has none to close. */
            return rc;
        }
        if (rc != 0) {
            bbtoken_exec_quiet(s->ctx, "CLOSE bbtoken_rows");
        } else if (!(res = bbtoken_exec(s->ctx, s->what, "CLOSE bbtoken_rows",
                                        0, NULL))) {
            return BBTOKEN_EXIT_FAIL;
        } else {
            PQclear(res);
        }
        return rc;
    }
    if (rc != 0) {
        bbtoken_exec_quiet(s->ctx, "ROLLBACK");
        return rc;
    }
    /* Read only: the COMMIT ends the snapshot, and has nothing to lose. */
    if (!(res = bbtoken_exec(s->ctx, s->what, "COMMIT", 0, NULL))) {
        return BBTOKEN_EXIT_FAIL;
    }
    PQclear(res);
    return 0;
}

int bbtoken_stream_hold(bbtoken_ctx_t *ctx, const char *what, const char *name,
                        const char *sql)
{
    return bbtoken_stream_declare(ctx, what, name, "SCROLL CURSOR WITH HOLD",
                                  sql, 0, NULL);
}

int bbtoken_stream_scroll(bbtoken_ctx_t *ctx, const char *what,
                          const char *name, const char *sql)
{
    return bbtoken_stream_declare(ctx, what, name, "SCROLL CURSOR", sql, 0,
                                  NULL);
}

void bbtoken_groups_init(bbtoken_groups_t *g, bbtoken_ctx_t *ctx,
                         const char *what, const char *cursor,
                         bbtoken_same_fn *same)
{
    memset(g, 0, sizeof(*g));
    g->ctx = ctx;
    g->what = what;
    g->cursor = cursor;
    g->same = same;
    g->size = atol(BBTOKEN_STREAM_BATCH);
}

int bbtoken_groups_next(bbtoken_groups_t *g, int *first, int *end)
{
    char sql[128];
    PGresult *res;
    int rows, i;

    for (;;) {
        rows = g->res ? PQntuples(g->res) : 0;
        if (g->next < rows) {
            for (i = g->next + 1; i < rows && g->same(g->res, g->next, i);
                 i++) {
            }
            if (i < rows || g->last) {
                *first = g->next;
                *end = g->next = i;
                return 1;
            }
            /* The group may go on past the batch: the next batch starts
             * with it, and holds twice as many rows when the group filled
             * this one. */
            if (g->next == 0) {
                g->size *= 2;
            }
            snprintf(sql, sizeof(sql), "MOVE BACKWARD %d IN %s", rows - g->next,
                     g->cursor);
            if (!(res = bbtoken_exec(g->ctx, g->what, sql, 0, NULL))) {
                return -1;
            }
            PQclear(res);
        } else if (g->last) {
            return 0;
        }
        PQclear(g->res);
        g->res = NULL;
        /* As bbtoken_stream_next. */
        if (bbtoken_flush_stdout(g->ctx, g->what) != 0) {
            return -1;
        }
        snprintf(sql, sizeof(sql), "FETCH FORWARD %ld FROM %s", g->size,
                 g->cursor);
        if (!(g->res = bbtoken_exec(g->ctx, g->what, sql, 0, NULL))) {
            return -1;
        }
        g->next = 0;
        g->last = PQntuples(g->res) < g->size;
    }
}

void bbtoken_groups_close(bbtoken_groups_t *g)
{
    char sql[128];

    PQclear(g->res);
    g->res = NULL;
    snprintf(sql, sizeof(sql), "CLOSE %s", g->cursor);
    bbtoken_exec_quiet(g->ctx, sql);
}

/* Whether the batch in hand is the held cursor's last: 1, 0, or -1 after
 * reporting.  One of fewer rows than asked is; a full one, where a step
 * past it finds no row (the step is taken back where it found one). */
static int bbtoken_stream_last(bbtoken_stream_t *s)
{
    PGresult *res;
    int last;

    if (PQntuples(s->res) < atoi(BBTOKEN_STREAM_BATCH)) {
        return 1;
    }
    if (!(res = bbtoken_exec(s->ctx, s->what, "MOVE FORWARD 1 IN bbtoken_rows",
                             0, NULL))) {
        return -1;
    }
    last = strcmp(PQcmdTuples(res), "0") == 0;
    PQclear(res);
    if (!last) {
        if (!(res = bbtoken_exec(s->ctx, s->what,
                                 "MOVE BACKWARD 1 IN bbtoken_rows", 0, NULL))) {
            return -1;
        }
        PQclear(res);
    }
    return last;
}

/* The next batch of a pass (bbtoken_stream_next) that prints it: s's
 * act, if any, done to it first.  1, 0 at the end, -1 after reporting. */
static int bbtoken_stream_next_acted(bbtoken_stream_t *s)
{
    int more, last;

    PQclear(s->kept);
    s->kept = NULL;
    if (s->stop) {
        return -1;
    }
    /* The last batch's lines written, as every other batch's are before
     * the next is read: what its act did (ctx->done) is then listed, and
     * a failure to write it says so. */
    if (s->drained) {
        return bbtoken_flush_stdout(s->ctx, s->what) != 0 ? -1 : 0;
    }
    if ((more = bbtoken_stream_next(s)) <= 0 || !s->act) {
        return more;
    }
    /* After a held cursor's last batch nothing is read from it: a session
     * lost at that batch's COMMIT, which was done, leaves nothing undone,
     * and the pass ends as any other does (xact.c stops a command only
     * for what its session still held). */
    if (s->held) {
        if ((last = bbtoken_stream_last(s)) < 0) {
            return -1;
        }
        if (last) {
            s->drained = 1;
            s->ctx->held &= ~BBTOKEN_HELD_CURSOR;
        }
    }
    if (s->act(s->ctx, s->res, &s->kept, s->act_arg)) {
        if (!s->kept) {
            return -1;
        }
        /* Acted on, and then stopped: what it did is done, so the batch
         * is printed, and the pass ends after it. */
        s->stop = 1;
    }
    if (PQntuples(s->kept) != PQntuples(s->res) || PQnfields(s->kept) < 1) {
        bbtoken_fail("%s: %d answers for a batch of %d rows", s->what,
                     PQntuples(s->kept), PQntuples(s->res));
        return -1;
    }
    return 1;
}

/* Whether row i of the batch is printed: not left out by s's act. */
static int bbtoken_stream_kept(const bbtoken_stream_t *s, int i)
{
    return !s->kept || PQgetvalue(s->kept, i, 0)[0] == 't';
}

/* One pass over the rows, each filled into row: measuring (w), or
 * printing with the widths measured (print). */
static int bbtoken_stream_pass(bbtoken_stream_t *s, int cols, int *w, int print,
                               bbtoken_stream_fill_fn *fill, const void *arg,
                               long *rows)
{
    const char *row[BBTOKEN_TABLE_COLS];
    char scratch[BBTOKEN_STREAM_SCRATCH][BBTOKEN_CELL_MAX];
    int i, more, rc;

    *rows = 0;
    while ((more = print ? bbtoken_stream_next_acted(s)
                         : bbtoken_stream_next(s)) > 0) {
        for (i = 0; i < PQntuples(s->res); i++) {
            if (print && !bbtoken_stream_kept(s, i)) {
                continue;
            }
            fill(s->res, i, row, scratch, arg);
            rc = print ? bbtoken_table_row(row, cols, w)
                       : bbtoken_table_measure(row, cols, w);
            if (rc) {
                return rc;
            }
            ++*rows;
        }
    }
    return more < 0 ? BBTOKEN_EXIT_FAIL : 0;
}

/* Print the rows as a table under head, as bbtoken_table would (the rows
 * are read twice: the widths, then the lines, which s's act may leave
 * out); nothing at all for no rows when quiet_empty.  *rows (if rows)
 * gets how many lines.  0, or an exit status after reporting, after
 * whatever was printed. */
static int bbtoken_stream_table(bbtoken_stream_t *s, const char *const *head,
                                int cols, const int *min,
                                bbtoken_stream_fill_fn *fill, const void *arg,
                                int quiet_empty, long *rows)
{
    int w[BBTOKEN_TABLE_COLS] = {0}, c, rc;
    long n;

    if (cols > BBTOKEN_TABLE_COLS) {
        return bbtoken_fail("a table of %d columns: too wide", cols);
    }
    for (c = 0; c < cols; c++) {
        w[c] = min ? min[c] : 0;
    }
    if (rows) {
        *rows = 0;
    }
    if ((rc = bbtoken_table_measure(head, cols, w)) ||
        (rc = bbtoken_stream_pass(s, cols, w, 0, fill, arg, &n))) {
        return rc;
    }
    if (n == 0 && quiet_empty) {
        return 0;
    }
    if ((rc = bbtoken_table_row(head, cols, w)) || n == 0 ||
        (rc = bbtoken_stream_rewind(s))) {
        return rc;
    }
    rc = bbtoken_stream_pass(s, cols, w, 1, fill, arg, &n);
    if (rows) {
        *rows = n;
    }
    return rc;
}

int bbtoken_stream_json(bbtoken_stream_t *s, bbtoken_stream_json_fn *elem,
                        const void *arg)
{
    size_t flags = bbtoken_json_flags();
    long n = 0;
    json_t *v;
    int i, more;

    while ((more = bbtoken_stream_next_acted(s)) > 0) {
        for (i = 0; i < PQntuples(s->res); i++) {
            if (!bbtoken_stream_kept(s, i)) {
                continue;
            }
            v = elem(s->res, i, arg);
            if (!v || bbtoken_json_element(v, flags, 1, n++ == 0) != 0) {
                json_decref(v);
                /* What was printed is no whole document: a reader
                 * notices, as the exit status says. */
                fflush(stdout);
                return bbtoken_fail("%s: cannot build JSON for row %ld",
                                    s->what, n);
            }
            json_decref(v);
        }
    }
    if (more < 0) {
        return BBTOKEN_EXIT_FAIL;
    }
    puts(n ? "\n]" : "[]");
    return 0;
}

int bbtoken_stream_report(bbtoken_ctx_t *ctx, const bbtoken_report_t *r, int n,
                          const char *const *params, int json)
{
    bbtoken_stream_t s;
    int rc;

    if ((rc =
             bbtoken_stream_open(ctx, &s, r->what, r->sql, n, params, !json))) {
        return rc;
    }
    rc = json ? bbtoken_stream_json(&s, r->json, NULL)
              : bbtoken_stream_table(&s, r->head, r->cols, NULL, r->fill, NULL,
                                     r->quiet_empty, NULL);
    return bbtoken_stream_close(&s, rc);
}

/* Tables of tokens (list, inventory): each row's cells as its
 * bbtoken_column_t say, streamed as the rows come. */

/* A token's permissions as one table cell, in buf: "PROJECT_X,REPO_Y", or
 * the repository permission alone (a repository's token has no project
 * permission). */
static const char *bbtoken_perms_cell(const PGresult *res, int row,
                                      int project_col, int repo_col, char *buf,
                                      size_t len)
{
    snprintf(buf, len, "%s%s%s", PQgetvalue(res, row, project_col),
             PQgetisnull(res, row, project_col) ? "" : ",",
             PQgetvalue(res, row, repo_col));
    return buf;
}

/* A token's expiry as one table cell: "never", or the time, in buf, with
 * " (expired)" when expired_col is true. */
static const char *bbtoken_expires_cell(const PGresult *res, int row,
                                        int expires_col, int expired_col,
                                        char *buf, size_t len)
{
    if (PQgetisnull(res, row, expires_col)) {
        return "never";
    }
    snprintf(buf, len, "%s%s", PQgetvalue(res, row, expires_col),
             PQgetvalue(res, row, expired_col)[0] == 't' ? " (expired)" : "");
    return buf;
}

static void bbtoken_token_row(const PGresult *res, int i, const char **row,
                              char (*scratch)[BBTOKEN_CELL_MAX],
                              const void *arg)
{
    const bbtoken_column_t *cols = arg, *c;
    int j, k = 0;

    for (j = 0; cols[j].head; j++) {
        c = &cols[j];
        switch (c->kind) {
        case BBTOKEN_COL_PERMS:
            row[j] = bbtoken_perms_cell(res, i, c->col, c->col2, scratch[k++],
                                        BBTOKEN_CELL_MAX);
            break;
        case BBTOKEN_COL_EXPIRES:
            row[j] = bbtoken_expires_cell(res, i, c->col, c->col2, scratch[k++],
                                          BBTOKEN_CELL_MAX);
            break;
        default:
            row[j] = c->null ? bbtoken_get(res, i, c->col, c->null)
                             : PQgetvalue(res, i, c->col);
            break;
        }
    }
}

int bbtoken_token_table(bbtoken_stream_t *s, const bbtoken_column_t *cols,
                        int ncols, long *rows)
{
    const char *head[BBTOKEN_TOKEN_COLS];
    int min[BBTOKEN_TOKEN_COLS];
    /* The row's columns end at the first without a head. */
    bbtoken_column_t row[BBTOKEN_TOKEN_COLS + 1];
    int j, nscratch = 0;

    if (ncols > BBTOKEN_TOKEN_COLS) {
        return bbtoken_fail("a table of %d columns: too wide", ncols);
    }
    memset(row, 0, sizeof(row));
    for (j = 0; j < ncols; j++) {
        head[j] = cols[j].head;
        min[j] = cols[j].min;
        row[j] = cols[j];
        nscratch += cols[j].kind != BBTOKEN_COL_VALUE;
    }
    if (nscratch > BBTOKEN_STREAM_SCRATCH) {
        return bbtoken_fail("a table of %d formatted columns: too many",
                            nscratch);
    }
    return bbtoken_stream_table(s, head, ncols, min, bbtoken_token_row, row, 0,
                                rows);
}
