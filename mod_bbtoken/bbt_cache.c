/*
 * The cache in httpd (see bbt_cache.h).
 *
 * Made in post_config, before the children are forked, so that they all
 * inherit it: the socache (shmcb, the size BBTokenCacheSize says, in
 * segments, each with its mutex, the refusals' and the owners' levels'
 * apart from the tokens' rows: bbt_cseg.c), a shared
 * memory segment with the stamps, the marks and the heartbeat
 * (bbt_cshared.c), and the random key the entries' keys are made with.  What it
 * does is counted with the module's other counters (bbt_stats.h), for the
 * metrics page.  A restart makes all of them anew, so nothing survives it.
 *
 * The cache is server-wide.  The listener reads the main server's
 * database; a virtual host uses the cache only when its database is the
 * same: each child checks that from the first connection mod_dbd gives it
 * for the virtual host (the options libpq reports, password aside, must be
 * the listener's), and the host's sessions must be set up as the main
 * server's (no DBDInitSQL of its own in its pool: bbt_dbgate.h), which
 * those options do not show.  Whatever the server, what a hot standby
 * answered is never kept (bbt_cache_note_db).
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_core.h"
#include "http_protocol.h"
#include "mod_status.h"
#include "apr_hash.h"
#include "apr_shm.h"
#include "apr_strings.h"

#include <string.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "bbt_cache.h"
#include "bbt_chint.h"
#include "bbt_config.h"
#include "bbt_cseg.h"
#include "bbt_cshared.h"
#include "bbt_db.h"
#include "bbt_dbgate.h"
#include "bbt_mono.h"
#include "bbt_stats.h"
#include "bbt_where.h"

APLOG_USE_MODULE(bbtoken);

/* How long the socache keeps an entry.  Entries are believed by their
 * stamp, not by this: it only lets memory go from tokens no longer
 * used before shmcb would push them out. */
#define BBT_CACHE_ENTRY_LIFE apr_time_from_sec(3600)

/* Per server, per child: does it read the listener's database? */
enum { BBT_SRV_UNKNOWN = 0, BBT_SRV_CHECKING, BBT_SRV_KNOWN };
typedef struct {
    server_rec *s;
    int own_session; /* its pool's sessions are not the main server's */
    volatile apr_uint32_t state;
    volatile apr_uint32_t warned; /* BBT306 or BBT810 said (in this child) */
    unsigned char fp[32];
} bbt_cache_srv_t;

static struct {
    bbt_ckeyer_t *keyer;
    apr_hash_t *servers; /* server_rec * -> bbt_cache_srv_t, read-only */
    server_rec *main;
    /* The main server's, without a hash look-up: most requests are its. */
    bbt_cache_srv_t *main_st;
} bbt_cache;

/* This child has said that lookups read a hot standby (BBT811). */
static volatile apr_uint32_t bbt_cache_told_standby;

void bbt_cache_pre_config(apr_pool_t *pconf)
{
    bbt_cseg_pre_config(pconf);
}

static apr_status_t bbt_cache_cleanup(void *data)
{
    (void)data;
    bbt_ckeyer_free(bbt_cache.keyer);
    memset(&bbt_cache, 0, sizeof(bbt_cache));
    bbt_cseg_reset();
    return APR_SUCCESS;
}

/* The entries' key. */
static const char *bbt_cache_keyer(void)
{
    unsigned char secret[BBT_CKEY_SECRET_LEN];

    if (RAND_bytes(secret, sizeof(secret)) != 1) {
        return "the random generator failed";
    }
    bbt_cache.keyer = bbt_ckeyer_new(secret, sizeof(secret));
    OPENSSL_cleanse(secret, sizeof(secret));
    return bbt_cache.keyer ? NULL
                           : "SipHash failed its known answer, or no memory";
}

