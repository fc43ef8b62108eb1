/*
 * This host's clock against the database's (see bbt_clock.h).
 */
#include "httpd.h"
#include "http_log.h"

#include "bbt_clock.h"
#include "bbt_clockcmp.h"

APLOG_USE_MODULE(bbtoken);

/* A disagreement said: a second, and an agreement again within half of
 * one (not said again and again about a difference near the limit). */
#define BBT_CLOCK_SAY_US 1000000
#define BBT_CLOCK_AGAIN_US 500000

/* What was last said: 1 behind, -1 ahead, 0 in time.  The listener's
 * thread's alone. */
static int bbt_clock_said;

void bbt_clock_heard(server_rec *s, apr_time_t sent, apr_time_t got,
                     const char *db_us)
{
    bbt_clockcmp_t c;
    apr_int64_t off;

    if (bbt_clockcmp(sent, got, db_us, &c) != 0) {
        /* A clock set back between the readings proves nothing: the last
         * reading stands. */
        return;
    }
    bbt_cache_clock_behind(c.behind);
    off = c.behind > c.ahead ? c.behind : c.ahead;
    if (bbt_clock_said && off < BBT_CLOCK_AGAIN_US) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     "BBT827: this host's clock agrees with the database's "
                     "again");
        bbt_clock_said = 0;
    } else if (off >= BBT_CLOCK_SAY_US &&
               bbt_clock_said != (c.behind ? 1 : -1)) {
        bbt_clock_said = c.behind ? 1 : -1;
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "BBT826: this host's clock is %" APR_INT64_T_FMT
                     " s %s the database's: %s (keep both in time: NTP)",
                     (off + 500000) / 1000000, c.behind ? "behind" : "ahead of",
                     c.behind
                         ? "token expiries and last uses are judged by the "
                           "database's clock while the token cache's listener "
                           "reads it"
                         : "tokens are refused that long before they expire");
    }
}

apr_int64_t bbt_clock_now(const bbt_cache_view_t *v)
{
    return apr_time_now() + (v->clock_use ? v->behind : 0);
}
