/*
 * An interrupt of the CLI once connected (interrupt.c): SIGINT (Ctrl-C),
 * SIGTERM or SIGHUP stops the command where nothing is left half done,
 * and its one line says what its transactions did before, as a
 * failure's does, rather than the signal ending it mute.  A second
 * signal ends it at once.
 */
#ifndef BBTOKEN_INTERRUPT_H
#define BBTOKEN_INTERRUPT_H

#include <libpq-fe.h>

#include "cli.h"

/* Watch conn: a signal cancels the statement it runs.  The first call
 * with a connection catches the signals (not one ignored when the CLI
 * started: a job of a shell that ignores them); before it, they end the
 * CLI at once, as nothing is done yet.  NULL, before a connection is
 * finished: nothing to cancel. */
void bbtoken_interrupt_conn(PGconn *conn);

/* A step the first signal lets finish (on 1, then 0): a COMMIT, and the
 * finding out of one whose answer was lost (xact.c).  A second signal
 * ends the CLI at once, as it does wherever it comes. */
void bbtoken_interrupt_hold(int on);

/* The signal caught first, or 0. */
int bbtoken_interrupted(void);

/* Whether the command must stop before its next statement, or before
 * handing a message to the mailer: a signal caught, and no step held.
 * Every statement sent checks it (bbtoken_exec_once, and those sent
 * otherwise: a new token's row, a migration's script, a COMMIT). */
int bbtoken_interrupt_stops(void);

/* The name of the signal caught ("SIGINT"), for messages. */
const char *bbtoken_interrupt_name(void);

/* The command's one line where the signal stopped what (a statement
 * cancelled, or not sent): its transaction changed nothing, and what
 * came before it (ctx->done) stands.  BBTOKEN_EXIT_FAIL. */
int bbtoken_interrupt_fail(bbtoken_ctx_t *ctx, const char *what);

/* The same line for a step outside the database, stopped before or
 * while it ran (notify's mailer): what became of it (unsent, "that
 * message was not mailed"), and what came before it. */
int bbtoken_interrupt_unsent(bbtoken_ctx_t *ctx, const char *what,
                             const char *unsent);

/* main, at its end, with the command's exit status: after a signal, a
 * command that did not finish (rc not 0), its line said, ends by that
 * signal, as a shell expects of a command it interrupted (a loop over
 * commands stops too).  Returns otherwise. */
void bbtoken_interrupt_end(int rc);

#endif
