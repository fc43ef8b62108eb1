/*
 * The cache listener's probe (bbt_lprobe.h).
 */
#include "httpd.h"
#include "http_log.h"

#include <stdlib.h>
#include <string.h>

#include "bbt_cache.h"
#include "bbt_lprobe.h"
#include "bbt_lsession.h"
#include "bbt_mono.h"

APLOG_USE_MODULE(bbtoken);

#define BBT_LPROBE_EVERY_US apr_time_from_sec(10)
#define BBT_LPROBE_RETRY_US apr_time_from_sec(1)
#define BBT_LPROBE_LATE_US apr_time_from_sec(2)

static struct {
    server_rec *s;
    apr_uint64_t seq; /* the last probe sent, from pid */
    int pid;
    int be_pid; /* the listener's backend */
    apr_int64_t sent, due;
    int out;       /* sent, not back yet */
    int heard;     /* one came back since LISTEN */
    int told;      /* BBT712 said, none back since */
    int told_pool; /* BBT714 said, none back since */
    int serving;   /* BBT309 said at notice since heard was last 0 */
    int again;     /* ... and it says "again" */
} P;

/* BBT309 is said here, where it is known whether the listener serves:
 * while its probe fails (BBT712, BBT714) a connection of its proves
 * nothing, and it is said at notice only once the cache is believed, with
 * the first heartbeat published (which waits for a probe back): said
 * before, it would tell the administrator the cache is in use while every
 * request still reads the database. */
static void bbt_lprobe_hears(int level, int again)
{
    ap_log_error(APLOG_MARK, level, 0, P.s,
                 "BBT309: the token cache's listener hears PostgreSQL%s "
                 "(backend %d)",
                 again ? " again" : "", P.be_pid);
}

void bbt_lprobe_reset(server_rec *s, int be_pid, int again)
{
    P.out = P.heard = P.serving = 0;
    P.again = again;
    P.due = 0;
    P.s = s;
    P.be_pid = be_pid;
    if (P.told || P.told_pool) {
        bbt_lprobe_hears(APLOG_DEBUG, again);
    }
}

void bbt_lprobe_serving(void)
{
    if (!P.serving) {
        bbt_lprobe_hears(APLOG_NOTICE, P.again);
        P.serving = 1;
    }
}

void bbt_lprobe_tick(apr_pool_t *pool, server_rec *s, const char *channel)
{
    char why[256];
    int pid = 0, rc;

    if (P.out || bbt_mono_now() < P.due) {
        return;
    }
    why[0] = '\0';
    /* Until one comes back the cache is not believed, every request reads
     * the database and some thread nearly always waits for a place: the
     * probe queues with them, or it would wait out the load.  Once the
     * cache is believed a wait would hold the heartbeat back, and a place
     * is free most of the time. */
    rc = bbt_lsession_probe(pool, s, channel, ++P.seq, !P.heard, &pid, why,
                            sizeof(why));
    if (rc == -2) {
        /* Sent again from there, it would fail again (and a standby logs
         * each refusal as an ERROR): tried again when the next is due.
         * Nothing is believed meanwhile, as if it had never come back. */
        P.heard = P.serving = 0;
        P.again = 1;
        bbt_cache_listener_down();
        ap_log_error(APLOG_MARK, P.told_pool ? APLOG_DEBUG : APLOG_WARNING, 0,
                     s,
                     "BBT714: the token cache's listener cannot send its "
                     "probe: mod_dbd's pool reaches a server that cannot "
                     "send NOTIFY (a hot standby, or a role that may not run "
                     "pg_notify: %s): the cache is not believed and token "
                     "requests read the database; trying again every 10 "
                     "seconds",
                     why);
        P.told_pool = 1;
        P.due = bbt_mono_now() + BBT_LPROBE_EVERY_US;
        return;
    }
    if (rc != 1) {
        ap_log_error(
            APLOG_MARK, APLOG_DEBUG, 0, s,
            "BBT713: the token cache's listener could not send its probe "
            "(%s); trying again",
            why[0] ? why : "no connection of mod_dbd's pool");
        P.due = bbt_mono_now() + BBT_LPROBE_RETRY_US;
        return;
    }
    P.pid = pid;
    P.sent = bbt_mono_now();
    P.out = 1;
}

int bbt_lprobe_heard(const PGnotify *n, const char *channel)
{
    if (!P.out || n->be_pid != P.pid || strcmp(n->relname, channel) != 0 ||
        n->extra[0] != 'p' || strtoull(n->extra + 1, NULL, 10) != P.seq) {
        return 0;
    }
    P.out = 0;
    P.heard = 1;
    P.told = P.told_pool = 0;
    P.due = bbt_mono_now() + BBT_LPROBE_EVERY_US;
    return 1;
}

int bbt_lprobe_ok(void)
{
    return P.heard;
}

int bbt_lprobe_late(server_rec *s)
{
    if (!P.out || bbt_mono_now() - P.sent <= BBT_LPROBE_LATE_US) {
        return 0;
    }
    ap_log_error(APLOG_MARK, P.told ? APLOG_DEBUG : APLOG_WARNING, 0, s,
                 "BBT712: the token cache's listener does not hear other "
                 "sessions' notifications (its probe, sent from a pooled "
                 "connection, did not come back within 2 seconds: a "
                 "transaction-pooling proxy between httpd and PostgreSQL?): "
                 "the cache is not believed; trying again");
    P.told = 1;
    P.out = 0;
    return 1;
}

int bbt_lprobe_out(void)
{
    return P.out;
}
