/*
 * The throttled writes of a verified request (see bbt_vwrite.h).
 */
#include "httpd.h"
#include "http_log.h"

#include "bbt_agroup.h"
#include "bbt_vwrite.h"
#include "bbt_where.h"

APLOG_USE_MODULE(bbtoken);

/* A new address group g of token id: recorded (and audited by the
 * database, unless another child was first).  0, or BBT_DB_WRITE_* if it
 * could not be written: then it is not remembered as recorded, and a later
 * request from the group tries again. */
static int bbt_vwrite_net(request_rec *r, bbt_db_conn_t *c, const char *id,
                          const bbt_agroup_t *g)
{
    char buf[BBT_AGROUP_TEXT];
    int kept;

    if (!bbt_agroup_str(g, buf, sizeof(buf))) {
        return BBT_DB_WRITE_NEVER;
    }
    kept = bbt_db_note_net(c, id, buf, bbt_where_ip(r));
    if (kept < 0) {
        return kept;
    }
    /* Said only by the child whose call kept it (the database's record is
     * the one that counts), and once written: a group that cannot be (a
     * read-only database) is tried by every request from it, which would
     * each say it again. */
    if (kept) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "BBT601: token %s used from a new address group %s "
                      "(client %s)",
                      id, buf, r->useragent_ip);
    }
    return 0;
}

/* What a throttled write tried at now that came to rc (0 or
 * BBT_DB_WRITE_*) leaves in its entry: a write that a later try may make
 * is kept as tried (*tried), due again shortly; made, or one that cannot
 * be made here (a read-only database), as made (*made), waiting the
 * interval.  Counted as made, a write that found no connection or gave
 * up a lock would wait a whole interval: a token used only within it (a
 * weekly job) would keep its old last use, and be revoked as unused while
 * in use.  One refused for good is kept as made, and not as tried an
 * interval on: each host that shares the entry then waits its own
 * BBTokenLastUseInterval, as after a write made. */
static void bbt_vwrite_wrote(int rc, int64_t now, int64_t *made, int64_t *tried)
{
    if (rc == BBT_DB_WRITE_LATER) {
        *tried = now;
    } else {
        *made = now;
        *tried = 0;
    }
}

/* Last use (touch), an expired token's refusal (expired), or a new address
 * group (g), for a request the cache answered: the first two at most once
 * per interval per token (the database functions check again under the row
 * lock), a group once (the entry remembers it; the database writes it
 * once).  Failure is logged, not fatal.  The request is answered either
 * way: it takes a connection only if one is free at once, never waiting
 * for one nor taking one a waiting request is owed (bbt_db_open_spare).
 * What each came to, 0 or BBT_DB_WRITE_*, into *use_rc and *group_rc. */
static void bbt_vwrite_now(request_rec *r, const char *id, int expired,
                           int touch, const bbt_agroup_t *g, int interval,
                           int *use_rc, int *group_rc)
{
    bbt_db_conn_t *c = bbt_db_open_spare(r);

    *use_rc = *group_rc = BBT_DB_WRITE_LATER;
    if (!c) {
        return;
    }
    if (expired || touch) {
        const char *ip = bbt_where_ip(r);

        *use_rc = expired ? bbt_db_note_expired(c, id, ip, interval)
                          : bbt_db_touch(c, id, ip, interval);
    }
    if (g) {
        *group_rc = bbt_vwrite_net(r, c, id, g);
    }
    bbt_db_close(c);
}

void bbt_vwrite_db(request_rec *r, bbt_db_conn_t *c, const char *id,
                   int presented, bbt_verdict_t verdict, bbt_db_token_t *row,
                   int interval, apr_int64_t now, bbt_vtried_t *tried)
{
    /* Only a request that proved the secret counts, and only once per
     * interval. */
    if (presented && verdict == BBT_VERDICT_OK) {
        bbt_agroup_t g;

        if (row->stale) {
            int rc = bbt_db_touch(c, id, bbt_where_ip(r), interval);

            bbt_vwrite_wrote(rc, now, &row->last_use_us, &tried->use_tried_us);
        }
        if (bbt_where_new_group(r, row->groups, row->ngroups, &g)) {
            int rc = bbt_vwrite_net(r, c, id, &g);

            if (rc == 0) {
                bbt_agroup_add(row->groups, &row->ngroups, BBT_AGROUPS_MAX, &g);
            } else {
                bbt_vwrite_wrote(rc, now, &tried->group_failed_us,
                                 &tried->group_tried_us);
            }
        }
    } else if (presented && verdict == BBT_VERDICT_EXPIRED &&
               row->refusal_due) {
        int rc = bbt_db_note_expired(c, id, bbt_where_ip(r), interval);

        bbt_vwrite_wrote(rc, now, &row->refused_us, &tried->refused_tried_us);
    }
}

/* The throttled writes a believed entry *ep called for, remembered in the
 * entry for the other children and threads (e: room for a copy of it).
 * The entry first says them tried and not made (a claim): a request that
 * reads it while they are under way (up to 100 ms on a lock) leaves them
 * to this one rather than try them too, each on a connection of its own.
 * What was made then moves the entry on. */
void bbt_vwrite_cached(request_rec *r, bbt_req_t *rq, const bbt_cache_view_t *v,
                       const bbt_centry_t *ep, bbt_centry_t *e, int touch,
                       int expired, const bbt_agroup_t *g, int interval,
                       apr_int64_t now)
{
    int use_rc, group_rc;

    if (ep != e) {
        *e = *ep;
    }
    if (touch) {
        e->use_tried_us = now;
    }
    if (expired) {
        e->refused_tried_us = now;
    }
    if (g) {
        e->group_tried_us = now;
    }
    bbt_cache_put_token(r, v, rq->cache_key, e);
    /* Neither rc is other than BBT_DB_WRITE_LATER unless that write was
     * asked for. */
    bbt_vwrite_now(r, rq->token_id, expired, touch, g, interval, &use_rc,
                   &group_rc);
    if (use_rc == BBT_DB_WRITE_LATER && group_rc == BBT_DB_WRITE_LATER) {
        return; /* the claim stands: due again at the retry */
    }
    if (use_rc != BBT_DB_WRITE_LATER) {
        bbt_vwrite_wrote(use_rc, now, touch ? &e->last_use_us : &e->refused_us,
                         touch ? &e->use_tried_us : &e->refused_tried_us);
    }
    /* A group written takes its claim back: the token's other new groups
     * are not held for it. */
    if (group_rc == 0) {
        bbt_agroup_add(e->groups, &e->ngroups, BBT_AGROUPS_MAX, g);
        e->group_tried_us = 0;
    } else if (group_rc == BBT_DB_WRITE_NEVER) {
        bbt_vwrite_wrote(group_rc, now, &e->group_failed_us,
                         &e->group_tried_us);
    }
    bbt_cache_put_token(r, v, rq->cache_key, e);
}
