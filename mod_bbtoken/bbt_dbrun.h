/*
 * For the files that run statements on a connection of bbt_db.c's: the
 * prepared ones (bbt_dblookup.c), each with a slot of its own, which each
 * pooled connection prepares on first use (see bbt_db.c for why, and for
 * the retry); and the throttled writes (bbt_dbwrite.c).
 */
#ifndef BBT_DBRUN_H
#define BBT_DBRUN_H

#include "apr_dbd.h"
#include "bbt_db.h"
#include "bbt_perm.h"

/* The slots, one for each prepared statement. */
typedef enum {
    BBT_STMT_LOOKUP = 0,
    BBT_STMT_LEVEL,
    BBT_STMT_PERSONAL,
    BBT_STMT_LEVELS,
    BBT_STMT_COUNT
} bbt_stmt_slot_t;

/* A statement: its slot, its label (pasted unquoted into PREPARE by the
 * driver: a plain identifier, a new one whenever its columns change), its
 * SQL with %s placeholders, and what it is, for the log. */
typedef struct {
    bbt_stmt_slot_t slot;
    const char *label, *sql, *what;
} bbt_db_stmt_t;

/* Run statement def with its nargs args (a NULL one is SQL NULL), once
 * more after a failure the connection can be recovered from: 0 and *res,
 * whose rows the caller reads to the end, or -1 (logged: BBT073 for a
 * failure tried again, errid for the last). */
int bbt_db_run(bbt_db_conn_t *c, const bbt_db_stmt_t *def, const char *errid,
               apr_dbd_results_t **res, int nargs, const char **args);

/* The connection's driver and handle, and the pool (the request's) that
 * results and what is copied from them live in. */
const apr_dbd_driver_t *bbt_db_driver(const bbt_db_conn_t *c);
apr_dbd_t *bbt_db_handle(const bbt_db_conn_t *c);
apr_pool_t *bbt_db_pool(const bbt_db_conn_t *c);

/* A statement failed (rv, the driver's code; 0 for a PREPARE): logged at
 * level under id, what failed and the database's word on it. */
void bbt_db_log(bbt_db_conn_t *c, int level, int rv, const char *id,
                const char *what);

/* A failure that is tried once more (BBT073: bbt_db_run's, a throttled
 * write's on a connection PostgreSQL dropped, and the schema's read where
 * a connection is taken): a warning, since the request (or the write) may
 * yet succeed.  rv: the driver's code, 0 for libpq's last word. */
void bbt_db_retrying(bbt_db_conn_t *c, int rv, const char *what);

/* What failed for the last time, at error under id: as bbt_db_log, or,
 * where the connection could not be connected again (bbt_db_unreached),
 * libpq's reason for that, and then counted as no connection had from
 * the pool: the request has none, as when it is found so where taken. */
void bbt_db_gave_up(bbt_db_conn_t *c, int rv, const char *id, const char *what);

/* A try of a statement that started at start (bbt_mono_now: a step of
 * the wall clock is no statement's time), its PREPARE included where it
 * needed one, has ended with rv (0: success; a failed PREPARE, -1):
 * counted, with its time, for the metrics.  Once per try. */
void bbt_db_counted(apr_time_t start, int rv);

/* Whether a throttled write on c waited out its limit (a lock, its
 * statement_timeout), and the rest of c's writes are not tried: each
 * would hold the connection as long again; or found c dropped by
 * PostgreSQL and could not be made on it connected again. */
int bbt_db_writes_held(const bbt_db_conn_t *c);
void bbt_db_hold_writes(bbt_db_conn_t *c);

/* Say at debug (BBT085) that what, a throttled write, was not made, and
 * why: no error, a later request makes it. */
void bbt_db_write_skipped(bbt_db_conn_t *c, const char *what, const char *why);

/* Log a line under its message id, with the request, so the line names
 * its client. */
void bbt_db_say(const bbt_db_conn_t *c, int level, const char *id,
                const char *text);

/* A level the SQL functions give, one digit (bbt_level_from_db); anything
 * else is none.  Read by the token lookup and by a password user's. */
static inline bbt_level_t bbt_db_int_level(const char *v)
{
    bbt_level_t l = BBT_LEVEL_NONE;

    if (v && v[0] >= '0' && v[0] <= '9' && v[1] == '\0') {
        bbt_level_from_db(v[0] - '0', &l);
    }
    return l;
}

#endif
