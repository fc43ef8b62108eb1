/*
 * A connection of bbt_db.c's from the inside, for bbt_db.c, which takes
 * and gives back the pooled connections, and bbt_dbstmt.c, which prepares
 * and runs the statements on them.  Nothing else reads these fields.
 */
#ifndef BBT_DBCONN_H
#define BBT_DBCONN_H

#include "httpd.h"
#include "mod_dbd.h"

#include <libpq-fe.h>

#include "bbt_db.h"
#include "bbt_dbgate.h"
#include "bbt_dbrun.h"
#include "bbt_dbsession.h"

/* A backend of a pooled connection: its generation
 * (bbt_dbsession_generation), and its process id for a connection whose
 * resets libpq does not tell. */
typedef struct {
    unsigned long generation;
    int pid; /* 0: none */
} bbt_db_backend_t;

/* Kept with a pooled connection (bbt_dbsession_memo, in the connection's
 * own pool), which only the connection's current holder touches. */
typedef struct {
    apr_dbd_prepared_t *stmt[BBT_STMT_COUNT];
    bbt_db_backend_t prepared[BBT_STMT_COUNT]; /* where each was prepared */
    /* What each was prepared in, cleared when it is prepared again: the
     * driver allocates a statement anew each time, and a connection may
     * live for days of a fault that has it prepared again every request
     * (a grant taken away, a statement_timeout). */
    apr_pool_t *spool[BBT_STMT_COUNT];
    /* The backend whose database's encoding was looked at, and the one
     * found no hot standby: both hold for a backend's life (a standby
     * may be promoted, a primary becomes a standby only by a restart), so
     * they are asked of libpq's list of reported values (a walk with a
     * string compared at each step) once per backend, not per request. */
    bbt_db_backend_t enc_seen;
    bbt_db_backend_t primary;
} bbt_db_state_t;

struct bbt_db_conn {
    apr_pool_t *pool;
    server_rec *s;
    request_rec *r; /* the request the queries are for, or NULL */
    ap_dbd_t *dbd;
    PGconn *pg;
    /* Looked up once while the connection is held. */
    bbt_dbsession_t *sess;
    bbt_db_state_t *st;
    PGVerbosity verbosity; /* the pooled connection's own, given back */
    int gated;             /* holds a place of bbt_dbgate's */
    int borrowed;          /* the request's own (bbt_dbgate_held): kept */
    bbt_gate_t *gate;      /* the counter it holds it of */
    int writes_held;       /* a write was not made (bbt_dbwrite.c) */
    const char *unreached; /* see bbt_db_unreached */
};

/* The connection's backend now. */
bbt_db_backend_t bbt_db_backend_now(const bbt_db_conn_t *c);

#endif
