/*
 * The cache in httpd: token verifications and owners' levels in a socache
 * (shmcb) shared by every child, and the state the listener keeps in
 * shared memory for all of them: the stamps and the heartbeat
 * (bbt_cshared.h).  What an entry holds and when it may be believed is the
 * core's (bbt_centry.h, bbt_cmark.h); the listener is bbt_listen.c.
 */
#ifndef BBT_CACHE_H
#define BBT_CACHE_H

#include "httpd.h"
#include "apr_atomic.h"

#include "bbt_centry.h"

/* The hooks' parts (mod_bbtoken.c). */
void bbt_cache_pre_config(apr_pool_t *pconf);
/* The cache is believed only while a listener hears PostgreSQL's
 * notifications: start_listener registers it (NULL, or what failed), and
 * a NULL start_listener means none can run (the cache stays off).  The
 * caller supplies it, so that the listener, which feeds the cache, is the
 * one that knows the cache. */
typedef const char *(*bbt_cache_listener_fn)(apr_pool_t *pconf, server_rec *s);
int bbt_cache_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                          bbt_cache_listener_fn start_listener);
void bbt_cache_child_init(apr_pool_t *pchild, server_rec *s);

/* What one request saw when it began: whether it may use the cache at
 * all (it is on, for this server, whose database is the listener's), and
 * the heartbeat and the stamp, read in that order (again after a wait:
 * bbt_cache_again); and the thread's state for the cache's keys and
 * copies, looked up once for every look and store the request makes (NULL
 * when the cache is off: it makes no key).  For the call that began it
 * only, on its thread. */
typedef struct {
    int use;
    apr_uint64_t stamp; /* what the request keeps is stamped with */
    apr_int64_t heartbeat;
    apr_int64_t behind; /* bbt_clock.h: how far this host's clock is behind
                           the listener's database's (or, until it has
                           heard one, the last generation's), at least; 0
                           when not known; this server's only when
                           clock_use */
    int clock_use;      /* the server reads that database */
    bbt_cthread_t *thread;
} bbt_cache_view_t;

void bbt_cache_begin(request_rec *r, bbt_cache_view_t *v);

/* The key of a token's entry into key; 0, or -1 (then use no cache). */
int bbt_cache_token_key(const bbt_cache_view_t *v, const bbt_token_t *tok,
                        unsigned char key[BBT_CKEY_LEN]);

/* What a look into the cache found. */
typedef enum {
    BBT_CACHE_HIT = 0,   /* an entry that may be believed */
    BBT_CACHE_NONE,      /* no entry: never made, or pushed out */
    BBT_CACHE_OLD,       /* an entry older than a change since */
    BBT_CACHE_UNTRUSTED, /* the listener's heartbeat is not fresh */
    BBT_CACHE_UNUSED     /* the cache is off, or not for this server */
} bbt_cache_got_t;

/* The entry under tkey of the token with id token_id as *e (returned:
 * BBT_CACHE_HIT when it may be believed) and, when it is a personal
 * token's row usable from r's address and there is a target (key, slug
 * for a repository), its owner's level there into *level, judged apart
 * (*level_got: BBT_CACHE_HIT when it may be believed or none is needed; as
 * the return when the token's entry may not).  A believed token's entry
 * whose owner's level is not there calls for that level alone: the entry
 * is still good.  now is the request's wall-clock time (apr_time_now),
 * read once for it: a token expired by then has no level looked up.  From
 * this thread's copies (no lock; see bbt_centry.h, bbt_cnear_get, for what
 * a copy may lag on; *e is then the copy's decoding, read-only, good until
 * this thread's next look or store), or, when shared, from the shared
 * cache under its lock (what it finds becomes this thread's copies; *e is
 * then buf). */
bbt_cache_got_t bbt_cache_get(request_rec *r, const bbt_cache_view_t *v,
                              const unsigned char *tkey, const char *token_id,
                              const char *key, const char *slug, int shared,
                              apr_int64_t now, bbt_centry_t *buf,
                              const bbt_centry_t **e, bbt_level_t *level,
                              bbt_cache_got_t *level_got);

