/*
 * What a refused statement means to the person who asked: one reading of
 * PostgreSQL's SQLSTATE and constraint name, shared by the REST API and the
 * CLI.  The schema names its rules (CHECK constraints, and triggers that
 * raise with CONSTRAINT = ...), so their refusals are recognised by name,
 * and everything unrecognised is a server fault, never a client's mistake.
 * What a person is told comes from here too: the schema's own words where
 * they are written for people, else ours; never a constraint's name.
 *
 * Nothing here knows httpd or libpq: the caller passes the error fields.
 */
#ifndef BBT_SQLSTATE_H
#define BBT_SQLSTATE_H

#include <stddef.h>

typedef enum {
    BBT_SQL_FAULT = 0,     /* anything else: the server's fault (503/500) */
    BBT_SQL_PRIVILEGE,     /* the database refused the role a privilege (a
                              missing GRANT): the server's fault, never
                              "not permitted" */
    BBT_SQL_ID_TAKEN,      /* a fresh token id was taken: mint another */
    BBT_SQL_NOT_PERMITTED, /* the API refused the caller */
    BBT_SQL_NO_SUCH_USER,  /* the API found no such user */
    BBT_SQL_NO_SUCH_TOKEN, /* the API found no such token */
    BBT_SQL_NAME_TAKEN,    /* the owner has a live token of that name */
    BBT_SQL_POLICY,        /* a schema rule whose message is for people */
    BBT_SQL_UNSTORABLE,    /* a character the database's encoding does not
                              have (a CJK name in LATIN1): the client's
                              text, refused as such, never a fault */
    BBT_SQL_REFUSED,       /* other invalid input (classes 22 and 23) */
    BBT_SQL_CONFLICT       /* the server aborted the transaction to let a
                              concurrent one go on (40P01 deadlock, 40001
                              serialization failure): it did nothing, and
                              run again it may well succeed */
} bbt_sql_class_t;

/* Classify an error.  state is the SQLSTATE (NULL when libpq had none: a
 * lost connection), constraint the constraint name or NULL, message the
 * primary message or NULL. */
bbt_sql_class_t bbt_sql_classify(const char *state, const char *constraint,
                                 const char *message);

/* Whether state (NULL when libpq had none) says the database refused a
 * write because it is read-only (25006: a hot standby, or a session whose
 * transactions are read-only): no retry can succeed until the writes reach
 * a primary. */
int bbt_sql_read_only(const char *state);

/* Whether state (NULL when libpq had none) says a statement was ended
 * after waiting its whole limit: statement_timeout (57014, as a cancel
 * request's) or lock_timeout (55P03).  Run again, it would wait as long. */
int bbt_sql_waited_out(const char *state);

/* Whether state (NULL when libpq had none) says a PREPARE found a
 * statement of its name there already (42P05, duplicate_prepared_statement). */
int bbt_sql_stmt_exists(const char *state);

/* Whether state (NULL when libpq had none) says a lock was given up on
 * after lock_timeout (55P03, lock_not_available). */
int bbt_sql_lock_given_up(const char *state);

/* What to tell the person whose request was refused, for any class but
 * BBT_SQL_FAULT and BBT_SQL_PRIVILEGE (NULL for those): a static text, or
 * the database's message (or the part of it after the rule's name) where
 * the schema writes it for people.  The same arguments as
 * bbt_sql_classify. */
const char *bbt_sql_message(const char *state, const char *constraint,
                            const char *message);

/* libpq's error text as one log line, into buf (n bytes, n > 0): its
 * trailing newline gone and each run of white space inside (the newline
 * and tab before a HINT or a second sentence) one space, so an error log
 * line ends where its message does; and what is shaped like a token
 * hidden (bbt_token_mask), as a log holds none: the schema's messages
 * quote user and token names, and its DETAIL a row's values.  fallback
 * when there is no text. */
const char *bbt_sql_line(char *buf, size_t n, const char *message,
                         const char *fallback);

#endif
