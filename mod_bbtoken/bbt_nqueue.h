/*
 * PostgreSQL's NOTIFY queue, as the cache's listener reads it with every
 * heartbeat (pg_notification_queue_usage(), in the heartbeat's statement:
 * bbt_listensql.h).
 *
 * The queue is the cluster's, shared by every database in it, and any
 * role that may log in to any of them can fill it: a session that
 * LISTENs and keeps a transaction open holds back the queue's tail for
 * everyone, and then another session's notifications pile up behind it
 * (8 GB of them by default).  Once it is full, every transaction that
 * notifies fails at its COMMIT: a revocation, a user disabled, a grant
 * changed, a token made, and the listener's own heartbeat, so the cache
 * is not believed.  It empties only when that session's transaction ends.
 * So its fill is a gauge, and said in the error log on its way up, while
 * there is time to end that session (PostgreSQL's own log names its pid,
 * from half full).
 */
#ifndef BBT_NQUEUE_H
#define BBT_NQUEUE_H

#include "httpd.h"

/* The gauge's unit: the queue's fill in billionths (a page of 8 kB is a
 * millionth of the default queue's). */
#define BBT_NQUEUE_SCALE 1000000000

/* The listener read the queue's fill (the text of an integer, in
 * billionths; NULL when it read none): the gauge set, and a fill of half
 * or more said once (BBT315), until it is under a quarter again (BBT316).
 * The listener's thread's alone. */
void bbt_nqueue_heard(server_rec *s, const char *billionths);

#endif
