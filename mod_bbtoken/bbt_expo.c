/*
 * The counters as text (see bbt_expo.h).  The tables below are the one
 * place a metric is named: its family (name, type, help) and, for each
 * counter and gauge of bbt_stats.h, its family, its fixed labels and its
 * key on mod_status's page.
 */
#include "bbt_expo.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const uint64_t bbt_stats_db_bound_us[BBT_STATS_DB_BOUNDS] = {
    500,    1000,   2500,   5000,    10000,   25000,  50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000};
const char *const bbt_stats_db_bound_le[BBT_STATS_DB_BOUNDS] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
    "0.1",    "0.25",  "0.5",    "1",     "2.5",  "5"};

size_t bbt_stats_db_bucket(uint64_t usec)
{
    size_t i;

    for (i = 0; i < BBT_STATS_DB_BOUNDS; i++) {
        if (usec <= bbt_stats_db_bound_us[i]) {
            return i;
        }
    }
    return BBT_STATS_DB_BOUNDS;
}

enum {
    F_BUILD,
    F_REQUESTS,
    F_DB_QUERIES,
    F_DB_ERRORS,
    F_DB_DURATION,
    F_CACHE_HITS,
    F_CACHE_THREAD_HITS,
    F_CACHE_MISSES,
    F_CACHE_LEVEL_LOOKUPS,
    F_CACHE_STORES,
    F_CACHE_STORE_FAILURES,
    F_CACHE_NOTIFICATIONS,
    F_CACHE_RESYNCS,
    F_CACHE_LISTENER_LOSSES,
    F_CACHE_LISTENERS,
    F_NOTIFY_QUEUE,
    F_SCHEMA_VERSION,
    F_SCHEMA_EXPECTED,
    F_THROTTLED,
    F_COUNT
};

static const struct {
    const char *name, *type, *help;
} bbt_family[F_COUNT] = {
    [F_BUILD] = {"bbtoken_build_info", "gauge",
                 "The module's version, as its label (always 1)."},
    [F_REQUESTS] = {"bbtoken_requests_total", "counter",
                    "Requests to locations with AuthType BBToken, by what the "
                    "module decided: allowed, or the status it refused them "
                    "with."},
    [F_DB_QUERIES] = {"bbtoken_db_queries_total", "counter",
                      "Statements the module ran on PostgreSQL."},
    [F_DB_ERRORS] = {"bbtoken_db_errors_total", "counter",
                     "Database failures: no connection from mod_dbd's pool "
                     "(connection), or a statement that failed (query)."},
    [F_DB_DURATION] = {"bbtoken_db_query_duration_seconds", "histogram",
                       "How long each statement took, from sending it to its "
                       "result."},
    [F_CACHE_HITS] = {"bbtoken_cache_hits_total", "counter",
                      "Token lookups the token cache answered."},
    [F_CACHE_THREAD_HITS] = {"bbtoken_cache_thread_hits_total", "counter",
                             "Of those, the ones the request thread's own "
                             "copies answered, without the shared cache's "
                             "lock."},
    [F_CACHE_MISSES] = {"bbtoken_cache_misses_total", "counter",
                        "Token lookups the token cache sent to the database, "
                        "by why: no entry (absent), an entry older than the "
                        "last change (stale), the listener not heard from "
                        "(untrusted)."},
    [F_CACHE_LEVEL_LOOKUPS] = {"bbtoken_cache_level_lookups_total", "counter",
                               "Of those, the ones whose token's entry the "
                               "cache held: only the owner's level on the "
                               "target was asked of the database."},
    [F_CACHE_STORES] = {"bbtoken_cache_stores_total", "counter",
                        "Entries written to the token cache."},
    [F_CACHE_STORE_FAILURES] = {"bbtoken_cache_store_failures_total", "counter",
                                "Entries the token cache's socache refused."},
    [F_CACHE_NOTIFICATIONS] = {"bbtoken_cache_notifications_total", "counter",
                               "Changes the cache's listener was told of; "
                               "one that names a token forgets that token's "
                               "entries, one that names an owner that "
                               "owner's level entries, any other every "
                               "entry."},
    [F_CACHE_RESYNCS] = {"bbtoken_cache_resyncs_total", "counter",
                         "Times the cache's listener began to be believed "
                         "(connected, or its triggers all firing always "
                         "again), having forgotten every entry."},
    [F_CACHE_LISTENER_LOSSES] = {"bbtoken_cache_listener_losses_total",
                                 "counter",
                                 "Times the cache's listener stopped being "
                                 "believed: its connection lost, its "
                                 "triggers not all firing always, or its "
                                 "end at a child's exit or a restart."},
    [F_CACHE_LISTENERS] = {"bbtoken_cache_listeners", "gauge",
                           "Cache listeners holding their LISTEN connection "
                           "to PostgreSQL (one per server)."},
    [F_NOTIFY_QUEUE] = {"bbtoken_notify_queue_usage_ratio", "gauge",
                        "How full PostgreSQL's NOTIFY queue is (0 to 1), "
                        "which every database of the cluster shares, as "
                        "the cache's listener last read it; from half "
                        "full the schema's changes notify nothing and "
                        "empty the caches, full, the cache is not "
                        "believed."},
    [F_SCHEMA_VERSION] = {"bbtoken_schema_version", "gauge",
                          "The database's schema version, as a child last "
                          "read it (once per child, on its first "
                          "connection); 0 until one has."},
    [F_SCHEMA_EXPECTED] = {"bbtoken_schema_version_expected", "gauge",
                           "The schema version this module's release "
                           "expects: the last of its migrations."},
    [F_THROTTLED] = {"bbtoken_throttled_clients", "gauge",
                     "Clients refused for now by a throttle."},
};

