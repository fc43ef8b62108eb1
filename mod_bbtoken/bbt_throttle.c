/*
 * The failed-login throttle in httpd (see bbt_throttle.h).
 *
 * An address's entry is its key (a v4-mapped IPv6 address as the IPv4
 * one), the end of its window and its count of failures, in a table of
 * BBTokenThrottleSize bytes of shared memory, under one global mutex.  A
 * failure adds to the entry where it lies: an address takes one entry
 * however often it fails (a socache, which stores a copy each time and
 * frees the old one only when it has scrolled out, would hold a few
 * hundred addresses failing thirty times where it holds ten thousand
 * failing once).  An address's entry lies in one set of
 * BBT_THROTTLE_WAYS, picked by a keyed hash of its key (bbt_tset.c: a
 * secret made in post_config, the same in every child of a generation,
 * which inherit it); when its set is full, the entry whose window ends
 * soonest makes room, a throttled one only when all eight are.
 *
 * The window opens with the first failure and does not slide: a client
 * learns from Retry-After when it may try again, and the count starts
 * afresh then.  A success resets nothing: behind one NAT address, one
 * user's good login must not wipe out the record of another's guessing.
 *
 * Windows are on the monotonic clock (bbt_twindow.h), which no step of the
 * wall clock moves.  Its readings mean something only within one boot, and
 * the table only ever holds readings of this one: it is made afresh,
 * zeroed, in every generation's post_config (a graceful restart too; the
 * old generation's children keep the table they inherited until they
 * exit), and a reboot ends every httpd.
 *
 * For the throttled-clients gauge, a ring in shared memory counts the
 * addresses whose throttling ends in each second to come; the gauge is
 * their sum, worked out when the metrics are read.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "util_mutex.h"
#include "apr_global_mutex.h"
#include "apr_shm.h"
#include "apr_strings.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "bbt_agroup.h"
#include "bbt_config.h"
#include "bbt_mono.h"
#include "bbt_stats.h"
#include "bbt_throttle.h"
#include "bbt_tset.h"
#include "bbt_twindow.h"

APLOG_USE_MODULE(bbtoken);

#define BBT_THROTTLE_MUTEX "bbtoken-throttle"
/* A key: the family ('4' or '6') and the address (an IPv6 one's /64). */
#define BBT_THROTTLE_KEY_MAX 9
/* An address's set: eight entries, so that a few addresses that share
 * one are not pushed out of it while the table has room. */
#define BBT_THROTTLE_WAYS 8
/* One slot per second a window may still run, and one to spare. */
#define BBT_THROTTLE_RING (BBT_THROTTLE_WINDOW_MAX + 2)

typedef struct {
    apr_int64_t end; /* monotonic (bbt_twindow.h); 0: a free entry */
    apr_uint32_t count;
    unsigned char klen;
    unsigned char key[BBT_THROTTLE_KEY_MAX];
} bbt_tentry_t;

typedef struct {
    apr_int64_t sec; /* the second the throttles counted here end
                      * (bbt_twindow_second) */
    apr_uint32_t n;
} bbt_tslot_t;

static struct {
    apr_global_mutex_t *mutex; /* NULL: no throttle (off, or failed) */
    bbt_tentry_t *table;       /* shared; under the mutex */
    apr_size_t sets;
    bbt_tslot_t *ring;     /* shared; under the mutex */
    bbt_tsetter_t *setter; /* this generation's key; only ever read */
    int failures;
    int window;
    int tokens; /* 1: a token from a throttled address is refused too */
} bbt_throttle;

/* The last address this thread saw throttled, and until when.  Past the
 * threshold a failure changes whether the address is throttled no more
 * (the window does not slide; only the count in BBT506 stops rising), so a
 * flood from one address is not counted further, and takes no lock, which
 * every child's threads would otherwise queue on.  The entry itself may
 * be pushed out of its set before its window ends (the soonest to end go
 * first): the gate, which reads it, then forgets the thread's memory of
 * it, so the failures count again. */
static __thread struct {
    unsigned char key[BBT_THROTTLE_KEY_MAX];
    unsigned int klen; /* 0: none */
    apr_int64_t end;
} bbt_throttle_seen;

void bbt_throttle_pre_config(apr_pool_t *pconf)
{
    ap_mutex_register(pconf, BBT_THROTTLE_MUTEX, NULL, APR_LOCK_DEFAULT, 0);
}

static apr_status_t bbt_throttle_cleanup(void *data)
{
    (void)data;
    bbt_tsetter_free(bbt_throttle.setter);
    memset(&bbt_throttle, 0, sizeof(bbt_throttle));
    return APR_SUCCESS;
}

