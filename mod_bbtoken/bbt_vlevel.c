/*
 * A verified token's owner's level (see bbt_vlevel.h).
 *
 * The level a token the cache answered is missing is read from the same
 * map the whole lookup row would have given (the row's levels column, which
 * its packed column holds too), so that whichever way a level entry is
 * made it says the same: where the schema's triggers that keep the lookup
 * were off (BBT720), both say what the row says until it is written again,
 * and its new map forgets the owner's entries (the 'u:' notification).
 */
#include "httpd.h"
#include "http_log.h"

#include "bbt_levelmap.h"
#include "bbt_vlevel.h"

APLOG_USE_MODULE(bbtoken);

bbt_db_status_t bbt_vlevel_owner(bbt_db_conn_t *c, const char *map,
                                 apr_int64_t owner, const char *key,
                                 const char *slug, bbt_vlevel_t *out)
{
    bbt_level_t project;

    out->asked = 0;
    out->spans = 0;
    if (bbt_levelmap_level(map, key, slug, &out->level) == 0) {
        /* The map gives the level on every repository of the project (one
         * entry for all) only where no repository's entry is above the
         * project's: then it is the same on each. */
        out->spans = slug && bbt_levelmap_spans(map, key, &project) == 1 &&
                     project == out->level;
        return BBT_DB_OK;
    }
    out->asked = 1;
    return bbt_db_owner_level(c, owner, key, slug, &out->level);
}

const bbt_target_t *bbt_vlevel_dest(request_rec *r, bbt_req_t *rq,
                                    const char *name)
{
    bbt_access_t *a = &rq->access;

    if (!a->has_dest) {
        return NULL;
    }
    bbt_request_dest_own(r, a, name);
    return a->dest.key[0] ? &a->dest : NULL;
}

bbt_db_status_t bbt_vlevel_dest_level(bbt_db_conn_t *c, apr_int64_t owner,
                                      const bbt_target_t *dest,
                                      bbt_level_t *level)
{
    return bbt_db_owner_level(c, owner, dest->key,
                              dest->slug[0] ? dest->slug : NULL, level);
}

int bbt_vlevel_read(request_rec *r, const bbt_cache_view_t *v,
                    const char *token_id, apr_int64_t owner, const char *key,
                    const char *slug, bbt_cache_got_t why,
                    const bbt_target_t *dest, bbt_level_t *level,
                    bbt_level_t *dest_level)
{
    bbt_db_conn_t *c;
    const char *map = NULL;
    bbt_vlevel_t got = {BBT_LEVEL_NONE, 0, 0};
    bbt_db_status_t st = BBT_DB_OK;
    int keep;

    /* Said before the connection is waited for, as BBT312 is: a request
     * held there (BBTokenDBWait) has said what it waits to do. */
    if (key) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "BBT317: token %s answered from the cache, its owner's "
                      "level on the target not (%s): the level alone is read "
                      "from the database",
                      token_id, bbt_cache_got_str(why));
    }
    if (dest) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "BBT318: token %s answered from the cache: its owner's "
                      "level on the second target is read from the database",
                      token_id);
    }
    c = bbt_db_open(r);
    if (key) {
        *level = BBT_LEVEL_NONE;
    }
    if (dest) {
        *dest_level = BBT_LEVEL_NONE;
    }
    if (!c) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (key && (st = bbt_db_levels(c, token_id, &map)) == BBT_DB_OK) {
        st = bbt_vlevel_owner(c, map, owner, key, slug, &got);
        *level = got.level;
    }
    if (dest && st == BBT_DB_OK) {
        st = bbt_vlevel_dest_level(c, owner, dest, dest_level);
    }
    /* Kept only from the listener's database, never from a hot standby,
     * as the lookup's answers are (bbt_cache_note_db). */
    keep = key && st == BBT_DB_OK &&
           bbt_cache_note_db(r, bbt_db_native(c), bbt_db_conn_standby(c));
    bbt_db_close(c);
    if (st == BBT_DB_UNAVAILABLE) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (keep) {
        bbt_cache_put_level(r, v, owner, key, slug, got.spans, got.level);
    }
    return OK;
}
