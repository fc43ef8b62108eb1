/*
 * The cache listener's retries (bbt_listen.c): when it connects again,
 * and what it says of a connection lost (BBT307) or not made (BBT308).
 *
 * The wait doubles from 0.25 s to 8 s with each failure, and starts again
 * from 0.25 s only once a heartbeat has come back: a connection whose
 * subscription works while every heartbeat fails (a table its statement
 * reads refused to httpd's role, as between `bbtoken db upgrade` and
 * grants.sql) is no connection that works, and reset at each subscription
 * it would connect again every few tenths of a second, a new PostgreSQL
 * session each time, for as long as that lasts.  Each message is said at
 * notice the first time and at debug while it repeats: BBT308 once per
 * outage, BBT307 again at notice only for another reason, or after a
 * heartbeat came back.  The state is the listener's thread's.
 */
#ifndef BBT_LBACK_H
#define BBT_LBACK_H

#include "httpd.h"

typedef struct {
    apr_int64_t next_try; /* monotonic: no connection before */
    apr_int64_t backoff;  /* the last wait of the backoff; 0: none yet */
    int told_down;        /* BBT307 or BBT308 said since the last LISTEN */
    char lost[256];       /* BBT307's reason as said at notice since the
                             last heartbeat back; "" */
} bbt_lback_t;

/* The next try no sooner than delay from now (microseconds). */
void bbt_lback_later(bbt_lback_t *b, apr_int64_t delay);

/* The next try after the backoff, doubled (0.25 s the first time, 8 s at
 * most). */
void bbt_lback_grow(bbt_lback_t *b);

/* Whether the next try is due. */
int bbt_lback_due(const bbt_lback_t *b);

/* A heartbeat came back: the backoff starts again, and a loss is news. */
void bbt_lback_heard(bbt_lback_t *b);

/* Say BBT307, the connection lost for why: at notice unless it is the
 * same reason as the last said since a heartbeat came back. */
void bbt_lback_lost(bbt_lback_t *b, server_rec *s, const char *why);

/* Say BBT308, no connection for why: at notice once per outage. */
void bbt_lback_down(bbt_lback_t *b, server_rec *s, const char *why);

#endif
