/*
 * The failed-login throttle in httpd (see bbt_throttle.h).
 *
 * An address's entry is the end of its window and its count of failures,
 * under the address's bytes (a v4-mapped IPv6 address as the IPv4 one),
 * kept in shmcb until the window ends.  The window opens with the first
 * failure and does not slide: a client learns from Retry-After when it
 * may try again, and the count starts afresh then.  A success resets
 * nothing: behind one NAT address, one user's good login must not wipe
 * out the record of another's guessing.
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
#include "apr_shm.h"
#include "apr_strings.h"

#include <string.h>

#if APR_HAVE_NETINET_IN_H
#include <netinet/in.h>
#endif

#include "bbt_config.h"
#include "bbt_socache.h"
#include "bbt_stats.h"
#include "bbt_throttle.h"

APLOG_USE_MODULE(bbtoken);

#define BBT_THROTTLE_MUTEX "bbtoken-throttle"
/* An entry is its key (at most 9 bytes) and 16 bytes, about 60 with
 * shmcb's own: the default 1 MiB (BBTokenThrottleSize) holds over ten
 * thousand addresses.  When it is full the entries that end soonest go
 * first. */
#define BBT_THROTTLE_KEY_MAX 10
/* One slot per second a window may still run, and one to spare. */
#define BBT_THROTTLE_RING (BBT_THROTTLE_WINDOW_MAX + 2)

typedef struct {
    apr_time_t end;
    apr_uint32_t count;
} bbt_tentry_t;

typedef struct {
    apr_int64_t sec; /* the second the throttles counted here end */
    apr_uint32_t n;
} bbt_tslot_t;

static struct {
    bbt_socache_t sc;
    bbt_tslot_t *ring; /* shared; under sc's lock */
    int failures;
    int window;
    int tokens; /* 1: a token from a throttled address is refused too */
} bbt_throttle;

/* The last address this thread saw throttled, and until when.  Past the
 * threshold a failure changes whether the address is throttled no more
 * (the window does not slide; only the count in BBT506 stops rising), so a
 * flood from one address is not counted further, and takes no lock, which
 * every child's threads would otherwise queue on.  The entry itself may
 * be pushed out of shmcb before its window ends (the soonest to end go
 * first): the gate, which reads it, then forgets the thread's memory of
 * it, so the failures count again. */
static __thread struct {
    unsigned char key[BBT_THROTTLE_KEY_MAX];
    unsigned int klen; /* 0: none */
    apr_time_t end;
} bbt_throttle_seen;

void bbt_throttle_pre_config(apr_pool_t *pconf)
{
    bbt_socache_pre_config(pconf, BBT_THROTTLE_MUTEX);
}

static apr_status_t bbt_throttle_cleanup(void *data)
{
    (void)data;
    memset(&bbt_throttle, 0, sizeof(bbt_throttle));
    return APR_SUCCESS;
}

static const char *bbt_throttle_make(apr_pool_t *pconf, apr_pool_t *ptemp,
                                     server_rec *s)
{
    struct ap_socache_hints hints;
    apr_size_t size = BBT_THROTTLE_RING * sizeof(bbt_tslot_t);
    apr_shm_t *shm;
    const char *err;

    /* shmcb sizes its index from these, at one record (24 bytes) per
     * average entry, and does not check that room is left for the data:
     * hints that add up to less than its record would give each subcache
     * a data area past its end.  An entry is about 26 bytes; these leave
     * each about 70 of data. */
    hints.avg_id_len = BBT_THROTTLE_KEY_MAX;
    hints.avg_obj_size = 64 + sizeof(bbt_tentry_t);
    hints.expiry_interval = apr_time_from_sec(60);
    err = bbt_socache_make(
        &bbt_throttle.sc, "bbtoken-throttle", BBT_THROTTLE_MUTEX, NULL,
        bbt_config_throttle_size(s), &hints, pconf, ptemp, s);
    if (err) {
        return err;
    }
    if (apr_shm_create(&shm, size, NULL, pconf) != APR_SUCCESS) {
        return "cannot make its shared memory";
    }
    bbt_throttle.ring = apr_shm_baseaddr_get(shm);
    memset(bbt_throttle.ring, 0, size);
    return NULL;
}

