/*
 * The module's counters, for the metrics handler and mod_status.
 *
 * Every child adds to one shared-memory segment made by the parent before
 * it forks (bbt_stats.c), with atomic adds and no lock, so a scrape served
 * by any child sees the sum of all of them.  The segment outlives graceful
 * and plain restarts (httpd -k graceful, -k restart) into a module that
 * lays the counters out the same: counters start at zero when httpd
 * starts or restarts into another layout (BBT406), gauges at each restart.
 *
 * To count something new: an entry in bbt_stat_t (a counter, only ever
 * added to) or bbt_gauge_t (a value that goes up and down), and its row in
 * bbt_expo.c's tables (metric name, labels, mod_status key); the README's
 * Metrics section lists every metric.  Labels are fixed strings: never a
 * token, user name, path or anything else a client chooses.
 *
 * The functions below do nothing before the parent has made the segment
 * (in a configtest, say), so any code may call them.
 */
#ifndef BBT_STATS_H
#define BBT_STATS_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    /* Requests under AuthType BBToken, by what the module decided (see
     * bbt_metrics.c): let through, or refused with this status. */
    BBT_STAT_ALLOWED = 0,
    BBT_STAT_REFUSED_400,
    BBT_STAT_REFUSED_401,
    BBT_STAT_REFUSED_403,
    BBT_STAT_REFUSED_429,
    BBT_STAT_REFUSED_500,
    BBT_STAT_REFUSED_503,
    BBT_STAT_REFUSED_OTHER,
    /* Statements the module ran on the database, each try of one
     * (bbt_stats_db_query). */
    BBT_STAT_DB_QUERIES,
    /* No connection could be had from mod_dbd's pool, or the one had was
     * dropped and could not be connected again. */
    BBT_STAT_DB_CONNECTION_ERRORS,
    /* Of the statements counted, those that failed, preparing them or
     * running them: never more. */
    BBT_STAT_DB_QUERY_ERRORS,
    /* The token cache's lookups: answered, or sent to the database because
     * there was no entry (never made, or pushed out), the entry was older
     * than the last change, or the listener's heartbeat was not fresh. */
    BBT_STAT_CACHE_HITS,
    BBT_STAT_CACHE_MISSES,
    BBT_STAT_CACHE_STALE,
    BBT_STAT_CACHE_UNTRUSTED,
    /* Of the misses, those whose token's entry the cache held: only its
     * owner's level on the target was asked of the database. */
    BBT_STAT_CACHE_LEVEL_LOOKUPS,
    /* Of the hits, those the request thread's own copies answered, without
     * the shared cache's lock. */
    BBT_STAT_CACHE_THREAD_HITS,
    /* Entries written, and those the socache refused. */
    BBT_STAT_CACHE_STORES,
    BBT_STAT_CACHE_STORE_FAILURES,
    /* Changes the listener was told of (each forgets every entry), its
     * (re)connections that forgot all, and its lost connections. */
    BBT_STAT_CACHE_NOTIFICATIONS,
    BBT_STAT_CACHE_RESYNCS,
    BBT_STAT_CACHE_LISTENER_LOSSES,
    BBT_STAT_COUNTERS
} bbt_stat_t;

typedef enum {
    /* Cache listeners holding their LISTEN connection to PostgreSQL with
     * a fresh heartbeat: 1 or 0 (one per server), set when read
     * (bbt_cache_gauge). */
    BBT_GAUGE_CACHE_LISTENERS = 0,
    /* PostgreSQL's NOTIFY queue, in billionths of it full, as the
     * listener last read it (bbt_nqueue.h); shown as a ratio. */
    BBT_GAUGE_NOTIFY_QUEUE,
    /* The database's schema version as a child of this generation last
     * read it, 0 until one has (bbt_schema.c); and the version this
     * module expects, set when httpd starts or restarts. */
    BBT_GAUGE_SCHEMA_VERSION,
    BBT_GAUGE_SCHEMA_EXPECTED,
    /* Clients refused for now by a throttle. */
    BBT_GAUGE_THROTTLED_CLIENTS,
    BBT_GAUGE_COUNT
} bbt_gauge_t;

/* What is said once per start (and again after each restart), by
 * whichever child comes to it first, rather than once by every child. */
typedef enum {
    /* The database's schema is not the version the module expects
     * (bbt_schema.c). */
    BBT_ONCE_SCHEMA = 0,
    /* Not every trigger that keeps bbtoken_lookup fires always
     * (bbt_schema.c). */
    BBT_ONCE_LOOKUP,
    BBT_ONCE_COUNT
} bbt_once_t;

/* The database latency histogram: upper bounds in microseconds, the
 * buckets' "le" labels (seconds), and one bucket more for the rest. */
#define BBT_STATS_DB_BOUNDS 13
extern const uint64_t bbt_stats_db_bound_us[BBT_STATS_DB_BOUNDS];
extern const char *const bbt_stats_db_bound_le[BBT_STATS_DB_BOUNDS];

/* The bucket a statement that took usec falls in: the first whose bound
 * it does not exceed, or BBT_STATS_DB_BOUNDS. */
size_t bbt_stats_db_bucket(uint64_t usec);

/* Everything at one moment, as the metrics page and mod_status show it. */
typedef struct {
    uint64_t counter[BBT_STAT_COUNTERS];
    int64_t gauge[BBT_GAUGE_COUNT];
    /* Statements per bucket (not cumulative). */
    uint64_t db_bucket[BBT_STATS_DB_BOUNDS + 1];
    uint64_t db_usec; /* their total time */
} bbt_stats_snap_t;

/* bbt_stats.c (httpd glue): the shared counters. */

/* Find or make the segment (post_config, in the parent).  Returns 0, or -1
 * (logged) when there can be none: the counters then stay off. */
struct server_rec;
int bbt_stats_init(struct server_rec *s);

/* Add one, or n, to a counter. */
void bbt_stats_count(bbt_stat_t which);
void bbt_stats_add(bbt_stat_t which, uint64_t n);

/* Set a gauge, or move it by delta. */
void bbt_stats_gauge_set(bbt_gauge_t which, int64_t value);
void bbt_stats_gauge_add(bbt_gauge_t which, int64_t delta);

/* One statement ran on the database and took usec microseconds: counts it
 * (BBT_STAT_DB_QUERIES), its time in the histogram, and, when !ok, a
 * BBT_STAT_DB_QUERY_ERRORS. */
void bbt_stats_db_query(uint64_t usec, int ok);

/* 1 for the first caller since this generation of children was started,
 * 0 for the others; 1 for every caller when there is no segment (each
 * caller must then keep to once per child on its own). */
int bbt_stats_once(bbt_once_t which);

/* Copy the counters into *snap; -1 when there are none (no segment). */
int bbt_stats_snapshot(bbt_stats_snap_t *snap);

#endif