/* Shared memory of size bytes, zeroed, gone with pconf; NULL if none. */
static void *bbt_throttle_shm(apr_pool_t *pconf, apr_size_t size)
{
    apr_shm_t *shm;
    void *base;

    if (apr_shm_create(&shm, size, NULL, pconf) != APR_SUCCESS) {
        return NULL;
    }
    base = apr_shm_baseaddr_get(shm);
    memset(base, 0, size);
    return base;
}

static const char *bbt_throttle_make(apr_pool_t *pconf, server_rec *s)
{
    apr_size_t size = bbt_config_throttle_size(s);
    unsigned char secret[BBT_TSET_SECRET_LEN];

    bbt_throttle.sets = size / (BBT_THROTTLE_WAYS * sizeof(bbt_tentry_t));
    bbt_throttle.table = bbt_throttle_shm(
        pconf, bbt_throttle.sets * BBT_THROTTLE_WAYS * sizeof(bbt_tentry_t));
    bbt_throttle.ring =
        bbt_throttle_shm(pconf, BBT_THROTTLE_RING * sizeof(bbt_tslot_t));
    if (!bbt_throttle.table || !bbt_throttle.ring) {
        return "cannot make its shared memory";
    }
    if (RAND_bytes(secret, sizeof(secret)) != 1) {
        return "cannot make its key: the random generator failed";
    }
    bbt_throttle.setter = bbt_tsetter_new(secret, sizeof(secret));
    OPENSSL_cleanse(secret, sizeof(secret));
    if (!bbt_throttle.setter) {
        return "cannot make its key: SipHash failed its known "
               "answer, or no memory";
    }
    if (ap_global_mutex_create(&bbt_throttle.mutex, NULL, BBT_THROTTLE_MUTEX,
                               NULL, s, pconf, 0) != APR_SUCCESS) {
        bbt_throttle.mutex = NULL;
        return "cannot create its mutex";
    }
    return NULL;
}

int bbt_throttle_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                             server_rec *s)
{
    const char *err;
    server_rec *sv;
    int any = 0;

    (void)ptemp;
    memset(&bbt_throttle, 0, sizeof(bbt_throttle));
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    for (sv = s; sv; sv = sv->next) {
        any |= bbt_config_throttle(sv);
    }
    if (!any) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     "BBT500: failed-login throttle off (BBTokenThrottle off)");
        return OK;
    }
    apr_pool_cleanup_register(pconf, NULL, bbt_throttle_cleanup,
                              apr_pool_cleanup_null);
    if ((err = bbt_throttle_make(pconf, s)) != NULL) {
        bbt_tsetter_free(bbt_throttle.setter);
        memset(&bbt_throttle, 0, sizeof(bbt_throttle));
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "BBT502: the failed-login throttle %s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    bbt_throttle.failures = bbt_config_throttle_failures(s);
    bbt_throttle.window = bbt_config_throttle_window(s);
    bbt_throttle.tokens = bbt_config_throttle_tokens(s);
    ap_log_error(
        APLOG_MARK, APLOG_NOTICE, 0, s,
        "BBT503: failed-login throttle on: %d failures from one "
        "address in %d s, then 429 for the rest of the window%s; "
        "%" APR_SIZE_T_FMT " bytes of shared memory, room for %" APR_SIZE_T_FMT
        " addresses",
        bbt_throttle.failures, bbt_throttle.window,
        bbt_throttle.tokens ? ", tokens too" : "", bbt_config_throttle_size(s),
        bbt_throttle.sets * BBT_THROTTLE_WAYS);
    return OK;
}

void bbt_throttle_child_init(apr_pool_t *pchild, server_rec *s)
{
    if (bbt_throttle.mutex &&
        apr_global_mutex_child_init(
            &bbt_throttle.mutex, apr_global_mutex_lockfile(bbt_throttle.mutex),
            pchild) != APR_SUCCESS) {
        bbt_throttle.mutex = NULL;
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "BBT504: the failed-login throttle's mutex cannot be "
                     "opened in this child: the child does not throttle");
    }
}

/* The key r's client is counted under, with its length (0 if none), and
 * its set's number. */
