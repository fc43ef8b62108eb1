/*
 * Database access through mod_dbd.  A connection is taken from mod_dbd's
 * pool for the queries of one phase and given back at once: a ten-minute
 * clone must not pin a connection for ten minutes.
 */
#ifndef BBT_DB_H
#define BBT_DB_H

#include "httpd.h"
#include "bbt_lookuprow.h"

typedef struct bbt_db_conn bbt_db_conn_t;

typedef enum {
    BBT_DB_OK = 0,
    BBT_DB_NOT_FOUND,  /* no token with that id */
    BBT_DB_UNAVAILABLE /* the database could not answer: 503 */
} bbt_db_status_t;

/* One token's row of the lookup, with its owner's (bbt_lookuprow.h). */
typedef bbt_lookuprow_t bbt_db_token_t;

/* Fetch mod_dbd's optional functions.  Returns 0, or -1 if mod_dbd is not
 * loaded (then the server must not start). */
int bbt_db_init(void);

/* In child_init: under prefork, the connection a request holds when the
 * child is killed goes back to mod_dbd's pool before that pool goes. */
void bbt_db_child_init(apr_pool_t *pchild);

/* Take a pooled connection for request r; NULL if the database cannot be
 * reached, or no connection of the pool is free within BBTokenDBWait, or
 * the turn to ask the pool for one (one thread of the child at a time)
 * does not come within it (bbt_dbgate).  Errors on it are logged with the
 * request (its client, its log configuration). */
bbt_db_conn_t *bbt_db_open(request_rec *r);

/* As bbt_db_open, for writes a request is answered without (the throttled
 * writes of one the cache answered): a connection only if the pool has
 * one free at once (said at debug, BBT085, when not), never a wait. */
bbt_db_conn_t *bbt_db_open_spare(request_rec *r);

/* Give it back. */
void bbt_db_close(bbt_db_conn_t *c);

/* Load token `id`'s row of bbtoken_lookup (nothing else: a refusal costs
 * the same whoever owns the id): the token, its owner's name and state,
 * and the owner's level map.  Strings are copied into the request's pool.
 * A token without a row is BBT_DB_NOT_FOUND.  Not yet judged: see
 * bbt_db_judge.  *reuse in: whether the thread's last parse of the very
 * same row's text may answer (bbt_rowmemo.h); out: whether it did. */
bbt_db_status_t bbt_db_lookup(bbt_db_conn_t *c, const char *id, int *reuse,
                              bbt_db_token_t *out);

/* Decide t->expired, t->stale and t->refusal_due at now (httpd's clock,
 * bbt_clock.h) for interval (seconds, the BBTokenLastUseInterval).  now
 * is read once the answers have come: the request may have waited for a
 * connection, or behind a lock, past the token's expiry. */
void bbt_db_judge(bbt_db_token_t *t, int interval, apr_int64_t now);

/* The owner's level map (bbt_levelmap.h) of token id's row of
 * bbtoken_lookup, alone: for a token the cache answered whose owner's
 * level on the target it has not.  *map (the request's pool) NULL or ""
 * where the row holds none (an owner with too many grants, or not
 * active).  BBT_DB_OK, BBT_DB_NOT_FOUND (no row: the token is gone) or
 * BBT_DB_UNAVAILABLE. */
bbt_db_status_t bbt_db_levels(bbt_db_conn_t *c, const char *id,
                              const char **map);

/* The live level of the owner with id user_id on (key, slug), as
 * bbtoken_owner_levels computes it (NONE for a user gone or disabled):
 * asked for a verified token's target where its row has no level map
 * (bbt_levelmap_level refuses it), and for its second target.  key NULL
 * means no target (NONE, and no query); slug NULL means the project
 * itself.  BBT_DB_OK or BBT_DB_UNAVAILABLE. */
bbt_db_status_t bbt_db_owner_level(bbt_db_conn_t *c, apr_int64_t user_id,
                                   const char *key, const char *slug,
                                   bbt_level_t *level);

/* What a throttled write that was not made came to: BBT_DB_WRITE_LATER,
 * a lock given up on, a statement_timeout waited out (BBT085), a
 * connection PostgreSQL dropped that could not be connected again (or
 * was dropped again), which a try a few seconds later may get past, or
 * BBT_DB_WRITE_NEVER, a hot standby, a read-only database, any other
 * error, which trying again soon would not mend: the caller counts that
 * one as made, so that it is tried once per interval, not every few
 * seconds (each an ERROR in the server's own log). */
#define BBT_DB_WRITE_LATER (-1)
#define BBT_DB_WRITE_NEVER (-2)

