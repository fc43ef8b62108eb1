/*
 * The CLI's transactions (tx.c): every write runs in one, and every
 * statement outside one is its own, run again when the database aborts
 * it to let another go on.
 */
#ifndef BBTOKEN_TX_H
#define BBTOKEN_TX_H

#include <libpq-fe.h>

#include "cli.h"

/* Run a statement; NULL (reported as `what`) unless it succeeded.  Run
 * outside a transaction, the statement is its own and bbtoken_tx runs it
 * (again when the database aborted it).  tx.c. */
PGresult *bbtoken_exec(bbtoken_ctx_t *ctx, const char *what, const char *sql,
                       int n, const char *const *params);

/* Run a statement that changes rows; *rows gets how many. */
int bbtoken_exec_rows(bbtoken_ctx_t *ctx, const char *what, const char *sql,
                      int n, const char *const *params, long *rows);

/* bbtoken_exec_rows for a statement every change of which the schema's
 * triggers record in the audit trail (bbtoken_tx_t's audited): outside a
 * transaction, a lost COMMIT of one that recorded none lost nothing. */
int bbtoken_exec_audited(bbtoken_ctx_t *ctx, const char *what, const char *sql,
                         int n, const char *const *params, long *rows);

/* A transaction (tx.c): its statements, then COMMIT. */
typedef struct {
    const char *what;   /* what it does, in messages */
    const char *begin;  /* "BEGIN ..."; NULL: body is one statement, its
                           own transaction, and there is no COMMIT */
    const char *commit; /* the COMMIT, in messages; NULL: what */
    /* The statements, through bbtoken_exec: 0 to commit, or an exit status
     * (BBTOKEN_EXIT_FAIL after reporting, or the caller's own) to roll
     * back.  A try may be run again: it keeps in arg what the next one
     * needs, and shows nothing it would show twice. */
    int (*body)(bbtoken_ctx_t *ctx, void *arg);
    void *arg;
    /* A COMMIT whose answer the connection lost, in messages, where the
     * database, asked again (xact.c), cannot say whether it committed.
     * NULL: what, and that it is not known whether it took effect. */
    const char *lost;
    /* What tells its commit from another's after such a loss; NULL: its
     * records in the audit trail. */
    const struct bbtoken_tx_ask *ask;
    /* Every change it can make writes a record of this transaction to the
     * audit trail (the schema's triggers: what they record, and what
     * other triggers derive from that alone), so one that wrote none
     * changed nothing, whatever id it took (a row locked, one written
     * over with the values it held), and a lost COMMIT lost nothing
     * (xact.c).  0 where it may change what the audit trail does not
     * record (notify's notices, db check --repair's lookup rows, purge's
     * leak report counts, a migration). */
    int audited;
} bbtoken_tx_t;

/* The rows' evidence of a transaction's commit (bbt_xact.h), asked about
 * after its COMMIT's answer was lost, where the audit trail's is not the
 * one: a token made, or rotated. */
typedef struct bbtoken_tx_ask {
    const char *sql;      /* BBT_XACT_ASK(...): $1 its id, $2 its server */
    const char *args[2];  /* its $3 and $4 (NULL: none) */
    const char *evidence; /* what the rows then hold, in messages */
    const char *done;     /* what was done, in messages (NULL: what) */
} bbtoken_tx_ask_t;

/* How many times bbtoken_tx runs a transaction the database aborts. */
#define BBTOKEN_TX_TRIES 5

/* Run tx: BEGIN, its body, COMMIT.  A try the database aborted to let a
 * concurrent transaction go on (deadlock, serialization failure:
 * BBT_SQL_CONFLICT), in any statement or the COMMIT, did nothing, and is
 * run again from BEGIN after a short random pause, up to BBTOKEN_TX_TRIES
 * in all; then one line naming the SQLSTATE.  Any other failure is final.
 * The body's status, or an exit status after reporting. */
int bbtoken_tx(bbtoken_ctx_t *ctx, const bbtoken_tx_t *tx);

#endif
