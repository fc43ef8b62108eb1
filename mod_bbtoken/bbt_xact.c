/*
 * What became of a transaction whose COMMIT's answer was lost (bbt_xact.h).
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "bbt_mono.h"
#include "bbt_xact.h"

/* How long to wait between two questions about a transaction in
 * progress. */
#define BBT_XACT_POLL_US 50000

static void bbt_xact_pause(int64_t us)
{
    struct timespec ts;

    ts.tv_sec = (time_t)(us / 1000000);
    ts.tv_nsec = (long)(us % 1000000) * 1000;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

bbt_xact_t bbt_xact_ask(bbt_xact_exec_fn *exec, void *arg, const char *sql,
                        int n, const char *const *params, int64_t wait_us)
{
    int64_t until = bbt_mono_now() + wait_us, left;
    PGresult *res;
    const char *status;
    int unshown = 0;

    for (;;) {
        res = exec(arg, sql, n, params);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
            PQnfields(res) != 3) {
            PQclear(res);
            return BBT_XACT_UNREAD;
        }
        if (PQgetvalue(res, 0, 0)[0] != 't') {
            PQclear(res);
            return BBT_XACT_ELSEWHERE;
        }
        status = PQgetisnull(res, 0, 1) ? "" : PQgetvalue(res, 0, 1);
        if (strcmp(status, "committed") == 0) {
            int shown = PQgetvalue(res, 0, 2)[0] == 't';

            PQclear(res);
            if (shown) {
                return BBT_XACT_DONE;
            }
            /* Its rows may be unseen by this statement's snapshot, taken
             * before pg_xact_status ran: the next one's sees them. */
            if (!unshown++) {
                continue;
            }
            return BBT_XACT_UNSHOWN;
        }
        if (strcmp(status, "aborted") == 0) {
            PQclear(res);
            return BBT_XACT_NOT_DONE;
        }
        PQclear(res);
        if (strcmp(status, "in progress") != 0) {
            return BBT_XACT_FORGOTTEN;
        }
        if ((left = until - bbt_mono_now()) <= 0) {
            return BBT_XACT_PENDING;
        }
        bbt_xact_pause(left < BBT_XACT_POLL_US ? left : BBT_XACT_POLL_US);
    }
}
