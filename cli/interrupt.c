/*
 * SIGINT, SIGTERM and SIGHUP once the CLI is connected (interrupt.h).
 * Their default, ending the process at once, would leave a command of
 * many transactions mute: the batches a bulk revocation committed stay
 * revoked and audited, with no summary on stdout and nothing on stderr.
 * So they are caught.  The handler notes the signal and cancels the
 * statement running (PQcancel, which a handler may call: libpq's wait
 * for the answer goes on through the signal, and would otherwise last
 * as long as the statement); the database rolls its transaction back,
 * and the command's failure's one line says so and what came before
 * (ctx->done).  A statement not yet sent is not sent
 * (bbtoken_exec_once): the command stops between its transactions.
 * main then ends the process by the signal.
 *
 * A COMMIT is let finish: cancelled while it waits for a synchronous
 * standby, it would stay committed on this server and perhaps not on the
 * standby.  So is the finding out of one whose answer was lost (xact.c),
 * whose outcome the line must tell.
 *
 * A second signal ends the CLI at once, its default's way, whatever it
 * waits for: a reader of its output that does not read (a write
 * restarted after the first), a backend that does not answer the cancel
 * (stopped, or behind a network that drops it), PQcancel itself, which
 * has no deadline of its own and waits for a postmaster that does not
 * answer, or a COMMIT let finish.  Whoever sends it wants the CLI gone,
 * and no wait of the CLI's may outlast that.  So the handler blocks no
 * signal while it runs (SA_NODEFER, an empty sa_mask): the second gets
 * in even while the first's PQcancel waits.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "interrupt.h"

static volatile sig_atomic_t bbtoken_sig;  /* the first caught, or 0 */
static volatile sig_atomic_t bbtoken_sigs; /* how many, counted to 2 */
static volatile sig_atomic_t bbtoken_held; /* a step let finish */
/* Swapped with every signal blocked, so never half written when the
 * handler reads it. */
static PGcancel *volatile bbtoken_cancel;
static int bbtoken_catching;

static const int bbtoken_caught[] = {SIGINT, SIGTERM, SIGHUP};
#define BBTOKEN_NCAUGHT ((int)(sizeof(bbtoken_caught) / sizeof(int)))

static void bbtoken_interrupt_handler(int sig)
{
    char err[256];
    sigset_t ours, was;
    PGcancel *c;
    int saved = errno, n, i;

    /* Counted with the three blocked, so that one nested into this
     * handler is never lost between the read and the write. */
    sigemptyset(&ours);
    for (i = 0; i < BBTOKEN_NCAUGHT; i++) {
        sigaddset(&ours, bbtoken_caught[i]);
    }
    sigprocmask(SIG_BLOCK, &ours, &was);
    if (!bbtoken_sig) {
        bbtoken_sig = sig;
    }
    n = bbtoken_sigs < 2 ? ++bbtoken_sigs : 2;
    c = bbtoken_held ? NULL : bbtoken_cancel;
    if (n > 1) {
        /* Pending while blocked, and the default's as it is unblocked. */
        signal(sig, SIG_DFL);
        raise(sig);
        sigemptyset(&ours);
        sigaddset(&ours, sig);
        sigprocmask(SIG_UNBLOCK, &ours, NULL);
    }
    sigprocmask(SIG_SETMASK, &was, NULL);
    if (c) {
        /* Its failure leaves the statement to end as it would. */
        PQcancel(c, err, (int)sizeof(err));
    }
    errno = saved;
}

/* Catch the signals not ignored: a shell starts a background job with
 * SIGINT ignored, and it must stay so. */
static void bbtoken_interrupt_catch(void)
{
    struct sigaction sa, old;
    int i;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = bbtoken_interrupt_handler;
    /* A write to stdout a reader keeps waiting is not cut short (EINTR
     * would be reported as the listing's failure). */
    sa.sa_flags = SA_RESTART | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (i = 0; i < BBTOKEN_NCAUGHT; i++) {
        if (sigaction(bbtoken_caught[i], NULL, &old) == 0 &&
            old.sa_handler != SIG_IGN) {
            sigaction(bbtoken_caught[i], &sa, NULL);
        }
    }
    bbtoken_catching = 1;
}

void bbtoken_interrupt_conn(PGconn *conn)
{
    PGcancel *c = conn ? PQgetCancel(conn) : NULL, *prev;
    sigset_t all, was;

    if (conn && !bbtoken_catching) {
        bbtoken_interrupt_catch();
    }
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &was);
    prev = bbtoken_cancel;
    bbtoken_cancel = c;
    sigprocmask(SIG_SETMASK, &was, NULL);
    PQfreeCancel(prev);
}

void bbtoken_interrupt_hold(int on)
{
    bbtoken_held = on;
}

int bbtoken_interrupted(void)
{
    return bbtoken_sig;
}

int bbtoken_interrupt_stops(void)
{
    return bbtoken_sig && !bbtoken_held;
}

const char *bbtoken_interrupt_name(void)
{
    switch (bbtoken_sig) {
    case SIGINT:
        return "SIGINT";
    case SIGTERM:
        return "SIGTERM";
    case SIGHUP:
        return "SIGHUP";
    default:
        return "a signal";
    }
}

int bbtoken_interrupt_fail(bbtoken_ctx_t *ctx, const char *what)
{
    char unchanged[sizeof(ctx->done) + 64];

    return bbtoken_fail("%s: not done: interrupted by %s, so %s", what,
                        bbtoken_interrupt_name(),
                        BBTOKEN_UNCHANGED(ctx, unchanged));
}

int bbtoken_interrupt_unsent(bbtoken_ctx_t *ctx, const char *what,
                             const char *unsent)
{
    char after[sizeof(ctx->done) + 16];

    return bbtoken_fail(
        "%s: not done: interrupted by %s, so %s%s", what,
        bbtoken_interrupt_name(), unsent,
        bbtoken_changed(ctx, " and nothing was changed (safe to run again)",
                        ", but ", after, sizeof(after)));
}

void bbtoken_interrupt_end(int rc)
{
    sigset_t set;
    int sig = bbtoken_sig;

    if (!sig || rc == 0) {
        return;
    }
    fflush(stdout);
    fflush(stderr);
    signal(sig, SIG_DFL);
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
}