static unsigned int bbt_throttle_key(const request_rec *r,
                                     unsigned char key[BBT_THROTTLE_KEY_MAX],
                                     apr_size_t *set)
{
    const apr_sockaddr_t *a = r->useragent_addr;
    const unsigned char *ip;
    unsigned int len;

    if (!a || !a->ipaddr_ptr) {
        return 0;
    }
    ip = a->ipaddr_ptr;
    if (a->family == AF_INET) {
        key[0] = '4';
        memcpy(key + 1, ip, 4);
        len = 5;
    }
#if APR_HAVE_IPV6
    else if (a->family == AF_INET6 && bbt_agroup_v4_inside(ip, key + 1)) {
        /* An IPv4 client's (mapped, through NAT64, 6to4's /48). */
        key[0] = '4';
        len = 5;
    } else if (a->family == AF_INET6) {
        /* The /64: a host commonly has the whole of one. */
        key[0] = '6';
        memcpy(key + 1, ip, 8);
        len = 9;
    }
#endif
    else {
        return 0;
    }
    /* Not counted, rather than counted where anyone could say. */
    if (bbt_tset_of(bbt_throttle.setter, key, len, bbt_throttle.sets, set) !=
        0) {
        return 0;
    }
    ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r,
                  "BBT780: client %s is counted in the failed-login "
                  "throttle's set %" APR_SIZE_T_FMT,
                  r->useragent_ip, *set);
    return len;
}

/* The one test of whether an entry's address is being answered 429. */
static int bbt_throttle_held(apr_uint32_t count)
{
    return count >= (apr_uint32_t)bbt_throttle.failures;
}

/* The address's entry in its set, whatever its window: NULL if none.
 * The lock held. */
static bbt_tentry_t *bbt_throttle_find(const unsigned char *key,
                                       unsigned int klen, apr_size_t set)
{
    bbt_tentry_t *e = bbt_throttle.table + set * BBT_THROTTLE_WAYS;
    int i;

    for (i = 0; i < BBT_THROTTLE_WAYS; i++) {
        if (e[i].end && e[i].klen == klen && memcmp(e[i].key, key, klen) == 0) {
            return &e[i];
        }
    }
    return NULL;
}

/* Room in the set for another address: a free entry, one whose window has
 * ended, else the one not throttled whose window ends soonest, else the
 * throttled one whose window ends soonest.  A throttled address goes last:
 * were it the soonest to end, as it mostly is (its window opened first),
 * addresses failing once each would push it out, and anyone with enough of
 * them (an IPv6 /48 has 65536 /64s) could have a guesser forgotten at the
 * price of one failure per entry rather than of BBTokenThrottleFailures.
 * The lock held. */
static bbt_tentry_t *bbt_throttle_room(apr_size_t set, apr_int64_t now)
{
    bbt_tentry_t *e = bbt_throttle.table + set * BBT_THROTTLE_WAYS;
    bbt_tentry_t *soonest = NULL, *held = NULL;
    int i;

    for (i = 0; i < BBT_THROTTLE_WAYS; i++) {
        if (!bbt_twindow_open(e[i].end, now)) {
            return &e[i];
        }
        if (bbt_throttle_held(e[i].count)) {
            if (!held || e[i].end < held->end) {
                held = &e[i];
            }
        } else if (!soonest || e[i].end < soonest->end) {
            soonest = &e[i];
        }
    }
    return soonest ? soonest : held;
}

static int bbt_throttle_lock(request_rec *r)
{
    if (apr_global_mutex_lock(bbt_throttle.mutex) == APR_SUCCESS) {
        return 1;
    }
    /* Open, not closed: a broken lock must not lock everyone out. */
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  "BBT507: the failed-login throttle's mutex cannot be held: "
                  "client %s is not counted",
                  r->useragent_ip);
    return 0;
}

static int bbt_throttle_applies(const request_rec *r)
{
    return bbt_throttle.mutex && bbt_config_throttle(r->server);
}

int bbt_throttle_gate(request_rec *r, int token)
{
    unsigned char key[BBT_THROTTLE_KEY_MAX];
    unsigned int klen;
    apr_size_t set;
    apr_int64_t now;
    bbt_tentry_t e, *found;
    apr_int64_t secs;

    if (!bbt_throttle_applies(r) || (token && !bbt_throttle.tokens) ||
        (klen = bbt_throttle_key(r, key, &set)) == 0 || !bbt_throttle_lock(r)) {
        return OK;
    }
    /* The clock is read only for a request the throttle looks at. */
    now = bbt_mono_now();
    found = bbt_throttle_find(key, klen, set);
    if (found && bbt_twindow_open(found->end, now)) {
        e = *found;
    } else {
        found = NULL;
    }
    apr_global_mutex_unlock(bbt_throttle.mutex);
    if (!found || !bbt_throttle_held(e.count)) {
        if (bbt_throttle_seen.klen == klen &&
            memcmp(bbt_throttle_seen.key, key, klen) == 0) {
            bbt_throttle_seen.klen = 0;
        }
        return OK;
    }
    secs = bbt_twindow_left(e.end, now);
    apr_table_setn(r->err_headers_out, "Retry-After",
                   apr_psprintf(r->pool, "%" APR_INT64_T_FMT, secs));
    ap_custom_response(r, HTTP_TOO_MANY_REQUESTS,
                       apr_psprintf(r->pool,
                                    "Too many failed logins from your "
                                    "address: try again in %" APR_INT64_T_FMT
                                    " seconds.\n",
                                    secs));
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "BBT506: %s from throttled client %s refused (429), %u "
                  "failed logins; %" APR_INT64_T_FMT " s left",
                  token ? "a token" : "a password", r->useragent_ip, e.count,
                  secs);
    return HTTP_TOO_MANY_REQUESTS;
}

