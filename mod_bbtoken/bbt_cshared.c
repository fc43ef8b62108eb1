/*
 * The cache's shared state (see bbt_cshared.h).
 *
 * The counter only grows.  A request reads it before its database query
 * and stamps what it keeps with it; a change raises the floor (every
 * entry), a token's mark or an owner's to a value the counter reaches
 * first, so that an entry made from a query that may have missed the
 * change carries a stamp below it, and one made from a query that began
 * after the change was heard carries one at or above it.  The listener raises
 * them before it publishes the heartbeat that vouches for the change (README,
 * The cache: the bound).
 */
#include "httpd.h"
#include "apr_atomic.h"
#include "apr_shm.h"

#include <string.h>

#include "bbt_cache.h"
#include "bbt_cmark.h"
#include "bbt_cshared.h"
#include "bbt_mono.h"
#include "bbt_stats.h"

typedef struct {
    volatile apr_uint64_t counter;   /* the stamp of what is kept now */
    volatile apr_uint64_t floor;     /* no entry stamped below is believed */
    volatile apr_uint64_t heartbeat; /* monotonic microseconds; 0: none */
    volatile apr_uint32_t source_set;
    unsigned char source[32];          /* the listener's database */
    volatile apr_uint32_t listener_up; /* 1 while a heartbeat is published */
    volatile apr_uint64_t behind;      /* bbt_cache_clock_behind's; 0: not */
    /* The database the last generation's listener heard, whose reading
     * behind is until this generation's listener hears one: a clock
     * behind is corrected from the start, not after a restart's wait. */
    unsigned char carried[32];
    apr_uint32_t carried_set;
    /* No token's entry stamped below its token's mark is believed, nor
     * an owner's level entry below its owner's. */
    volatile apr_uint64_t marks[BBT_CMARKS];
    volatile apr_uint64_t owners[BBT_CMARKS];
} bbt_cshared_t;

static bbt_cshared_t *bbt_cshared;

/* The clock's last reading and its database, kept by the parent from one
 * generation's segment (its cleanup runs before the segment goes) for the
 * next: in the process pool, as httpd unloads the module between
 * generations and its statics with it. */
typedef struct {
    int set;
    unsigned char source[32];
    apr_uint64_t behind;
} bbt_cshared_kept_t;

static apr_status_t bbt_cshared_cleanup(void *data)
{
    bbt_cshared_kept_t *kept = data;
    bbt_cshared_t *sh = bbt_cshared;

    if (sh && apr_atomic_read32(&sh->source_set)) {
        memcpy(kept->source, sh->source, sizeof(sh->source));
        kept->behind = apr_atomic_read64(&sh->behind);
        kept->set = 1;
    }
    bbt_cshared = NULL;
    return APR_SUCCESS;
}

const char *bbt_cshared_make(apr_pool_t *pconf, apr_pool_t *pprocess)
{
    static const char key[] = "bbtoken-cshared-kept";
    bbt_cshared_kept_t *kept = NULL;
    apr_shm_t *shm;

    apr_pool_userdata_get((void **)&kept, key, pprocess);
    if (!kept) {
        kept = apr_pcalloc(pprocess, sizeof(*kept));
        apr_pool_userdata_set(kept, key, apr_pool_cleanup_null, pprocess);
    }
    if (apr_shm_create(&shm, sizeof(bbt_cshared_t), NULL, pconf) !=
        APR_SUCCESS) {
        return "cannot make its shared memory";
    }
    bbt_cshared = apr_shm_baseaddr_get(shm);
    memset(bbt_cshared, 0, sizeof(bbt_cshared_t));
    if (kept->set) {
        memcpy(bbt_cshared->carried, kept->source,
               sizeof(bbt_cshared->carried));
        bbt_cshared->carried_set = 1;
        bbt_cshared->behind = kept->behind;
    }
    apr_pool_cleanup_register(pconf, kept, bbt_cshared_cleanup,
                              apr_pool_cleanup_null);
    apr_atomic_set64(&bbt_cshared->counter, 1);
    apr_atomic_set64(&bbt_cshared->floor, 1);
    return NULL;
}

void bbt_cshared_begin(apr_int64_t *heartbeat, apr_uint64_t *stamp,
                       apr_int64_t *behind)
{
    bbt_cshared_t *sh = bbt_cshared;

    /* In this order: the listener raises the floor and the marks before
     * it publishes the heartbeat that vouches for them. */
    *heartbeat = (apr_int64_t)apr_atomic_read64(&sh->heartbeat);
    *stamp = apr_atomic_read64(&sh->counter);
    /* Measured on the listener's database: this server's only if the
     * same (bbt_clock_now), which a lookup may learn after this. */
    *behind = (apr_int64_t)apr_atomic_read64(&sh->behind);
}

apr_uint64_t bbt_cshared_least(const char *token_id)
{
    bbt_cshared_t *sh = bbt_cshared;
    apr_uint64_t least = apr_atomic_read64(&sh->floor), mark;
    long m = token_id ? bbt_cmark_of(token_id, strlen(token_id)) : -1;

    if (m < 0) {
        return APR_UINT64_MAX;
    }
    mark = apr_atomic_read64(&sh->marks[m]);
    return mark > least ? mark : least;
}

