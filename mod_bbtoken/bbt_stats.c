/*
 * The shared counters (see bbt_stats.h).
 *
 * One anonymous shared-memory segment, made by the parent in post_config
 * and inherited by every child it forks: the children add to it with
 * apr_atomic and never lock, so counting costs a request a few atomic
 * adds.  The counters are kept in stripes, each on cache lines of its
 * own, a thread adding to the one it was given and a read summing them
 * all: every thread of every child adding to the same line would have it
 * move between the CPUs on every request.  The segment belongs to the process
 * pool, which lives as long as the parent, and is found again there after a
 * restart (the module itself is unloaded and loaded again), so children of the
 * old generation still finishing their requests and the new ones add to the
 * same counters.  Only by a module that lays them out the same: one that
 * counts more, or in other stripes, cannot read the last one's segment,
 * and starts its own at zero (BBT406).
 */
#include "httpd.h"
#include "http_log.h"
#include "apr_atomic.h"
#include "apr_shm.h"
#include "apr_strings.h"

#include <stdio.h>
#include <string.h>

#include "bbt_stats.h"

APLOG_USE_MODULE(bbtoken);

/* A build may choose another number (t/65-metrics-layout builds one). */
#ifndef BBT_STATS_STRIPES
#define BBT_STATS_STRIPES 16
#endif
#define BBT_STATS_LINE 64
/* Where the process pool keeps the layout the last generation's segment
 * was made for; the segment itself is kept under that layout's name. */
#define BBT_STATS_LAYOUT_KEY "bbtoken-stats-layout"
/* A stripe's words: its counters, padded to whole cache lines. */
#define BBT_STATS_STRIPE_WORDS                                                 \
    ((BBT_STAT_COUNTERS * 8 + BBT_STATS_LINE - 1) / BBT_STATS_LINE *           \
     BBT_STATS_LINE / 8)

typedef struct {
    volatile apr_uint64_t counter[BBT_STATS_STRIPE_WORDS];
} bbt_stats_stripe_t;

typedef struct {
    bbt_stats_stripe_t stripe[BBT_STATS_STRIPES];
    /* The next stripe to give a thread that has none yet. */
    volatile apr_uint32_t next_stripe;
    volatile apr_uint64_t gauge[BBT_GAUGE_COUNT];
    volatile apr_uint64_t db_bucket[BBT_STATS_DB_BOUNDS + 1];
    volatile apr_uint64_t db_usec;
    volatile apr_uint32_t once[BBT_ONCE_COUNT];
} bbt_stats_seg_t;

/* NULL until post_config has found or made the segment. */
static bbt_stats_seg_t *bbt_seg;

/* The counters start on a cache line: APR's segment need not (it keeps
 * its size in front), so it is made a line larger. */
static bbt_stats_seg_t *bbt_stats_aligned(apr_shm_t *shm)
{
    apr_uintptr_t a = (apr_uintptr_t)apr_shm_baseaddr_get(shm);

    return (bbt_stats_seg_t *)((a + BBT_STATS_LINE - 1) &
                               ~(apr_uintptr_t)(BBT_STATS_LINE - 1));
}

/* This thread's stripe, given on its first count; threads of all the
 * children are dealt the stripes in turn. */
static __thread int bbt_stripe_of_thread = -1;

static bbt_stats_stripe_t *bbt_stripe(void)
{
    if (bbt_stripe_of_thread < 0) {
        bbt_stripe_of_thread =
            (int)(apr_atomic_inc32(&bbt_seg->next_stripe) % BBT_STATS_STRIPES);
    }
    return &bbt_seg->stripe[bbt_stripe_of_thread];
}