int bbt_throttle_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                             server_rec *s)
{
    const char *err;
    server_rec *sv;
    int any = 0;

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
    if (bbt_socache_find(&bbt_throttle.sc) != 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "BBT501: failed-login throttle off: it needs "
                     "mod_socache_shmcb (LoadModule socache_shmcb_module "
                     "...)");
        return OK;
    }
    apr_pool_cleanup_register(pconf, NULL, bbt_throttle_cleanup,
                              apr_pool_cleanup_null);
    if ((err = bbt_throttle_make(pconf, ptemp, s)) != NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "BBT502: the failed-login throttle %s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    bbt_throttle.failures = bbt_config_throttle_failures(s);
    bbt_throttle.window = bbt_config_throttle_window(s);
    bbt_throttle.tokens = bbt_config_throttle_tokens(s);
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                 "BBT503: failed-login throttle on: %d failures from one "
                 "address in %d s, then 429 for the rest of the window%s; "
                 "%" APR_SIZE_T_FMT " bytes of shmcb",
                 bbt_throttle.failures, bbt_throttle.window,
                 bbt_throttle.tokens ? ", tokens too" : "",
                 bbt_config_throttle_size(s));
    return OK;
}

void bbt_throttle_child_init(apr_pool_t *pchild, server_rec *s)
{
    if (bbt_socache_child_init(&bbt_throttle.sc, pchild) != 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "BBT504: the failed-login throttle's mutex cannot be "
                     "opened in this child: the child does not throttle");
    }
}

/* shmcb picks an entry's subcache by the key's first byte: make it a mix
 * of the rest, or every client would share the one or two subcaches of a
 * family byte (or of 10., or of 127.). */
static unsigned int bbt_throttle_spread(unsigned char *key, unsigned int len)
{
    unsigned int i, h = 2166136261u;

    for (i = 1; i < len; i++) {
        h = (h ^ key[i]) * 16777619u;
    }
    key[0] = (unsigned char)(h ^ (h >> 8) ^ (h >> 16) ^ (h >> 24));
    return len;
}

/* The address r's client is counted under; its length, or 0 if none. */
static unsigned int bbt_throttle_key(const request_rec *r,
                                     unsigned char key[BBT_THROTTLE_KEY_MAX])
{
    const apr_sockaddr_t *a = r->useragent_addr;
    const unsigned char *ip;

    if (!a || !a->ipaddr_ptr) {
        return 0;
    }
    ip = a->ipaddr_ptr;
#if APR_HAVE_IPV6
    if (a->family == AF_INET6) {
        if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a->ipaddr_ptr)) {
            ip += 12;
        } else {
            /* The /64: a host commonly has the whole of one. */
            key[1] = '6';
            memcpy(key + 2, ip, 8);
            return bbt_throttle_spread(key, 10);
        }
    } else
#endif
        if (a->family != AF_INET) {
        return 0;
    }
    key[1] = '4';
    memcpy(key + 2, ip, 4);
    return bbt_throttle_spread(key, 6);
}

/* Whether a window that ends at end is open at now.  One that would end
 * more than a window from now opened in what is now the future: the clock
 * was set back since.  It is over, as after a restart, rather than
 * stretched by the step (hours of 429 with a Retry-After to match). */
static int bbt_throttle_open(apr_time_t end, apr_time_t now)
{
    return now < end && end - now <= apr_time_from_sec(bbt_throttle.window);
}

/* The address's entry: 1, or 0 if it has none (or it has ended).  The
 * lock held. */
static int bbt_throttle_fetch(request_rec *r, const unsigned char *key,
                              unsigned int klen, apr_time_t now,
                              bbt_tentry_t *e)
{
    unsigned char buf[sizeof(bbt_tentry_t)];
    unsigned int len = sizeof(buf);

    if (bbt_socache_get(&bbt_throttle.sc, r->server, key, klen, buf, &len,
                        r->pool) != APR_SUCCESS ||
        len != sizeof(buf)) {
        return 0;
    }
    memcpy(e, buf, sizeof(*e));
    return bbt_throttle_open(e->end, now);
}

