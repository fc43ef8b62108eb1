/*
 * What a refused statement means to the person who asked: one reading of
 * PostgreSQL's SQLSTATE and constraint name, shared by the REST API and the
 * CLI.  The schema names its rules (CHECK constraints, and triggers that
 * raise with CONSTRAINT = ...), so their refusals are recognised by name,
 * and everything unrecognised is a server fault, never a client's mistake.
 *
 * Nothing here knows httpd or libpq: the caller passes the error fields.
 */
#ifndef BBT_SQLSTATE_H
#define BBT_SQLSTATE_H

typedef enum {
    BBT_SQL_FAULT = 0,     /* anything else: the server's fault (503/500) */
    BBT_SQL_ID_TAKEN,      /* a fresh token id was taken: mint another */
    BBT_SQL_NOT_PERMITTED, /* the API refused the caller */
    BBT_SQL_NO_SUCH_USER,  /* the API found no such user */
    BBT_SQL_NO_SUCH_TOKEN, /* the API found no such token */
    BBT_SQL_NAME_TAKEN,    /* the owner has a live token of that name */
    BBT_SQL_POLICY,        /* a schema rule whose message is for people */
    BBT_SQL_REFUSED        /* other invalid input (classes 22 and 23) */
} bbt_sql_class_t;

/* Classify an error.  state is the SQLSTATE (NULL when libpq had none: a
 * lost connection), constraint the constraint name or NULL, message the
 * primary message or NULL. */
bbt_sql_class_t bbt_sql_classify(const char *state, const char *constraint,
                                 const char *message);

#endif
