/*
 * A verified token's owner's level on the request's target, and on its
 * second target where it has one (a personal token's: a project's or a
 * repository's token has no owner).  On the target, from the owner's level
 * map, as the token's row of bbtoken_lookup holds it, or, for an owner
 * without one (more grants than a map holds), asked of the database by the
 * owner's id.  Read with the whole row by the token lookup, or alone for a
 * token the cache answered whose level on the target it has not: any valid
 * token may name as many targets as it likes, and its row is then as its
 * believed entry says, neither read nor kept again.  On a second target (a
 * COPY's or MOVE's Destination, the project a body names), asked of the
 * database by the owner's id, whether the token came from the cache or the
 * lookup, and never kept.
 */
#ifndef BBT_VLEVEL_H
#define BBT_VLEVEL_H

#include "httpd.h"

#include "bbt_cache.h"
#include "bbt_db.h"
#include "bbt_perm.h"
#include "bbt_request.h"

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

/* The second target of rq's request whose owner's level a personal token
 * let in needs, the token's owner read with name name, or NULL (none, or
 * one without a key, which bbt_decide refuses without a level).  Its key
 * is filled in where it is the owner's personal project
 * (bbt_request_dest_own): that of the name read with the token, the one
 * the backend is told (REMOTE_USER) and puts the repository in. */
const bbt_target_t *bbt_vlevel_dest(request_rec *r, bbt_req_t *rq,
                                    const char *name);

/* The live level of the owner with id owner on dest (bbt_vlevel_dest's)
 * into *level, asked on c once the token is let in: BBT_DB_OK or
 * BBT_DB_UNAVAILABLE (BBT320).  By id, never by the name: a user renamed
 * while the request waited and a new user given the old name, the token
 * would reach what the new user may; and asked of the live tables, never
 * of the map read with the token, so that a rename committed since the
 * token was read (its entry believed, or its row) is seen: the owner holds
 * their personal project only while the name is still theirs
 * (t/45-rest-body-project-rename). */
bbt_db_status_t bbt_vlevel_dest_level(bbt_db_conn_t *c, apr_int64_t owner,
                                      const bbt_target_t *dest,
                                      bbt_level_t *level);

/* For token token_id, whose entry v's cache holds and believes and which
 * it would let in, owned by owner: what the request needs that the cache
 * has not, on one connection: its level on (key, slug) into *level where
 * key is not NULL (why says why the cache had not that, for the log), read
 * from its lookup row's level map alone and kept as a level entry
 * (stamped with v's stamp, read before the token's entry was looked at;
 * never what a hot standby answered), and on the second target dest into
 * *dest_level where dest is not NULL (bbt_vlevel_dest_level), kept
 * nowhere.  OK, or HTTP_SERVICE_UNAVAILABLE (the database could not
 * answer: BBT322, BBT320).  Where the level on the target is read, a token
 * whose row is gone meanwhile has level NONE on each, kept nowhere.
 * Nothing is counted: the caller knows once the token has been judged
 * again whether the cache answered it. */
int bbt_vlevel_read(request_rec *r, const bbt_cache_view_t *v,
                    const char *token_id, apr_int64_t owner, const char *key,
                    const char *slug, bbt_cache_got_t why,
                    const bbt_target_t *dest, bbt_level_t *level,
                    bbt_level_t *dest_level);

#endif
