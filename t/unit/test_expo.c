/* The counters as text: Prometheus's exposition format and mod_status's
 * section, from a snapshot; the latency histogram's buckets. */
#include "bbt_expo.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char buf[16384];
    size_t len;
} out_t;

static void emit(void *ctx, const char *text, size_t len)
{
    out_t *o = ctx;

    if (o->len + len < sizeof(o->buf)) {
        memcpy(o->buf + o->len, text, len);
        o->len += len;
        o->buf[o->len] = '\0';
    }
}

static int has_line(const out_t *o, const char *line)
{
    size_t n = strlen(line);
    const char *p = o->buf;

    while ((p = strstr(p, line)) != NULL) {
        if ((p == o->buf || p[-1] == '\n') && p[n] == '\n')
            return 1;
        p++;
    }
    return 0;
}

static void line(const out_t *o, const char *want)
{
    ok(has_line(o, want), "line: %s", want);
}

static void test_buckets(void)
{
    is_int((long long)bbt_stats_db_bucket(0), 0, "0 us: the first bucket");
    is_int((long long)bbt_stats_db_bucket(500), 0, "500 us: le=0.0005");
    is_int((long long)bbt_stats_db_bucket(501), 1, "501 us: le=0.001");
    is_int((long long)bbt_stats_db_bucket(25000), 5, "25 ms: le=0.025");
    is_int((long long)bbt_stats_db_bucket(5000000), BBT_STATS_DB_BOUNDS - 1,
           "5 s: the last bound");
    is_int((long long)bbt_stats_db_bucket(5000001), BBT_STATS_DB_BOUNDS,
           "over 5 s: the bucket past the bounds");
}

static void snapshot(bbt_stats_snap_t *s)
{
    size_t i;

    memset(s, 0, sizeof(*s));
    for (i = 0; i < BBT_STAT_COUNTERS; i++)
        s->counter[i] = 1000 + i;
    for (i = 0; i < BBT_GAUGE_COUNT; i++)
        s->gauge[i] = 2000 + (int64_t)i;
    s->gauge[BBT_GAUGE_COUNT - 1] = -3;
    /* Billionths, shown as a ratio. */
    s->gauge[BBT_GAUGE_NOTIFY_QUEUE] = 35286;
    s->db_bucket[0] = 1;
    s->db_bucket[5] = 2;
    s->db_bucket[BBT_STATS_DB_BOUNDS] = 3;
    s->db_usec = 1234567;
}

/* Every sample names a family declared above it with # TYPE, and no
 * family is declared twice. */
static void test_shape(const out_t *o)
{
    char copy[sizeof(o->buf)], *save = NULL, *l;
    char families[32][80];
    int nfam = 0, bad = 0, samples = 0, i;

    memcpy(copy, o->buf, o->len + 1);
    for (l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (strncmp(l, "# TYPE ", 7) == 0) {
            size_t n = strcspn(l + 7, " ");

            for (i = 0; i < nfam; i++)
                if (strlen(families[i]) == n &&
                    strncmp(families[i], l + 7, n) == 0)
                    bad++;
            if (nfam < 32 && n < sizeof(families[0])) {
                memcpy(families[nfam], l + 7, n);
                families[nfam++][n] = '\0';
            }
        } else if (l[0] != '#') {
            size_t n = strcspn(l, "{ ");
            int found = 0;

            samples++;
            for (i = 0; i < nfam; i++) {
                size_t f = strlen(families[i]);

                /* A histogram's samples carry a suffix. */
                if (strncmp(l, families[i], f) == 0 &&
                    (f == n || strncmp(l + f, "_bucket", n - f) == 0 ||
                     strncmp(l + f, "_sum", n - f) == 0 ||
                     strncmp(l + f, "_count", n - f) == 0))
                    found = 1;
            }
            if (!found) {
                diag("no family for: %s", l);
                bad++;
            }
        }
    }
    ok(nfam >= 10 && bad == 0,
       "%d families, each declared once, and every "
       "one of %d samples under its family",
       nfam, samples);
}