typedef struct {
    int family;
    const char *labels; /* NULL: none */
    const char *key;    /* mod_status's, after "BBToken" */
    int billionths;     /* a gauge kept in billionths, shown as a ratio */
} bbt_series_t;

static const bbt_series_t bbt_counter[BBT_STAT_COUNTERS] = {
    [BBT_STAT_ALLOWED] = {F_REQUESTS, "outcome=\"allowed\"", "RequestsAllowed"},
    [BBT_STAT_REFUSED_400] = {F_REQUESTS, "outcome=\"400\"", "Requests400"},
    [BBT_STAT_REFUSED_401] = {F_REQUESTS, "outcome=\"401\"", "Requests401"},
    [BBT_STAT_REFUSED_403] = {F_REQUESTS, "outcome=\"403\"", "Requests403"},
    [BBT_STAT_REFUSED_429] = {F_REQUESTS, "outcome=\"429\"", "Requests429"},
    [BBT_STAT_REFUSED_500] = {F_REQUESTS, "outcome=\"500\"", "Requests500"},
    [BBT_STAT_REFUSED_503] = {F_REQUESTS, "outcome=\"503\"", "Requests503"},
    [BBT_STAT_REFUSED_OTHER] = {F_REQUESTS, "outcome=\"other\"",
                                "RequestsOther"},
    [BBT_STAT_DB_QUERIES] = {F_DB_QUERIES, NULL, "DBQueries"},
    [BBT_STAT_DB_CONNECTION_ERRORS] = {F_DB_ERRORS, "kind=\"connection\"",
                                       "DBConnectionErrors"},
    [BBT_STAT_DB_QUERY_ERRORS] = {F_DB_ERRORS, "kind=\"query\"",
                                  "DBQueryErrors"},
    [BBT_STAT_CACHE_HITS] = {F_CACHE_HITS, NULL, "CacheHits"},
    [BBT_STAT_CACHE_THREAD_HITS] = {F_CACHE_THREAD_HITS, NULL,
                                    "CacheThreadHits"},
    [BBT_STAT_CACHE_MISSES] = {F_CACHE_MISSES, "reason=\"absent\"",
                               "CacheMisses"},
    [BBT_STAT_CACHE_STALE] = {F_CACHE_MISSES, "reason=\"stale\"",
                              "CacheMissesStale"},
    [BBT_STAT_CACHE_UNTRUSTED] = {F_CACHE_MISSES, "reason=\"untrusted\"",
                                  "CacheMissesUntrusted"},
    [BBT_STAT_CACHE_LEVEL_LOOKUPS] = {F_CACHE_LEVEL_LOOKUPS, NULL,
                                      "CacheLevelLookups"},
    [BBT_STAT_CACHE_STORES] = {F_CACHE_STORES, NULL, "CacheStores"},
    [BBT_STAT_CACHE_STORE_FAILURES] = {F_CACHE_STORE_FAILURES, NULL,
                                       "CacheStoreFailures"},
    [BBT_STAT_CACHE_NOTIFICATIONS] = {F_CACHE_NOTIFICATIONS, NULL,
                                      "CacheNotifications"},
    [BBT_STAT_CACHE_RESYNCS] = {F_CACHE_RESYNCS, NULL, "CacheResyncs"},
    [BBT_STAT_CACHE_LISTENER_LOSSES] = {F_CACHE_LISTENER_LOSSES, NULL,
                                        "CacheListenerLosses"},
};

