/*
 * PostgreSQL's NOTIFY queue as the listener reads it (see bbt_nqueue.h).
 */
#include "httpd.h"
#include "http_log.h"
#include "apr_strings.h"

#include "bbt_nqueue.h"
#include "bbt_stats.h"

APLOG_USE_MODULE(bbtoken);

/* Said at half full, PostgreSQL's own first warning; said again only
 * after the queue has gone under a quarter, not on each heartbeat of a
 * fill that hovers about the half. */
#define BBT_NQUEUE_SAY (BBT_NQUEUE_SCALE / 2)
#define BBT_NQUEUE_AGAIN (BBT_NQUEUE_SCALE / 4)

/* 1 from BBT315 until BBT316.  A listener that takes over in another
 * child starts at 0, and says a full queue once more. */
static int bbt_nqueue_said;

void bbt_nqueue_heard(server_rec *s, const char *billionths)
{
    apr_int64_t v;
    char *end;

    if (!billionths || !*billionths) {
        return;
    }
    v = apr_strtoi64(billionths, &end, 10);
    if (*end || v < 0) {
        return;
    }
    if (v > BBT_NQUEUE_SCALE) {
        v = BBT_NQUEUE_SCALE;
    }
    bbt_stats_gauge_set(BBT_GAUGE_NOTIFY_QUEUE, v);
    if (!bbt_nqueue_said && v >= BBT_NQUEUE_SAY) {
        bbt_nqueue_said = 1;
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "BBT315: PostgreSQL's NOTIFY queue, which every "
                     "database of the cluster shares, is %" APR_INT64_T_FMT
                     "%% full: a session that listens and keeps a "
                     "transaction open holds it (PostgreSQL's log names its "
                     "pid: end it, SELECT pg_terminate_backend(PID)); from "
                     "half full (bbtoken_notify_skips) the schema's changes "
                     "notify nothing and each empties the token caches, and "
                     "once it is full the token cache is not believed",
                     v / (BBT_NQUEUE_SCALE / 100));
    } else if (bbt_nqueue_said && v < BBT_NQUEUE_AGAIN) {
        bbt_nqueue_said = 0;
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     "BBT316: PostgreSQL's NOTIFY queue is under a quarter "
                     "full again (%" APR_INT64_T_FMT "%%)",
                     v / (BBT_NQUEUE_SCALE / 100));
    }
}