/* Whether the token's entry e (token_id's), which a look with v believed,
 * may be believed still once the request has waited (for a pooled
 * connection, for the database's answer): v's heartbeat, stamp and clock
 * read again, as bbt_cache_begin read them, and e judged by the rule the
 * look judged it by.  BBT_CACHE_HIT, or why not.  What the request keeps
 * afterwards is stamped with the stamp read here, before the statements it
 * sends after this. */
bbt_cache_got_t bbt_cache_again(bbt_cache_view_t *v, const bbt_centry_t *e,
                                const char *token_id);

/* Why a look found nothing believable, for the debug log. */
const char *bbt_cache_got_str(bbt_cache_got_t got);

/* Keep an entry (its stamp says which changes it has seen), in the
 * shared cache and as this thread's copy (v's).  An owner's level on a
 * repository that spans (its level map gives every repository of the
 * project the project's own level: bbt_levelmap_spans) is kept as the
 * level on all of them, one entry. */
void bbt_cache_put_token(request_rec *r, const bbt_cache_view_t *v,
                         const unsigned char *key, const bbt_centry_t *e);
void bbt_cache_put_level(request_rec *r, const bbt_cache_view_t *v,
                         apr_int64_t owner, const char *key, const char *slug,
                         int spans, bbt_level_t level);

/* The cache's shared memory as shmcb accounts for it (its entries among
 * them), for mod_status's HTML page; nothing when the cache is off.  ?auto
 * gets nothing: shmcb's keys there are mod_ssl's too. */
void bbt_cache_status(request_rec *r, int flags);

/* A token request answered from the cache (shared 0: by the thread's own
 * copies), or not (and why): counted in bbt_stats.h's counters. */
void bbt_cache_count_hit(int shared);
void bbt_cache_count_miss(bbt_cache_got_t got);

/* The database connection a request of r->server got from mod_dbd (a
 * PGconn), once it has answered, and whether its server is a hot standby
 * (bbt_db_conn_standby): the first one a child sees for a server
 * decides whether that server reads the listener's database, and so may
 * use the cache; and what a hot standby answered is never kept (BBT811).
 * Returns whether what the connection answered may be kept (as
 * bbt_cache_view_t's use). */
struct pg_conn;
int bbt_cache_note_db(request_rec *r, struct pg_conn *pg, int standby);

/* Whether r's server reads the database whose clock bbt_clock_now judges
 * by (the listener's, or the last generation's until it hears one): known
 * from a child's first connection for a virtual host, so asked again once
 * the request has one (after bbt_cache_note_db). */
int bbt_cache_clock_use(request_rec *r);

/* Forget every entry (raise the floor): the listener when it cannot know
 * what changed while it was away, or that a table was made anew. */
void bbt_cache_forget_all(void);
/* Forget the entries of the token with this id (raise its mark; an id
 * that is none, every entry): the REST API after a change of the token
 * it committed itself, seen here before any notification. */
void bbt_cache_forget_token(const char *id);
/* A notification on 'bbtoken' (its payload): the listener.  A token's
 * forgets that token's entries, any other every entry (bbt_cmark.h). */
void bbt_cache_heard(const char *payload);

/* For the listener (bbt_listen.c): a heartbeat came back (published for
 * requests to judge entries by; the first since the listener was down
 * counts a resync), or the heartbeat is withdrawn (if it was up, a loss
 * counted).  A listener starting calls bbt_cache_listener_down too: the
 * one before it may have died without doing so. */
void bbt_cache_heartbeat(apr_int64_t sent);
void bbt_cache_listener_down(void);

/* Set the listeners' gauge to what a scrape sees now: 1 while this
 * generation's listener is up and its heartbeat fresh enough for the
 * cache to be believed (bbt_cache_usable), else 0. */
void bbt_cache_gauge(void);

/* How far this host's clock is behind the listener's database's, at least
 * (0: not behind, or not known), for every request of a server that reads
 * that database (bbt_clock.h). */
void bbt_cache_clock_behind(apr_int64_t us);
void bbt_cache_set_source(const unsigned char fp[32]);

/* The database's identity as libpq's options say it (an array of
 * PQconninfoOption): a digest of every option but the password and those
 * that do not choose the data (application_name, connect_timeout...).
 * In bbt_cachefp.c. */
struct _PQconninfoOption;
void bbt_cache_fingerprint(const struct _PQconninfoOption *opts,
                           unsigned char out[32]);

#endif
