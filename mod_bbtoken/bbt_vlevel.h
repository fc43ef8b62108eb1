/*
 * A verified token's owner's level on the request's target (a personal
 * token's: a project's or a repository's token has no owner).  From the
 * owner's level map, as the token's row of bbtoken_lookup holds it, or, for
 * an owner without one (more grants than a map holds), asked of the
 * database by the owner's id.  Read with the whole row by the token lookup,
 * or alone for a token the cache answered whose level on the target it has
 * not: any valid token may name as many targets as it likes, and its row is
 * then as its believed entry says, neither read nor kept again.
 */
#ifndef BBT_VLEVEL_H
#define BBT_VLEVEL_H

#include "httpd.h"

#include "bbt_cache.h"
#include "bbt_db.h"
#include "bbt_perm.h"

/* An owner's level on a target, and where it came from. */
typedef struct {
    bbt_level_t level;
    int spans; /* a repository's level that is the same on every repository
                  of its project, as the map says (bbt_levelmap_spans) */
    int asked; /* asked of the database: the owner has no map */
} bbt_vlevel_t;

/* The level of the owner with id owner on (key, slug) into *out, from map
 * (NULL or "": none, or not one bbt_levelmap.h reads) or else asked on c:
 * BBT_DB_OK or BBT_DB_UNAVAILABLE.  A level asked never spans: only a map
 * says what the owner has on the project's other repositories. */
bbt_db_status_t bbt_vlevel_owner(bbt_db_conn_t *c, const char *map,
                                 apr_int64_t owner, const char *key,
                                 const char *slug, bbt_vlevel_t *out);

/* For token token_id, whose entry v's cache holds and believes and which
 * it would let in, owned by owner: its level on (key, slug), which the
 * cache has not (why says why, for the log), read from
 * its lookup row's level map alone and kept as a level entry (stamped with
 * v's stamp, read before the token's entry was looked at; never what a hot
 * standby answered).  OK, or HTTP_SERVICE_UNAVAILABLE (the database could
 * not answer: BBT322, BBT320).  A token whose row is gone meanwhile has
 * level NONE, kept nowhere.  Nothing is counted: the caller knows once the
 * token has been judged again whether the cache answered it. */
int bbt_vlevel_read(request_rec *r, const bbt_cache_view_t *v,
                    const char *token_id, apr_int64_t owner, const char *key,
                    const char *slug, bbt_cache_got_t why, bbt_level_t *level);

#endif
