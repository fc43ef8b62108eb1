/*
 * Rows read a batch at a time (stream.c): reports printed as tables, read
 * twice, or as JSON, an element at a time; a held cursor's rows a group
 * at a time; the token tables.
 */
#ifndef BBTOKEN_STREAM_H
#define BBTOKEN_STREAM_H

#include <libpq-fe.h>

#include "cli.h"

/* What a stream does to each batch before printing it (a revocation):
 * *kept gets a result of a row per row of res, in order, whose first
 * column is true for a row to print.  0, or an exit status after
 * reporting; with *kept set, the batch was acted on all the same (done,
 * and then stopped: xact.c), and it is printed before the pass stops. */
typedef int bbtoken_stream_act_fn(bbtoken_ctx_t *ctx, const PGresult *res,
                                  PGresult **kept, void *arg);

/* Rows read a batch at a time (stream.c): from a cursor held past the
 * read-only transaction it was declared in, or from one result already in
 * hand. */
typedef struct {
    bbtoken_ctx_t *ctx;
    const char *what; /* in messages */
    PGresult *res;    /* the batch in hand */
    int cursor;       /* a cursor is open; else res is all of the rows */
    int held;         /* ... WITH HOLD, its transaction committed */
    int done;         /* res, all of the rows, was handed out */
    /* NULL, or what a printing pass does first to each batch (a held
     * cursor's: it writes), and its verdict on res's rows. */
    bbtoken_stream_act_fn *act;
    void *act_arg;
    PGresult *kept;
    int stop; /* act stopped after the batch in hand: no further one */
    /* A held cursor's: the batch in hand is its last (its act holds
     * nothing of the session for after), and the session's count of
     * ctx->lost when it was opened. */
    int drained;
    unsigned lost;
} bbtoken_stream_t;

/* Open a cursor over sql WITH HOLD, SCROLL to be read twice (a table):
 * one snapshot, whose rows the server computes whole at the COMMIT that
 * ends its transaction, and keeps past it, so that no transaction, no lock
 * and no snapshot is held while the rows are printed (a stdout that
 * blocks would hold them as long).  0, or an exit status after
 * reporting. */
int bbtoken_stream_open(bbtoken_ctx_t *ctx, bbtoken_stream_t *s,
                        const char *what, const char *sql, int n,
                        const char *const *params, int scroll);

/* bbtoken_stream_open of a SCROLL cursor, for act (a stream's, which may
 * be NULL) to write in transactions of its own, each as short as a batch,
 * while the rows are printed.  0, or an exit status after reporting. */
int bbtoken_stream_open_held(bbtoken_ctx_t *ctx, bbtoken_stream_t *s,
                             const char *what, const char *sql, int n,
                             const char *const *params,
                             bbtoken_stream_act_fn *act, void *arg);

/* The rows of res, which the stream frees. */
void bbtoken_stream_result(bbtoken_stream_t *s, PGresult *res);

/* End the stream: COMMIT when rc is 0, else ROLLBACK (a held cursor:
 * CLOSE, unless its session was lost since: it went with it).  rc, or an
 * exit status after reporting. */
int bbtoken_stream_close(bbtoken_stream_t *s, int rc);

/* The most scratch cells a row fills. */
#define BBTOKEN_STREAM_SCRATCH 4

/* Set a table's row from row i of res; formatted cells go into scratch. */
typedef void bbtoken_stream_fill_fn(const PGresult *res, int i,
                                    const char **row,
                                    char (*scratch)[BBTOKEN_CELL_MAX],
                                    const void *arg);

/* Row i of res as a JSON array's element; NULL is out of memory. */
typedef json_t *bbtoken_stream_json_fn(const PGresult *res, int i,
                                       const void *arg);

/* Print the rows as one JSON array, as bbtoken_json_out would, an element
 * at a time.  0, or an exit status after reporting, after whatever was
 * printed (then no whole document). */
int bbtoken_stream_json(bbtoken_stream_t *s, bbtoken_stream_json_fn *elem,
                        const void *arg);

/* Declare cursor `name` (an identifier) over sql WITH HOLD, in the
 * caller's transaction: the server keeps its rows past the COMMIT, so
 * that statements of their own (writes a read-only snapshot cannot
 * make) run between its batches.  0, or an exit status after
 * reporting. */
int bbtoken_stream_hold(bbtoken_ctx_t *ctx, const char *what, const char *name,
                        const char *sql);

/* The same without HOLD: its rows are read in the transaction, which must
 * stay open while they are (notify's dry run, which rolls it back). */
int bbtoken_stream_scroll(bbtoken_ctx_t *ctx, const char *what,
                          const char *name, const char *sql);

/* Whether rows a and b of res go together. */
typedef int bbtoken_same_fn(const PGresult *res, int a, int b);

/* A held cursor's rows a group at a time: the rows that go together
 * (same), each group whole however big, the rest a batch at a time. */
typedef struct {
    bbtoken_ctx_t *ctx;
    const char *what;   /* in messages */
    const char *cursor; /* its name */
    bbtoken_same_fn *same;
    PGresult *res; /* the batch in hand */
    long size;     /* rows a batch asks for */
    int next;      /* the next group's first row in res */
    int last;      /* res ends with the cursor's last row */
} bbtoken_groups_t;

void bbtoken_groups_init(bbtoken_groups_t *g, bbtoken_ctx_t *ctx,
                         const char *what, const char *cursor,
                         bbtoken_same_fn *same);

/* The next group: rows [*first, *end) of g->res, valid until the next
 * call.  1; 0 after the last; -1 after a failure (reported). */
int bbtoken_groups_next(bbtoken_groups_t *g, int *first, int *end);

/* Free the batch in hand and close the cursor. */
void bbtoken_groups_close(bbtoken_groups_t *g);

/* A report read through a stream: its statement, and its rows as a table
 * or as JSON. */
typedef struct {
    const char *what; /* in messages */
    const char *sql;
    const char *const *head; /* the table's */
    int cols;
    bbtoken_stream_fill_fn *fill;
    bbtoken_stream_json_fn *json;
    int quiet_empty; /* no rows: no table, not even its header */
} bbtoken_report_t;

/* Run r's statement with its n params and print its rows (as JSON when
 * json).  0, or an exit status after reporting. */
int bbtoken_stream_report(bbtoken_ctx_t *ctx, const bbtoken_report_t *r, int n,
                          const char *const *params, int json);

/* One column of a token table: its header, its least width, and what of
 * the result it shows. */
typedef enum {
    BBTOKEN_COL_VALUE,  /* col's value, or `null` (if set) for SQL NULL */
    BBTOKEN_COL_PERMS,  /* bbtoken_perms_cell of col and col2 */
    BBTOKEN_COL_EXPIRES /* bbtoken_expires_cell of col and col2 */
} bbtoken_col_kind_t;

typedef struct {
    const char *head;
    int min;
    bbtoken_col_kind_t kind;
    int col, col2;
    const char *null;
} bbtoken_column_t;

/* The most columns a token table has, and how many an array of them
 * holds. */
#define BBTOKEN_TOKEN_COLS 12
#define BBTOKEN_NCOLS(cols) ((int)(sizeof(cols) / sizeof((cols)[0])))

/* Print the rows of s as a table of ncols columns (at most
 * BBTOKEN_TOKEN_COLS); *rows (if rows) gets how many.  0, or an exit
 * status after reporting. */
int bbtoken_token_table(bbtoken_stream_t *s, const bbtoken_column_t *cols,
                        int ncols, long *rows);

#endif
