/*
 * The cache listener's retries (bbt_lback.h).
 */
#include "httpd.h"
#include "http_log.h"
#include "apr_strings.h"

#include <string.h>

#include "bbt_lback.h"
#include "bbt_mono.h"

APLOG_USE_MODULE(bbtoken);

#define BBT_LBACK_MIN_US 250000
#define BBT_LBACK_MAX_US apr_time_from_sec(8)

void bbt_lback_later(bbt_lback_t *b, apr_int64_t delay)
{
    b->next_try = bbt_mono_now() + delay;
}

void bbt_lback_grow(bbt_lback_t *b)
{
    b->backoff = b->backoff ? b->backoff * 2 : BBT_LBACK_MIN_US;
    if (b->backoff > BBT_LBACK_MAX_US) {
        b->backoff = BBT_LBACK_MAX_US;
    }
    bbt_lback_later(b, b->backoff);
}

int bbt_lback_due(const bbt_lback_t *b)
{
    return bbt_mono_now() >= b->next_try;
}

void bbt_lback_heard(bbt_lback_t *b)
{
    b->backoff = 0;
    b->lost[0] = '\0';
}

void bbt_lback_lost(bbt_lback_t *b, server_rec *s, const char *why)
{
    /* As kept: a reason longer than the buffer is compared as far as it
     * goes. */
    int again = b->lost[0] && strncmp(b->lost, why, sizeof(b->lost) - 1) == 0;

    ap_log_error(APLOG_MARK, again ? APLOG_DEBUG : APLOG_NOTICE, 0, s,
                 "BBT307: the token cache's listener lost its connection to "
                 "PostgreSQL (%s): token requests read the database until it "
                 "is back",
                 why);
    apr_cpystrn(b->lost, why, sizeof(b->lost));
    b->told_down = 1;
}

void bbt_lback_down(bbt_lback_t *b, server_rec *s, const char *why)
{
    ap_log_error(APLOG_MARK, b->told_down ? APLOG_DEBUG : APLOG_NOTICE, 0, s,
                 "BBT308: the token cache's listener cannot reach "
                 "PostgreSQL (%s): token requests read the database; "
                 "trying again",
                 why);
    b->told_down = 1;
}