int bbt_cache_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                          bbt_cache_listener_fn start_listener)
{
    bbt_chint_split_t split;
    const char *err;

    memset(&bbt_cache, 0, sizeof(bbt_cache));
    bbt_cseg_reset();
    /* httpd reads its configuration twice at startup; the first time is
     * only a check. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    if (!bbt_config_cache(s)) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     "BBT300: token cache off (BBTokenCache off): every "
                     "token request reads the database");
        return OK;
    }
    if (bbt_cseg_find() != 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "BBT301: token cache off: it needs mod_socache_shmcb "
                     "(LoadModule socache_shmcb_module ...); every token "
                     "request reads the database");
        return OK;
    }
    if (!start_listener) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "BBT302: token cache off: its listener needs "
                     "mod_watchdog; every token request reads the database");
        return OK;
    }
    apr_pool_cleanup_register(pconf, s, bbt_cache_cleanup,
                              apr_pool_cleanup_null);
    if ((err = bbt_cseg_make(pconf, ptemp, s, bbt_config_cache_size(s))) !=
            NULL ||
        (err = bbt_cshared_make(pconf, s->process->pool)) != NULL ||
        (err = bbt_cache_keyer()) != NULL ||
        (err = start_listener(pconf, s)) != NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "BBT303: the token cache %s",
                     err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    bbt_chint_split(bbt_config_cache_size(s), BBT_CSEG_SHARDS, &split);
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                 "BBT304: token cache on: %" APR_SIZE_T_FMT
                 " bytes of shmcb (%" APR_SIZE_T_FMT
                 " of them for refusals, %" APR_SIZE_T_FMT
                 " for owners' levels); it is believed while its listener "
                 "hears PostgreSQL (one per server, through mod_watchdog)",
                 bbt_config_cache_size(s),
                 (apr_size_t)(split.refusal_seg * split.refusal_segs),
                 (apr_size_t)(split.level_seg * split.level_segs));
    return OK;
}

void bbt_cache_status(request_rec *r, int flags)
{
    if ((flags & AP_STATUS_SHORT) || !bbt_cache.servers) {
        return;
    }
    bbt_cseg_status(r, flags);
}

void bbt_cache_child_init(apr_pool_t *pchild, server_rec *s)
{
    server_rec *sv;

    if (!bbt_cseg_on()) {
        return;
    }
    if (bbt_cseg_child_init(pchild) != 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "BBT305: the token cache's mutex cannot be opened "
                     "in this child: the child does not use the cache");
        return;
    }
    bbt_cache.main = s;
    bbt_cache.servers = apr_hash_make(pchild);
    for (sv = s; sv; sv = sv->next) {
        bbt_cache_srv_t *st = apr_pcalloc(pchild, sizeof(*st));

        st->s = sv;
        st->own_session = !bbt_dbgate_main_session(sv);
        apr_hash_set(bbt_cache.servers, &st->s, sizeof(st->s), st);
        if (sv == s) {
            bbt_cache.main_st = st;
        }
    }
}

static bbt_cache_srv_t *bbt_cache_srv(const request_rec *r)
{
    if (r->server == bbt_cache.main && bbt_cache.main_st) {
        return bbt_cache.main_st;
    }
    return bbt_cache.servers
               ? apr_hash_get(bbt_cache.servers, &r->server, sizeof(r->server))
               : NULL;
}

/* Does the server (whose database identity st holds) read the database
 * source (NULL: none known)? */
static int bbt_cache_reads(bbt_cache_srv_t *st, const unsigned char *source)
{
    if (!st || st->own_session || !source) {
        return 0;
    }
    /* The listener reads the main server's DBDParams: no need to ask. */
    if (st->s == bbt_cache.main) {
        return 1;
    }
    return apr_atomic_read32(&st->state) == BBT_SRV_KNOWN &&
           memcmp(st->fp, source, sizeof(st->fp)) == 0;
}

/* Does it read the listener's database? */
static int bbt_cache_same_source(bbt_cache_srv_t *st)
{
    return bbt_cache_reads(st, bbt_cshared_source());
}

void bbt_cache_begin(request_rec *r, bbt_cache_view_t *v)
{
    bbt_cache_srv_t *st;

    memset(v, 0, sizeof(*v));
    if (!bbt_cseg_on() || !bbt_config_cache(r->server)) {
        return;
    }
    v->thread = bbt_cthread(bbt_cache.keyer);
    st = bbt_cache_srv(r);
    v->use = bbt_cache_same_source(st);
    bbt_cshared_begin(&v->heartbeat, &v->stamp, &v->behind);
    v->clock_use = bbt_cache_reads(st, bbt_cshared_clock_source());
}

int bbt_cache_token_key(const bbt_cache_view_t *v, const bbt_token_t *tok,
                        unsigned char key[BBT_CKEY_LEN])
{
    return bbt_ckey_token(v->thread, tok, key);
}

static void bbt_cache_store(request_rec *r, const bbt_cache_view_t *v,
                            bbt_cseg_set_t set, const unsigned char *key,
                            unsigned char *buf, unsigned int len)
{
    int rv = bbt_cseg_put(r, set, key, apr_time_now() + BBT_CACHE_ENTRY_LIFE,
                          buf, len);

    /* Stamped like the shared one, so as good whether or not it was
     * kept there. */
    bbt_cnear_put(v->thread, key, buf, len);
    bbt_stats_count(rv == 0 ? BBT_STAT_CACHE_STORES
                            : BBT_STAT_CACHE_STORE_FAILURES);
}

/* Whether an entry stamped `stamp` may be believed, when the changes
 * heard allow no stamp below `least` (bbt_cshared_least, read after v's
 * heartbeat), and if not why. */
static bbt_cache_got_t bbt_cache_judge(const bbt_cache_view_t *v,
                                       apr_uint64_t stamp, apr_uint64_t least)
{
    apr_int64_t now = bbt_mono_now();

    if (bbt_cache_usable(stamp, least, v->heartbeat, now)) {
        return BBT_CACHE_HIT;
    }
    /* The same rule, asked about the heartbeat alone. */
    return bbt_cache_usable(0, 0, v->heartbeat, now) ? BBT_CACHE_OLD
                                                     : BBT_CACHE_UNTRUSTED;
}

/* Does a token's believed entry call for its owner's level on the target?
 * A project's or a repository's token has no owner, and no level; a token
 * that cannot be used is refused whatever its owner may do: its owner's
 * level was never asked for.  (Whether it may be used from this address
 * is asked last, outside the lock: the allow-list is parsed.) */
static int bbt_cache_wants_level(const bbt_centry_t *e, const char *key,
                                 apr_int64_t now)
{
    return e->kind == BBT_CENTRY_TOKEN && key &&
           e->scope.kind == BBT_KIND_PERSONAL && !e->revoked &&
           e->user_active && !bbt_centry_expired(e->expires_us, now);
}

/* Where a look reads entries: this thread's copies, or the shared cache,
 * whose bytes then become this thread's copies. */
typedef struct {
    int near;
    bbt_cthread_t *thread;
    unsigned char buf[BBT_CENTRY_BUF];
} bbt_cache_reader_t;

static const unsigned char *
bbt_cache_read(request_rec *r, bbt_cache_reader_t *rd, bbt_cseg_set_t set,
               const unsigned char *key, size_t *len)
{
    if (rd->near) {
        return bbt_cnear_get(rd->thread, key, len);
    }
    *len = bbt_cseg_get(r, set, key, rd->buf, sizeof(rd->buf));
    if (!*len) {
        return NULL;
    }
    bbt_cnear_put(rd->thread, key, rd->buf, *len);
    return rd->buf;
}

/* The owner's level entry under lkey into *level, judged (its owner's
 * mark): BBT_CACHE_HIT, or why not (BBT_CACHE_NONE when there is none). */
static bbt_cache_got_t bbt_cache_level(request_rec *r, bbt_cache_reader_t *rd,
                                       const bbt_cache_view_t *v,
                                       apr_int64_t owner,
                                       const unsigned char *lkey,
                                       bbt_level_t *level)
{
    const unsigned char *b;
    apr_uint64_t stamp;
    size_t len;

    if ((b = bbt_cache_read(r, rd, BBT_CSEG_LEVELS, lkey, &len)) == NULL ||
        bbt_clevel_decode(b, len, &stamp, level) != 0) {
        return BBT_CACHE_NONE;
    }
    return bbt_cache_judge(v, stamp, bbt_cshared_least_owner(owner));
}

/* The owner's level on (key, slug): for a repository, the entry for every
 * repository of the project first (most owners' levels are the project's
 * on each), then the repository's own.  Judged: BBT_CACHE_HIT, or why not
 * (an old entry before none). */
static bbt_cache_got_t bbt_cache_levels(request_rec *r, bbt_cache_reader_t *rd,
                                        const bbt_cache_view_t *v,
                                        apr_int64_t owner, const char *key,
                                        const char *slug, bbt_level_t *level)
{
    unsigned char lkey[BBT_CKEY_LEN];
    bbt_cache_got_t any = BBT_CACHE_NONE, own = BBT_CACHE_NONE;

    if (slug && bbt_ckey_level_any(rd->thread, owner, key, lkey) == 0 &&
        (any = bbt_cache_level(r, rd, v, owner, lkey, level)) ==
            BBT_CACHE_HIT) {
        return any;
    }
    if (bbt_ckey_level(rd->thread, owner, key, slug, lkey) == 0) {
        own = bbt_cache_level(r, rd, v, owner, lkey, level);
    }
    return own != BBT_CACHE_NONE ? own : any;
}

/* The token's entry, judged (*tgot), and the owner's level when the entry
 * calls for it, judged (*lgot). */
static void bbt_cache_look(request_rec *r, bbt_cache_reader_t *rd,
                           const bbt_cache_view_t *v, const unsigned char *tkey,
                           const char *token_id, const char *key,
                           const char *slug, apr_int64_t now, bbt_centry_t *buf,
                           const bbt_centry_t **ep, bbt_level_t *level,
                           bbt_cache_got_t *tgot, bbt_cache_got_t *lgot)
{
    const unsigned char *b;
    const bbt_centry_t *e = NULL;
    size_t len;

    *tgot = *lgot = BBT_CACHE_NONE;
    *ep = buf;
    /* A thread's copy is decoded once, not on every request, and read
     * where it is kept: nothing below puts a copy that could replace it. */
    if (rd->near) {
        e = bbt_cnear_entry(rd->thread, tkey);
    } else if ((b = bbt_cache_read(r, rd, BBT_CSEG_TOKENS, tkey, &len)) !=
                   NULL &&
               bbt_centry_decode(b, len, buf) == 0 &&
               buf->kind == BBT_CENTRY_TOKEN) {
        e = buf;
    }
    if (e) {
        *ep = e;
        *tgot = bbt_cache_judge(v, e->stamp, bbt_cshared_least(token_id));
    }
    /* A refusal is looked for in its own segments only once the tokens'
     * have nothing to believe (a token's entry pushed out, or one older
     * than its deletion): a token answered costs one look. */
    if (!rd->near && *tgot != BBT_CACHE_HIT &&
        (b = bbt_cache_read(r, rd, BBT_CSEG_REFUSALS, tkey, &len)) != NULL &&
        bbt_centry_decode(b, len, buf) == 0 && buf->kind != BBT_CENTRY_TOKEN) {
        e = *ep = buf;
        *tgot = bbt_cache_judge(v, e->stamp, bbt_cshared_least(token_id));
    }
    if (*tgot == BBT_CACHE_HIT && bbt_cache_wants_level(e, key, now)) {
        *lgot = bbt_cache_levels(r, rd, v, e->owner_id, key, slug, level);
    }
}

bbt_cache_got_t bbt_cache_get(request_rec *r, const bbt_cache_view_t *v,
                              const unsigned char *tkey, const char *token_id,
                              const char *key, const char *slug, int shared,
                              apr_int64_t now, bbt_centry_t *buf,
                              const bbt_centry_t **e, bbt_level_t *level,
                              bbt_cache_got_t *level_got)
{
    bbt_cache_reader_t rd;
    bbt_cache_got_t tgot, lgot;

    *level = BBT_LEVEL_NONE;
    *e = buf;
    if (!v->use || !v->thread) {
        *level_got = BBT_CACHE_UNUSED;
        return BBT_CACHE_UNUSED;
    }
    rd.near = !shared;
    rd.thread = v->thread;
    bbt_cache_look(r, &rd, v, tkey, token_id, key, slug, now, buf, e, level,
                   &tgot, &lgot);
    *level_got = tgot;
    if (tgot != BBT_CACHE_HIT || !bbt_cache_wants_level(*e, key, now) ||
        !bbt_where_allowed(r, (*e)->nets)) {
        /* No level needed (or none may be used from here: refused). */
        *level = BBT_LEVEL_NONE;
        return tgot;
    }
    if (lgot != BBT_CACHE_HIT) {
        *level = BBT_LEVEL_NONE;
    }
    *level_got = lgot;
    return tgot;
}

bbt_cache_got_t bbt_cache_again(bbt_cache_view_t *v, const bbt_centry_t *e,
                                const char *token_id)
{
    bbt_cshared_begin(&v->heartbeat, &v->stamp, &v->behind);
    return bbt_cache_judge(v, e->stamp, bbt_cshared_least(token_id));
}

const char *bbt_cache_got_str(bbt_cache_got_t got)
{
    switch (got) {
    case BBT_CACHE_HIT:
        return "answered";
    case BBT_CACHE_NONE:
        return "no entry (never made, or pushed out)";
    case BBT_CACHE_OLD:
        return "its entry is older than the last change";
    case BBT_CACHE_UNTRUSTED:
        return "the listener's heartbeat is not fresh (is it connected?)";
    case BBT_CACHE_UNUSED:
        break;
    }
    return "the cache is off here";
}

void bbt_cache_put_token(request_rec *r, const bbt_cache_view_t *v,
                         const unsigned char *key, const bbt_centry_t *e)
{
    unsigned char buf[BBT_CENTRY_BUF];
    size_t len;

    if (!bbt_cseg_on()) {
        return;
    }
    len = bbt_centry_encode(e, buf, sizeof(buf));
    if (!len) {
        return;
    }
    if (e->kind == BBT_CENTRY_TOKEN) {
        bbt_cache_store(r, v, BBT_CSEG_TOKENS, key, buf, (unsigned int)len);
        return;
    }
    bbt_cache_store(r, v, BBT_CSEG_REFUSALS, key, buf, (unsigned int)len);
    /* A row the tokens' segments may still hold under this key (the token
     * deleted since) is of no use any more: each request would find it
     * first, judge it old, and look again among the refusals. */
    bbt_cseg_remove(r, BBT_CSEG_TOKENS, key);
}

void bbt_cache_put_level(request_rec *r, const bbt_cache_view_t *v,
                         apr_int64_t owner, const char *key, const char *slug,
                         int spans, bbt_level_t level)
{
    unsigned char lkey[BBT_CKEY_LEN], buf[BBT_CLEVEL_LEN];

    if (!bbt_cseg_on() ||
        (slug && spans
             ? bbt_ckey_level_any(v->thread, owner, key, lkey)
             : bbt_ckey_level(v->thread, owner, key, slug, lkey)) != 0) {
        return;
    }
    bbt_clevel_encode(v->stamp, level, buf);
    bbt_cache_store(r, v, BBT_CSEG_LEVELS, lkey, buf, sizeof(buf));
}

void bbt_cache_count_hit(int shared)
{
    bbt_stats_count(BBT_STAT_CACHE_HITS);
    if (!shared) {
        bbt_stats_count(BBT_STAT_CACHE_THREAD_HITS);
    }
}

void bbt_cache_count_miss(bbt_cache_got_t got)
{
    switch (got) {
    case BBT_CACHE_NONE:
        bbt_stats_count(BBT_STAT_CACHE_MISSES);
        break;
    case BBT_CACHE_OLD:
        bbt_stats_count(BBT_STAT_CACHE_STALE);
        break;
    case BBT_CACHE_UNTRUSTED:
        bbt_stats_count(BBT_STAT_CACHE_UNTRUSTED);
        break;
    case BBT_CACHE_HIT:
    case BBT_CACHE_UNUSED:
        break;
    }
}

/* A virtual host that reads another database than the listener's is
 * told of once per child, as soon as both are known: a child may see the
 * host before the listener has first connected, and its database is
 * learnt once. */
static void bbt_cache_warn_other(request_rec *r, bbt_cache_srv_t *st)
{
    const unsigned char *source = bbt_cshared_source();

    if (r->server == bbt_cache.main ||
        apr_atomic_read32(&st->state) != BBT_SRV_KNOWN ||
        apr_atomic_read32(&st->warned) || !source ||
        memcmp(st->fp, source, sizeof(st->fp)) == 0 ||
        apr_atomic_cas32(&st->warned, 1, 0) != 0) {
        return;
    }
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  "BBT306: virtual host %s:%u reads another database "
                  "(its own DBDParams) than the one the token cache's "
                  "listener hears: its tokens are not cached",
                  r->server->server_hostname ? r->server->server_hostname : "",
                  (unsigned)r->server->port);
}

