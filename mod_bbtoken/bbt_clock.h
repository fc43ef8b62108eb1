/*
 * This host's clock against the database's.  Token expiries and the
 * throttled writes (last use, an expired token's refusal) are judged in C
 * (bbt_dblookup.c says why), so by this host's clock; the database writes
 * and judges by its own.  The cache's listener reads the database's clock
 * with every heartbeat (about every 100 ms): where this host's is behind,
 * a request judges by the database's instead, as far as the reading
 * proves it (bbt_clockcmp.h), so a token the database calls expired is
 * not served for as long as the clocks disagree.  A host ahead refuses a
 * token before it expires and writes last uses more often than the
 * database keeps: that is left as it is (never an open door) and said.
 */
#ifndef BBT_CLOCK_H
#define BBT_CLOCK_H

#include "httpd.h"

#include "bbt_cache.h"

/* The listener read the database's clock (db_us, the text of microseconds
 * since the epoch) between this host's readings sent and got
 * (apr_time_now).  Published for every child; a disagreement of a second
 * or more is said (BBT826) and so is the agreement after it (BBT827). */
void bbt_clock_heard(server_rec *s, apr_time_t sent, apr_time_t got,
                     const char *db_us);

/* The time a request that began v judges by: this host's clock, moved
 * forward by as much as it is behind the database's, when v's server reads
 * that database (the listener's; until this generation's listener has heard
 * one, the last generation's reading holds). */
apr_int64_t bbt_clock_now(const bbt_cache_view_t *v);

#endif