static const bbt_series_t bbt_gauge[BBT_GAUGE_COUNT] = {
    [BBT_GAUGE_CACHE_LISTENERS] = {F_CACHE_LISTENERS, NULL, "CacheListeners"},
    [BBT_GAUGE_NOTIFY_QUEUE] = {F_NOTIFY_QUEUE, NULL, "NotifyQueueUsage", 1},
    [BBT_GAUGE_SCHEMA_VERSION] = {F_SCHEMA_VERSION, NULL, "SchemaVersion"},
    [BBT_GAUGE_SCHEMA_EXPECTED] = {F_SCHEMA_EXPECTED, NULL,
                                   "SchemaVersionExpected"},
    [BBT_GAUGE_THROTTLED_CLIENTS] = {F_THROTTLED, NULL, "ThrottledClients"},
};

static void bbt_put(bbt_expo_emit_t emit, void *ctx, const char *s)
{
    emit(ctx, s, strlen(s));
}

static void bbt_printf(bbt_expo_emit_t emit, void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void bbt_printf(bbt_expo_emit_t emit, void *ctx, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0) {
        emit(ctx, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
    }
}

/* name{labels} value, for a counter (unsigned) or a gauge (signed). */
static void bbt_sample(bbt_expo_emit_t emit, void *ctx, const char *name,
                       const char *labels, const char *value)
{
    bbt_printf(emit, ctx, "%s%s%s%s %s\n", name, labels ? "{" : "",
               labels ? labels : "", labels ? "}" : "", value);
}

/* A label value as the format wants it: backslash, quote and newline
 * escaped.  Longer values are cut (the version is a few characters). */
static void bbt_label_value(const char *in, char *out, size_t outlen)
{
    size_t o = 0;

    for (; *in && o + 3 < outlen; in++) {
        if (*in == '\\' || *in == '"') {
            out[o++] = '\\';
            out[o++] = *in;
        } else if (*in == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *in;
        }
    }
    out[o] = '\0';
}

/* Seconds, exactly, from microseconds. */
static void bbt_seconds(uint64_t usec, char *out, size_t outlen)
{
    snprintf(out, outlen, "%llu.%06llu", (unsigned long long)(usec / 1000000),
             (unsigned long long)(usec % 1000000));
}

/* A gauge's value as text: billionths as a decimal fraction, exactly and
 * without trailing zeros (35286 is 0.000035286). */
static void bbt_gauge_value(const bbt_series_t *g, int64_t v, char *out,
                            size_t outlen)
{
    unsigned long long a, frac;
    char digits[16];
    int n;

    if (!g->billionths) {
        snprintf(out, outlen, "%lld", (long long)v);
        return;
    }
    a = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
    frac = a % 1000000000ULL;
    if (frac == 0) {
        snprintf(out, outlen, "%s%llu", v < 0 ? "-" : "", a / 1000000000ULL);
        return;
    }
    snprintf(digits, sizeof(digits), "%09llu", frac);
    n = 9;
    while (digits[n - 1] == '0') {
        n--;
    }
    digits[n] = '\0';
    snprintf(out, outlen, "%s%llu.%s", v < 0 ? "-" : "", a / 1000000000ULL,
             digits);
}

static void bbt_histogram(const bbt_stats_snap_t *snap, const char *name,
                          bbt_expo_emit_t emit, void *ctx)
{
    uint64_t total = 0;
    char value[32];
    size_t i;

    /* Cumulative, and counted from the same buckets as _count, so the
     * +Inf bucket and _count always agree. */
    for (i = 0; i <= BBT_STATS_DB_BOUNDS; i++) {
        total += snap->db_bucket[i];
        bbt_printf(emit, ctx, "%s_bucket{le=\"%s\"} %llu\n", name,
                   i < BBT_STATS_DB_BOUNDS ? bbt_stats_db_bound_le[i] : "+Inf",
                   (unsigned long long)total);
    }
    bbt_seconds(snap->db_usec, value, sizeof(value));
    bbt_printf(emit, ctx, "%s_sum %s\n", name, value);
    bbt_printf(emit, ctx, "%s_count %llu\n", name, (unsigned long long)total);
}

void bbt_expo_prometheus(const bbt_stats_snap_t *snap, const char *version,
                         bbt_expo_emit_t emit, void *ctx)
{
    char value[32], label[96];
    int f;
    size_t i;

    for (f = 0; f < F_COUNT; f++) {
        const char *name = bbt_family[f].name;

        bbt_printf(emit, ctx, "# HELP %s %s\n# TYPE %s %s\n", name,
                   bbt_family[f].help, name, bbt_family[f].type);
        if (f == F_BUILD) {
            bbt_label_value(version ? version : "", value, sizeof(value));
            snprintf(label, sizeof(label), "version=\"%s\"", value);
            bbt_sample(emit, ctx, name, label, "1");
            continue;
        }
        if (f == F_DB_DURATION) {
            bbt_histogram(snap, name, emit, ctx);
            continue;
        }
        for (i = 0; i < BBT_STAT_COUNTERS; i++) {
            if (bbt_counter[i].family == f) {
                snprintf(value, sizeof(value), "%llu",
                         (unsigned long long)snap->counter[i]);
                bbt_sample(emit, ctx, name, bbt_counter[i].labels, value);
            }
        }
        for (i = 0; i < BBT_GAUGE_COUNT; i++) {
            if (bbt_gauge[i].family == f) {
                bbt_gauge_value(&bbt_gauge[i], snap->gauge[i], value,
                                sizeof(value));
                bbt_sample(emit, ctx, name, bbt_gauge[i].labels, value);
            }
        }
    }
}

static void bbt_status_line(bbt_expo_emit_t emit, void *ctx, int html,
                            const char *key, const char *value)
{
    if (html) {
        bbt_printf(emit, ctx, "<tr><td>BBToken%s</td><td>%s</td></tr>\n", key,
                   value);
    } else {
        bbt_printf(emit, ctx, "BBToken%s: %s\n", key, value);
    }
}

void bbt_expo_status(const bbt_stats_snap_t *snap, int html,
                     bbt_expo_emit_t emit, void *ctx)
{
    char value[32];
    size_t i;

    if (html) {
        bbt_put(emit, ctx,
                "<hr />\n<h2>mod_bbtoken</h2>\n<table border=\"0\">\n");
    }
    for (i = 0; i < BBT_STAT_COUNTERS; i++) {
        snprintf(value, sizeof(value), "%llu",
                 (unsigned long long)snap->counter[i]);
        bbt_status_line(emit, ctx, html, bbt_counter[i].key, value);
        if (i == BBT_STAT_DB_QUERIES) {
            bbt_seconds(snap->db_usec, value, sizeof(value));
            bbt_status_line(emit, ctx, html, "DBQuerySeconds", value);
        }
    }
    for (i = 0; i < BBT_GAUGE_COUNT; i++) {
        bbt_gauge_value(&bbt_gauge[i], snap->gauge[i], value, sizeof(value));
        bbt_status_line(emit, ctx, html, bbt_gauge[i].key, value);
    }
    if (html) {
        bbt_put(emit, ctx, "</table>\n");
    }
}