/* What a hot standby answers is never kept: it replays the primary's
 * changes late, so it can read a token as live after the change's
 * notification has raised the floor or the token's mark, and an entry
 * stamped after that would be believed until the next change.  Said once per
 * child, cache or not: without it too, a change takes effect only once
 * the standby has replayed it. */
static int bbt_cache_standby(request_rec *r, PGconn *pg, int standby)
{
    if (!standby) {
        return 0;
    }
    if (apr_atomic_cas32(&bbt_cache_told_standby, 1, 0) == 0) {
        ap_log_rerror(
            APLOG_MARK, APLOG_WARNING, 0, r,
            "BBT811: token lookups read a hot standby (%s port %s): a "
            "revocation, or any other change, takes effect here only once "
            "the standby has replayed it, and what it answers is never "
            "cached; point DBDParams at the primary (add "
            "target_session_attrs=primary, or name the primary's host "
            "alone); once per child",
            PQhost(pg) ? PQhost(pg) : "", PQport(pg) ? PQport(pg) : "");
    }
    return 1;
}

/* Does the server read the listener's database (learnt from its first
 * connection in this child)? */
static int bbt_cache_note_source(request_rec *r, PGconn *pg)
{
    bbt_cache_srv_t *st;
    PQconninfoOption *opts;

    /* Without the cache, not even the server's record is looked up. */
    if (!pg || !bbt_config_cache(r->server) || !(st = bbt_cache_srv(r))) {
        return 0;
    }
    if (st->own_session) {
        if (apr_atomic_cas32(&st->warned, 1, 0) == 0) {
            ap_log_rerror(
                APLOG_MARK, APLOG_WARNING, 0, r,
                "BBT810: virtual host %s:%u sets its database "
                "sessions up itself (DBDInitSQL in its pool), "
                "which may read other rows than the token "
                "cache's: its tokens are not cached",
                r->server->server_hostname ? r->server->server_hostname : "",
                (unsigned)r->server->port);
        }
        return 0;
    }
    if (apr_atomic_cas32(&st->state, BBT_SRV_CHECKING, BBT_SRV_UNKNOWN) !=
        BBT_SRV_UNKNOWN) {
        bbt_cache_warn_other(r, st);
        return bbt_cache_same_source(st);
    }
    opts = PQconninfo(pg);
    if (!opts) {
        apr_atomic_set32(&st->state, BBT_SRV_UNKNOWN);
        return 0;
    }
    bbt_cache_fingerprint(opts, st->fp);
    PQconninfoFree(opts);
    apr_atomic_set32(&st->state, BBT_SRV_KNOWN);
    bbt_cache_warn_other(r, st);
    return bbt_cache_same_source(st);
}

int bbt_cache_note_db(request_rec *r, PGconn *pg, int standby)
{
    int same = bbt_cache_note_source(r, pg);

    return pg && !bbt_cache_standby(r, pg, standby) && same;
}

int bbt_cache_clock_use(request_rec *r)
{
    return bbt_cache_reads(bbt_cache_srv(r), bbt_cshared_clock_source());
}