static void test_prometheus(void)
{
    bbt_stats_snap_t s;
    out_t o = {.len = 0};
    char want[128];
    size_t i;

    snapshot(&s);
    bbt_expo_prometheus(&s, "1.0\"x\\", emit, &o);
    ok(o.len > 0 && o.buf[o.len - 1] == '\n', "text ending in a newline");
    line(&o, "# TYPE bbtoken_requests_total counter");
    line(&o, "bbtoken_requests_total{outcome=\"allowed\"} 1000");
    line(&o, "bbtoken_requests_total{outcome=\"400\"} 1001");
    line(&o, "bbtoken_requests_total{outcome=\"503\"} 1006");
    line(&o, "bbtoken_db_errors_total{kind=\"connection\"} 1009");
    line(&o, "bbtoken_db_errors_total{kind=\"query\"} 1010");
    line(&o, "# TYPE bbtoken_db_query_duration_seconds histogram");
    line(&o, "bbtoken_db_query_duration_seconds_bucket{le=\"0.0005\"} 1");
    line(&o, "bbtoken_db_query_duration_seconds_bucket{le=\"0.01\"} 1");
    line(&o, "bbtoken_db_query_duration_seconds_bucket{le=\"0.025\"} 3");
    line(&o, "bbtoken_db_query_duration_seconds_bucket{le=\"5\"} 3");
    line(&o, "bbtoken_db_query_duration_seconds_bucket{le=\"+Inf\"} 6");
    line(&o, "bbtoken_db_query_duration_seconds_sum 1.234567");
    line(&o, "bbtoken_db_query_duration_seconds_count 6");
    line(&o, "# TYPE bbtoken_cache_listeners gauge");
    /* A notification that names a token forgets only its entries. */
    line(&o, "# HELP bbtoken_cache_notifications_total Changes the cache's "
             "listener was told of; one that names a token forgets that "
             "token's entries, one that names an owner that owner's level "
             "entries, any other every entry.");
    line(&o, "bbtoken_cache_misses_total{reason=\"stale\"} 1013");
    line(&o, "bbtoken_throttled_clients -3");
    line(&o, "# TYPE bbtoken_notify_queue_usage_ratio gauge");
    line(&o, "bbtoken_notify_queue_usage_ratio 0.000035286");
    line(&o, "# TYPE bbtoken_schema_version gauge");
    line(&o, "bbtoken_schema_version 2002");
    line(&o, "# TYPE bbtoken_schema_version_expected gauge");
    line(&o, "bbtoken_schema_version_expected 2003");
    line(&o, "bbtoken_build_info{version=\"1.0\\\"x\\\\\"} 1");
    /* Every counter and gauge has its row in the tables. */
    for (i = 0; i < BBT_STAT_COUNTERS; i++) {
        snprintf(want, sizeof(want), "} %llu\n",
                 (unsigned long long)s.counter[i]);
        if (!strstr(o.buf, want)) {
            snprintf(want, sizeof(want), " %llu\n",
                     (unsigned long long)s.counter[i]);
        }
        ok(strstr(o.buf, want) != NULL, "counter %zu is shown", i);
    }
    for (i = 0; i < BBT_GAUGE_COUNT; i++) {
        if (i == BBT_GAUGE_NOTIFY_QUEUE) {
            continue; /* a ratio, above */
        }
        snprintf(want, sizeof(want), " %lld\n", (long long)s.gauge[i]);
        ok(strstr(o.buf, want) != NULL, "gauge %zu is shown", i);
    }
    test_shape(&o);
}

/* The queue's fill, in billionths, as an exact decimal ratio. */
static void test_ratio(void)
{
    static const struct {
        int64_t v;
        const char *text;
    } c[] = {{0, "0"},
             {1, "0.000000001"},
             {954, "0.000000954"},
             {500000000, "0.5"},
             {250000001, "0.250000001"},
             {999999999, "0.999999999"},
             {1000000000, "1"}};
    bbt_stats_snap_t s;
    char want[128];
    size_t i;

    for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        out_t o = {.len = 0}, a = {.len = 0};

        snapshot(&s);
        s.gauge[BBT_GAUGE_NOTIFY_QUEUE] = c[i].v;
        bbt_expo_prometheus(&s, "1", emit, &o);
        snprintf(want, sizeof(want), "bbtoken_notify_queue_usage_ratio %s",
                 c[i].text);
        line(&o, want);
        bbt_expo_status(&s, 0, emit, &a);
        snprintf(want, sizeof(want), "BBTokenNotifyQueueUsage: %s", c[i].text);
        line(&a, want);
    }
}

static void test_status(void)
{
    bbt_stats_snap_t s;
    out_t a = {.len = 0}, h = {.len = 0};

    snapshot(&s);
    bbt_expo_status(&s, 0, emit, &a);
    line(&a, "BBTokenRequestsAllowed: 1000");
    line(&a, "BBTokenRequests401: 1002");
    line(&a, "BBTokenDBQueries: 1008");
    line(&a, "BBTokenDBQuerySeconds: 1.234567");
    line(&a, "BBTokenThrottledClients: -3");
    line(&a, "BBTokenSchemaVersion: 2002");
    line(&a, "BBTokenSchemaVersionExpected: 2003");
    ok(strchr(a.buf, '<') == NULL, "?auto: no HTML");
    bbt_expo_status(&s, 1, emit, &h);
    line(&h, "<h2>mod_bbtoken</h2>");
    line(&h, "<tr><td>BBTokenRequests401</td><td>1002</td></tr>");
    line(&h, "</table>");
}

int main(void)
{
    test_buckets();
    test_prometheus();
    test_status();
    test_ratio();
    return done_testing();
}