apr_uint64_t bbt_cshared_least_owner(apr_int64_t owner)
{
    bbt_cshared_t *sh = bbt_cshared;
    apr_uint64_t least = apr_atomic_read64(&sh->floor);
    apr_uint64_t mark = apr_atomic_read64(&sh->owners[bbt_cmark_owner(owner)]);

    return mark > least ? mark : least;
}

const unsigned char *bbt_cshared_source(void)
{
    bbt_cshared_t *sh = bbt_cshared;

    return sh && apr_atomic_read32(&sh->source_set) ? sh->source : NULL;
}

const unsigned char *bbt_cshared_clock_source(void)
{
    bbt_cshared_t *sh = bbt_cshared;

    if (!sh) {
        return NULL;
    }
    if (apr_atomic_read32(&sh->source_set)) {
        return sh->source;
    }
    return sh->carried_set ? sh->carried : NULL;
}

/* Raise *at to the counter's next value.  The counter moves first: a
 * request that reads it after is stamped at or above the new value, and
 * began its query after the change was heard.  Several threads may raise
 * one value at once (the listener, the REST API): it only ever grows. */
static void bbt_cshared_raise(volatile apr_uint64_t *at)
{
    apr_uint64_t to = apr_atomic_inc64(&bbt_cshared->counter) + 1;
    apr_uint64_t was = apr_atomic_read64(at), seen;

    while (was < to && (seen = apr_atomic_cas64(at, to, was)) != was) {
        was = seen;
    }
}

/* Forget what kind and m name: every entry, a token mark's or an owner
 * mark's. */
static void bbt_cshared_forget(bbt_cmark_kind_t kind, long m)
{
    bbt_cshared_t *sh = bbt_cshared;

    if (!sh) {
        return;
    }
    if (kind == BBT_CMARK_TOKEN && m >= 0) {
        bbt_cshared_raise(&sh->marks[m]);
    } else if (kind == BBT_CMARK_OWNER && m >= 0) {
        bbt_cshared_raise(&sh->owners[m]);
    } else {
        bbt_cshared_raise(&sh->floor);
    }
}

void bbt_cache_forget_all(void)
{
    bbt_cshared_forget(BBT_CMARK_ALL, -1);
}

void bbt_cache_forget_token(const char *id)
{
    bbt_cshared_forget(BBT_CMARK_TOKEN, id ? bbt_cmark_of(id, strlen(id)) : -1);
}

void bbt_cache_heard(const char *payload)
{
    long m;
    bbt_cmark_kind_t kind = bbt_cmark_payload(payload, &m);

    bbt_stats_count(BBT_STAT_CACHE_NOTIFICATIONS);
    bbt_cshared_forget(kind, m);
}

void bbt_cache_heartbeat(apr_int64_t sent)
{
    bbt_cshared_t *sh = bbt_cshared;

    if (sh) {
        apr_atomic_set64(&sh->heartbeat, (apr_uint64_t)sent);
        if (apr_atomic_cas32(&sh->listener_up, 1, 0) == 0) {
            bbt_stats_count(BBT_STAT_CACHE_RESYNCS);
        }
    }
}

void bbt_cache_listener_down(void)
{
    bbt_cshared_t *sh = bbt_cshared;

    if (sh) {
        apr_atomic_set64(&sh->heartbeat, 0);
        if (apr_atomic_cas32(&sh->listener_up, 0, 1) == 1) {
            bbt_stats_count(BBT_STAT_CACHE_LISTENER_LOSSES);
        }
    }
}

void bbt_cache_gauge(void)
{
    bbt_cshared_t *sh = bbt_cshared;
    int up = 0;

    /* Not the flag alone: a listener whose child died without ending it
     * (killed, crashed, or exited without waiting for it, BBT313) leaves
     * it up until another child's listener starts, some ten seconds, and
     * a hung one leaves it up for as long as it hangs.  The heartbeat's
     * age says what the cache's trust says (a child of an older
     * generation, serving its last request, reads its own's). */
    if (sh && apr_atomic_read32(&sh->listener_up)) {
        up = bbt_cache_usable(0, 0,
                              (apr_int64_t)apr_atomic_read64(&sh->heartbeat),
                              bbt_mono_now());
    }
    bbt_stats_gauge_set(BBT_GAUGE_CACHE_LISTENERS, up);
}

void bbt_cache_clock_behind(apr_int64_t us)
{
    if (bbt_cshared) {
        apr_atomic_set64(&bbt_cshared->behind, (apr_uint64_t)(us > 0 ? us : 0));
    }
}

void bbt_cache_set_source(const unsigned char fp[32])
{
    bbt_cshared_t *sh = bbt_cshared;

    /* Written before the first heartbeat, and the same for every
     * listener of this server (they all read the main server's
     * DBDParams): whoever reads it set sees it whole. */
    if (sh && !apr_atomic_read32(&sh->source_set)) {
        memcpy(sh->source, fp, sizeof(sh->source));
        apr_atomic_set32(&sh->source_set, 1);
    }
}