static int bbt_throttle_lock(request_rec *r)
{
    if (bbt_socache_lock(&bbt_throttle.sc)) {
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
    return bbt_throttle.sc.inst && bbt_throttle.ring &&
           bbt_config_throttle(r->server);
}

int bbt_throttle_gate(request_rec *r, int token)
{
    unsigned char key[BBT_THROTTLE_KEY_MAX];
    unsigned int klen;
    apr_time_t now;
    bbt_tentry_t e;
    int found;
    apr_int64_t secs;

    if (!bbt_throttle_applies(r) || (token && !bbt_throttle.tokens) ||
        (klen = bbt_throttle_key(r, key)) == 0 || !bbt_throttle_lock(r)) {
        return OK;
    }
    /* The clock is read only for a request the throttle looks at. */
    now = apr_time_now();
    found = bbt_throttle_fetch(r, key, klen, now, &e);
    bbt_socache_unlock(&bbt_throttle.sc);
    if (!found || e.count < (apr_uint32_t)bbt_throttle.failures) {
        if (bbt_throttle_seen.klen == klen &&
            memcmp(bbt_throttle_seen.key, key, klen) == 0) {
            bbt_throttle_seen.klen = 0;
        }
        return OK;
    }
    secs = (e.end - now + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC;
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

/* One more throttled client until end.  The lock held. */
static void bbt_throttle_ring_add(apr_time_t end)
{
    apr_int64_t sec = apr_time_sec(end - 1) + 1;
    bbt_tslot_t *slot = &bbt_throttle.ring[sec % BBT_THROTTLE_RING];

    if (slot->sec != sec) {
        slot->sec = sec;
        slot->n = 0;
    }
    slot->n++;
}

void bbt_throttle_failed(request_rec *r)
{
    unsigned char key[BBT_THROTTLE_KEY_MAX];
    unsigned int klen;
    apr_time_t now = apr_time_now();
    bbt_tentry_t e;
    apr_status_t rv;

    if (!bbt_throttle_applies(r) || (klen = bbt_throttle_key(r, key)) == 0) {
        return;
    }
    if (bbt_throttle_seen.klen == klen &&
        bbt_throttle_open(bbt_throttle_seen.end, now) &&
        memcmp(bbt_throttle_seen.key, key, klen) == 0) {
        return;
    }
    if (!bbt_throttle_lock(r)) {
        return;
    }
    if (!bbt_throttle_fetch(r, key, klen, now, &e)) {
        e.end = now + apr_time_from_sec(bbt_throttle.window);
        e.count = 0;
    }
    if (e.count < APR_UINT32_MAX) {
        e.count++;
    }
    rv = bbt_socache_put(&bbt_throttle.sc, r->server, key, klen, e.end,
                         (unsigned char *)&e, sizeof(e), r->pool);
    if (rv == APR_SUCCESS && e.count == (apr_uint32_t)bbt_throttle.failures) {
        bbt_throttle_ring_add(e.end);
    }
    bbt_socache_unlock(&bbt_throttle.sc);
    if (rv == APR_SUCCESS && e.count >= (apr_uint32_t)bbt_throttle.failures) {
        memcpy(bbt_throttle_seen.key, key, klen);
        bbt_throttle_seen.klen = klen;
        bbt_throttle_seen.end = e.end;
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      "BBT508: the failed-login throttle could not count "
                      "client %s",
                      r->useragent_ip);
    } else if (e.count == (apr_uint32_t)bbt_throttle.failures) {
        /* Once per window: the line fail2ban's filter also knows. */
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "BBT505: client %s throttled: %u failed logins in %d "
                      "s; its passwords are answered 429 for %" APR_TIME_T_FMT
                      " s",
                      r->useragent_ip, e.count, bbt_throttle.window,
                      apr_time_sec(e.end - now + APR_USEC_PER_SEC - 1));
    }
}

void bbt_throttle_gauge(void)
{
    apr_int64_t now, total = 0;
    int i;

    if (!bbt_throttle.ring) {
        /* The gauge outlives a restart; a generation without a throttle
         * holds nobody back. */
        bbt_stats_gauge_set(BBT_GAUGE_THROTTLED_CLIENTS, 0);
        return;
    }
    if (!bbt_socache_lock(&bbt_throttle.sc)) {
        return;
    }
    now = apr_time_sec(apr_time_now());
    for (i = 0; i < BBT_THROTTLE_RING; i++) {
        /* As bbt_throttle_open: past the window, the clock went back. */
        if (bbt_throttle.ring[i].sec > now &&
            bbt_throttle.ring[i].sec <= now + bbt_throttle.window + 1) {
            total += bbt_throttle.ring[i].n;
        }
    }
    bbt_socache_unlock(&bbt_throttle.sc);
    bbt_stats_gauge_set(BBT_GAUGE_THROTTLED_CLIENTS, total);
}