int bbt_stats_init(server_rec *s)
{
    apr_pool_t *pp = s->process->pool;
    apr_shm_t *shm = NULL;
    apr_status_t rv;
    void *v = NULL;
    void *last = NULL;
    char key[64];
    int i;

    /* A module whose counters are laid out otherwise (an upgrade loaded by
     * a restart) gets a segment of its own. */
    snprintf(key, sizeof(key), "bbtoken-stats-%d-%d-%d-%d-%lu-s%d-l%d",
             BBT_STAT_COUNTERS, BBT_GAUGE_COUNT, BBT_ONCE_COUNT,
             BBT_STATS_DB_BOUNDS, (unsigned long)sizeof(bbt_stats_seg_t),
             BBT_STATS_STRIPES, BBT_STATS_LINE);
    apr_pool_userdata_get(&last, BBT_STATS_LAYOUT_KEY, pp);
    if (!last || strcmp(last, key) != 0) {
        if (last) {
            /* The counters Prometheus has seen go back to zero, which it
             * takes as a reset: an administrator who sees them fall is
             * told why.  The old segment is let go of, or a restart back
             * into that build would find its counts as they were. */
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                         "BBT406: the module's counters are laid out "
                         "otherwise than the last generation's (%s, now "
                         "%s): they start again at zero",
                         (const char *)last, key);
            apr_pool_userdata_get(&v, last, pp);
            apr_pool_userdata_set(NULL, last, NULL, pp);
            if (v) {
                /* The parent's mapping only: the old generation's children
                 * keep theirs until they exit. */
                apr_shm_destroy(v);
                v = NULL;
            }
        }
        apr_pool_userdata_set(apr_pstrdup(pp, key), BBT_STATS_LAYOUT_KEY,
                              apr_pool_cleanup_null, pp);
    }
    apr_pool_userdata_get(&v, key, pp);
    if (v) {
        bbt_seg = bbt_stats_aligned(v);
        /* A restart: the counters go on, but a gauge says what this
         * generation holds (its listener, its throttle's addresses), and
         * that starts at none; the last generation's need not have said
         * when it let go. */
        for (i = 0; i < BBT_GAUGE_COUNT; i++) {
            apr_atomic_set64(&bbt_seg->gauge[i], 0);
        }
        /* What was said once is said again to the new generation: a
         * restart is when an administrator looks. */
        for (i = 0; i < BBT_ONCE_COUNT; i++) {
            apr_atomic_set32(&bbt_seg->once[i], 0);
        }
        return 0;
    }
    rv = apr_shm_create(&shm, sizeof(bbt_stats_seg_t) + BBT_STATS_LINE, NULL,
                        pp);
    if (rv != APR_SUCCESS) {
        bbt_seg = NULL;
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s,
                     "BBT405: no shared memory for the module's counters: "
                     "the metrics handler and mod_status show none");
        return -1;
    }
    bbt_seg = bbt_stats_aligned(shm);
    memset((void *)bbt_seg, 0, sizeof(*bbt_seg));
    apr_pool_userdata_set(shm, key, apr_pool_cleanup_null, pp);
    return 0;
}

void bbt_stats_count(bbt_stat_t which)
{
    if (bbt_seg && (unsigned)which < BBT_STAT_COUNTERS) {
        apr_atomic_inc64(&bbt_stripe()->counter[which]);
    }
}

void bbt_stats_add(bbt_stat_t which, uint64_t n)
{
    if (bbt_seg && (unsigned)which < BBT_STAT_COUNTERS) {
        apr_atomic_add64(&bbt_stripe()->counter[which], n);
    }
}

int bbt_stats_once(bbt_once_t which)
{
    if (!bbt_seg || (unsigned)which >= BBT_ONCE_COUNT) {
        return 1;
    }
    return apr_atomic_cas32(&bbt_seg->once[which], 1, 0) == 0;
}

/* Gauges are kept as two's complement in an unsigned word, so that adding
 * a negative delta is the same atomic add. */
void bbt_stats_gauge_set(bbt_gauge_t which, int64_t value)
{
    if (bbt_seg && (unsigned)which < BBT_GAUGE_COUNT) {
        apr_atomic_set64(&bbt_seg->gauge[which], (apr_uint64_t)value);
    }
}

void bbt_stats_gauge_add(bbt_gauge_t which, int64_t delta)
{
    if (bbt_seg && (unsigned)which < BBT_GAUGE_COUNT) {
        apr_atomic_add64(&bbt_seg->gauge[which], (apr_uint64_t)delta);
    }
}

void bbt_stats_db_query(uint64_t usec, int ok)
{
    if (!bbt_seg) {
        return;
    }
    apr_atomic_inc64(&bbt_stripe()->counter[BBT_STAT_DB_QUERIES]);
    apr_atomic_inc64(&bbt_seg->db_bucket[bbt_stats_db_bucket(usec)]);
    apr_atomic_add64(&bbt_seg->db_usec, usec);
    if (!ok) {
        apr_atomic_inc64(&bbt_stripe()->counter[BBT_STAT_DB_QUERY_ERRORS]);
    }
}

int bbt_stats_snapshot(bbt_stats_snap_t *snap)
{
    size_t i, k;

    if (!bbt_seg) {
        return -1;
    }
    for (i = 0; i < BBT_STAT_COUNTERS; i++) {
        snap->counter[i] = 0;
        for (k = 0; k < BBT_STATS_STRIPES; k++) {
            snap->counter[i] +=
                apr_atomic_read64(&bbt_seg->stripe[k].counter[i]);
        }
    }
    for (i = 0; i < BBT_GAUGE_COUNT; i++) {
        snap->gauge[i] = (int64_t)apr_atomic_read64(&bbt_seg->gauge[i]);
    }
    for (i = 0; i <= BBT_STATS_DB_BOUNDS; i++) {
        snap->db_bucket[i] = apr_atomic_read64(&bbt_seg->db_bucket[i]);
    }
    snap->db_usec = apr_atomic_read64(&bbt_seg->db_usec);
    return 0;
}