/* Record that token `id` authenticated now from client address addr,
 * unless that was recorded less than interval seconds ago.  0, or
 * BBT_DB_WRITE_LATER or BBT_DB_WRITE_NEVER if it could not be written.
 * Failure is logged, not fatal: freshness is not worth refusing a verified
 * request for.  None of the throttled writes (this one and the two below)
 * is tried on a hot standby, and one a read-only database refuses is said
 * once per child (BBT812), not once per request.  None waits long for a
 * lock (a table a schema upgrade holds): it gives up, said at debug
 * (BBT085), and once one has given up (or waited out its
 * statement_timeout), the rest of c's are not tried (bbt_dbwrite.c).
 * One that finds c dropped by PostgreSQL (bbt_db_lost) is tried once more
 * on it connected again (BBT073); failing that, it is BBT_DB_WRITE_LATER
 * and the rest of c's are not tried either. */
int bbt_db_touch(bbt_db_conn_t *c, const char *id, const char *addr,
                 int interval);

/* Audit that expired token `id` was presented (with its right secret) from
 * addr and refused, unless that was audited less than interval seconds
 * ago.  0, or BBT_DB_WRITE_* (logged, not fatal) if it could not be
 * written. */
int bbt_db_note_expired(bbt_db_conn_t *c, const char *id, const char *addr,
                        int interval);

/* Record that token `id` was used from addr, in address group `group`
 * (text, bbt_agroup_str), which the token was not known to have been used
 * from: the database audits it as new_address unless it knew it after
 * all.  1 if this call kept it, 0 if the database did not (another child
 * was first, the token was revoked meanwhile), BBT_DB_WRITE_* (logged,
 * not fatal) if it could not be written. */
int bbt_db_note_net(bbt_db_conn_t *c, const char *id, const char *group,
                    const char *addr);

/* The live level of the user named `name` on (key, slug), as
 * bbtoken_owner_levels computes it; NONE for an unknown or disabled user or
 * a NULL key.  For password users alone, whom nothing but the name names:
 * a token's owner is asked by id (bbt_db_owner_level), as the name may be
 * another user's by then.  BBT_DB_OK or BBT_DB_UNAVAILABLE. */
bbt_db_status_t bbt_db_user_level(bbt_db_conn_t *c, const char *name,
                                  const char *key, const char *slug,
                                  bbt_level_t *level);

/* For a project's or a repository's token id in personal project key
 * (~name), asked only once its secret is verified: whether ~name's owner
 * exists and is active (*active), and *revoked set if the token is revoked
 * or gone by then (left as it is otherwise): the owner found is the
 * token's only while it is live.  BBT_DB_OK or BBT_DB_UNAVAILABLE. */
bbt_db_status_t bbt_db_personal_active(bbt_db_conn_t *c, const char *key,
                                       const char *id, int *active,
                                       int *revoked);

/* The connection's libpq handle (PGconn *), for statements and
 * transactions of the caller's own (the REST API). */
struct pg_conn;
struct pg_conn *bbt_db_native(bbt_db_conn_t *c);

/* Whether the server of libpq connection pg says it is a hot standby
 * (in_hot_standby on: PostgreSQL 14 and later report it, and report its
 * promotion too; an older server says nothing, and is taken for a
 * primary). */
int bbt_db_standby(const struct pg_conn *pg);

/* bbt_db_standby of c's connection, asked once per backend while the
 * answer is no: a backend's server can be promoted while it runs, but
 * becomes a standby only by a restart, which gives every connection
 * another backend. */
int bbt_db_conn_standby(bbt_db_conn_t *c);

/* After a failed statement: whether PostgreSQL had dropped the connection
 * (a restart, an idle kill, a middlebox's idle timeout).  libpq, and so
 * mod_dbd's check of a pooled connection, says so only once a statement
 * has failed on it. */
int bbt_db_lost(const bbt_db_conn_t *c);

/* After a failed statement: 1 if PostgreSQL had dropped the connection
 * (a restart, an idle kill) and the driver has now connected it again, so
 * the statement may be tried once more; 0 if the connection was live (the
 * statement itself failed) or cannot be connected again (then
 * bbt_db_unreached says why). */
int bbt_db_reconnected(bbt_db_conn_t *c);

/* Why bbt_db_reconnected could not connect c again, one line of libpq's
 * (the server's refusal: pg_hba, a password changed, NOLOGIN, too many
 * connections), while c is still not connected; else NULL.  Nothing has
 * logged it: the caller's error line says it in place of the failed
 * statement's words, which tell only that the old connection was lost. */
const char *bbt_db_unreached(const bbt_db_conn_t *c);

#endif
