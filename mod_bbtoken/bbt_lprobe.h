/*
 * The cache listener's probe (bbt_listen.c): proof that a notification
 * another session sends reaches the listener's connection while it is
 * idle.  The heartbeat, sent and heard within the listener's own
 * transaction, cannot show that: a transaction-pooling proxy (PgBouncer,
 * pool_mode=transaction) links the listener's client to a server
 * connection only for its transactions, and drops what arrives between
 * them, so the cache would be believed while revocations go unheard.  The
 * probe is NOTIFY on the heartbeat's channel from a connection of
 * mod_dbd's pool (bbt_lsession.h), at once after each LISTEN and then
 * every ten seconds; nothing is believed before one has come back, and one
 * that does not come back within two seconds ends the listener's
 * connection.  It is sent only while the listener is idle, and no
 * heartbeat goes while it is out: heard at the end of the listener's own
 * transaction (the proxy links it then) it would prove nothing.  Until
 * one has come back it queues for a place of the module's in the pool as
 * the listener's read of the pooled session does (bbt_lsession.h): every
 * request reads the database meanwhile, some thread nearly always waits
 * for a place, and one that does not wait is never given one.  After
 * that, the cache believed, it takes a place only if one is free at once
 * (bbt_dbgate.h), a wait holding the heartbeat back.  A probe not sent
 * is tried again a second later.  A pool that
 * reaches a hot standby cannot send it (nor one whose role may not run
 * pg_notify): the cache is not believed while it does, said once, and the
 * probe tried again every ten seconds.  The state is the listener's
 * thread's.
 */
#ifndef BBT_LPROBE_H
#define BBT_LPROBE_H

#include "httpd.h"

#include <libpq-fe.h>

/* LISTEN took effect anew on the listener's backend be_pid: no probe
 * heard, one due now.  Says so at debug while the probe fails (BBT712,
 * BBT714); BBT309 at notice waits for bbt_lprobe_serving. */
void bbt_lprobe_reset(server_rec *s, int be_pid, int again);

/* A heartbeat was published, the cache believed: the first since LISTEN
 * (or since the probe could not be sent at all, BBT714) says so, BBT309 at
 * notice, "again" if again (or after BBT714). */
void bbt_lprobe_serving(void);

/* Send the probe on channel if one is due and none is out (a blocking
 * round trip on a pooled connection, two seconds at most; one that cannot
 * be sent is tried again a second later, ten seconds later when the
 * pooled session cannot send it at all, which is said: BBT714, once until
 * one comes back, then debug). */
void bbt_lprobe_tick(apr_pool_t *pool, server_rec *s, const char *channel);

/* Whether notification n, on channel, is the probe out (and takes it). */
int bbt_lprobe_heard(const PGnotify *n, const char *channel);

/* Whether a probe has come back since LISTEN. */
int bbt_lprobe_ok(void);

/* Whether the probe out is more than two seconds late: then says so
 * (BBT712, once until one comes back, then debug). */
int bbt_lprobe_late(server_rec *s);

/* Whether a probe is out. */
int bbt_lprobe_out(void);

#endif