/* One more throttled client until end (delta 1), or one fewer (-1: it
 * was pushed out).  The lock held. */
static void bbt_throttle_ring_add(apr_int64_t end, int delta)
{
    apr_int64_t sec = bbt_twindow_second(end);
    bbt_tslot_t *slot = &bbt_throttle.ring[sec % BBT_THROTTLE_RING];

    if (slot->sec != sec) {
        slot->sec = sec;
        slot->n = 0;
    }
    if (delta > 0) {
        slot->n++;
    } else if (slot->n > 0) {
        slot->n--;
    }
}

void bbt_throttle_failed(request_rec *r)
{
    unsigned char key[BBT_THROTTLE_KEY_MAX];
    unsigned int klen;
    apr_size_t set;
    apr_int64_t now = bbt_mono_now();
    bbt_tentry_t e, *slot;

    if (!bbt_throttle_applies(r) ||
        (klen = bbt_throttle_key(r, key, &set)) == 0) {
        return;
    }
    if (bbt_throttle_seen.klen == klen &&
        bbt_twindow_open(bbt_throttle_seen.end, now) &&
        memcmp(bbt_throttle_seen.key, key, klen) == 0) {
        return;
    }
    if (!bbt_throttle_lock(r)) {
        return;
    }
    slot = bbt_throttle_find(key, klen, set);
    if (!slot || !bbt_twindow_open(slot->end, now)) {
        if (!slot) {
            slot = bbt_throttle_room(set, now);
            if (bbt_twindow_open(slot->end, now) &&
                bbt_throttle_held(slot->count)) {
                bbt_throttle_ring_add(slot->end, -1);
            }
        }
        memcpy(slot->key, key, klen);
        slot->klen = (unsigned char)klen;
        slot->end = bbt_twindow_end(now, bbt_throttle.window);
        slot->count = 0;
    }
    if (slot->count < APR_UINT32_MAX) {
        slot->count++;
    }
    if (slot->count == (apr_uint32_t)bbt_throttle.failures) {
        bbt_throttle_ring_add(slot->end, 1);
    }
    e = *slot;
    apr_global_mutex_unlock(bbt_throttle.mutex);
    if (bbt_throttle_held(e.count)) {
        memcpy(bbt_throttle_seen.key, key, klen);
        bbt_throttle_seen.klen = klen;
        bbt_throttle_seen.end = e.end;
    }
    if (e.count == (apr_uint32_t)bbt_throttle.failures) {
        /* Once per window: the line fail2ban's filter also knows. */
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "BBT505: client %s throttled: %u failed logins in %d "
                      "s; its passwords are answered 429 for %" APR_INT64_T_FMT
                      " s",
                      r->useragent_ip, e.count, bbt_throttle.window,
                      bbt_twindow_left(e.end, now));
    }
}

void bbt_throttle_gauge(void)
{
    apr_int64_t now, total = 0;
    int i;

    if (!bbt_throttle.mutex) {
        /* The gauge outlives a restart; a generation without a throttle
         * holds nobody back. */
        bbt_stats_gauge_set(BBT_GAUGE_THROTTLED_CLIENTS, 0);
        return;
    }
    if (apr_global_mutex_lock(bbt_throttle.mutex) != APR_SUCCESS) {
        return;
    }
    now = bbt_mono_now();
    for (i = 0; i < BBT_THROTTLE_RING; i++) {
        if (bbt_twindow_second_open(bbt_throttle.ring[i].sec, now)) {
            total += bbt_throttle.ring[i].n;
        }
    }
    apr_global_mutex_unlock(bbt_throttle.mutex);
    bbt_stats_gauge_set(BBT_GAUGE_THROTTLED_CLIENTS, total);
}
