/*
 * Verifying a token (see bbt_verify.h).
 *
 * From the cache: the token's entry is found by a key made from the whole
 * token, secret included, so an entry for a row proves the secret as the
 * database's hash would.  Refusals (an unknown id, a wrong secret) are
 * entries too, so a flood of made-up tokens costs one query per distinct
 * token; they are kept apart from the tokens' rows (bbt_cseg.h), so that
 * such a flood cannot push those out.  The owner's level on the target is
 * an entry of its own, shared by the owner's tokens, in segments of its
 * own too: any valid token can name as many targets as it likes.  Both
 * must be believable (bbt_cache_usable), or the database decides: the
 * lookup where the token's entry is not, the owner's level alone where
 * only the level is not (bbt_vlevel.h).
 *
 * From the database: the token's row of the lookup, which holds its
 * owner's name, state and level map too, so one statement answers, and a
 * refusal does the same work whoever owns the id.  The owner's level on
 * the target is read from the map only once the secret has proven right
 * (and the token is usable); an owner with too many grants for a map has
 * it asked by a second statement.
 * The cache's counter is read before the queries and stamps what is
 * kept, so a change committed while they ran leaves an entry that is
 * already out of date, never a stale one that looks current.
 *
 * With the cache off, the thread remembers which tokens it let in, against
 * which salt and hash (bbt_vmemo.h): the database answers every request,
 * and only the checksum and the HMAC of a token the thread has just let
 * in against that very row are not computed again, nor is that row parsed
 * again if its text is the same (bbt_rowmemo.h).
 *
 * Either way, the writes a verdict calls for (last use, an expired token's
 * refusal, a new address group) are bbt_vwrite.h's.
 */
#include "httpd.h"
#include "http_core.h"
#include "http_log.h"
#include "apr_strings.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "bbt_cache.h"
#include "bbt_clock.h"
#include "bbt_config.h"
#include "bbt_db.h"
#include "bbt_rowmemo.h"
#include "bbt_stats.h"
#include "bbt_verify.h"
#include "bbt_vlevel.h"
#include "bbt_vmemo.h"
#include "bbt_vwrite.h"
#include "bbt_where.h"

APLOG_USE_MODULE(bbtoken);

/* This start's maker of the threads' memory keys, where a server has the
 * cache off; NULL: every token is checksummed and hashed. */
static bbt_vmemo_t *bbt_verify_memo;

static apr_status_t bbt_verify_memo_free(void *data)
{
    (void)data;
    bbt_vmemo_free(bbt_verify_memo);
    bbt_verify_memo = NULL;
    return APR_SUCCESS;
}

void bbt_verify_post_config(apr_pool_t *pconf, server_rec *s)
{
    unsigned char secret[BBT_VMEMO_SECRET_LEN];
    server_rec *sv;
    int off = 0;

    bbt_verify_memo = NULL;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return;
    }
    for (sv = s; sv; sv = sv->next) {
        off |= !bbt_config_cache(sv);
    }
    if (!off) {
        return;
    }
    if (RAND_bytes(secret, sizeof(secret)) == 1) {
        bbt_verify_memo = bbt_vmemo_new(secret, sizeof(secret));
    }
    OPENSSL_cleanse(secret, sizeof(secret));
    if (!bbt_verify_memo) {
        /* Slower, not less safe: each token is hashed in full. */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "BBT314: without the cache, each token request hashes "
                     "its token in full: no key for the threads' memory "
                     "(the random generator, SipHash failing its known "
                     "answer, no memory or no thread-local key)");
        return;
    }
    apr_pool_cleanup_register(pconf, NULL, bbt_verify_memo_free,
                              apr_pool_cleanup_null);
}

/* What the thread's memory (bbt_vmemo.h) spared one token request. */
typedef struct {
    const unsigned char *key; /* the token's key there; NULL: no memory */
    int known;  /* its checksum was not checked: these bytes passed before */
    int proved; /* its HMAC was not made: proved before against this row */
    int reused; /* its row was not parsed: the text parsed before */
} bbt_vuse_t;

/* Whether tok's secret is row's: proved by this thread before against
 * this very salt and hash, or hashed now (1 or 0; -1: the HMAC failed). */
static int bbt_verify_secret(bbt_vuse_t *mu, const bbt_db_token_t *row,
                             const bbt_token_t *tok)
{
    if (mu->key &&
        bbt_vmemo_proved(bbt_verify_memo, mu->key, row->salt, row->hash)) {
        mu->proved = 1;
        return 1;
    }
    return bbt_token_verify_raw(row->salt, row->hash, tok);
}

/* Once the verdict is in: a token let in is noted for the thread's next
 * request.  A refused one is forgotten, and what the memories spared it
 * (the checksum, the HMAC, the row's parse) is done all the same, so that a
 * right secret is refused no sooner than a wrong one (revoked, expired, its
 * owner disabled, from outside its allow-list): a refusal's timing tells
 * nothing of the secret. */
static void bbt_verify_settle(const bbt_vuse_t *mu, const bbt_db_token_t *row,
                              const bbt_token_t *tok, bbt_verdict_t verdict)
{
    if (!mu->key || !tok) {
        return;
    }
    if (verdict == BBT_VERDICT_OK) {
        if (!mu->proved) {
            bbt_vmemo_note(bbt_verify_memo, mu->key, row->salt, row->hash);
        }
        return;
    }
    if (mu->known) {
        (void)bbt_token_checksum_ok(tok);
        bbt_vmemo_forget(bbt_verify_memo, mu->key);
    }
    if (mu->proved) {
        (void)bbt_token_verify_raw(row->salt, row->hash, tok);
    }
    if (mu->reused) {
        bbt_rowmemo_redo();
    }
}

/* A token that could not be checked because OpenSSL failed (what: its
 * checksum, or its HMAC against its row), named by its id (id NULL: one
 * whose checksum is not known to be right, whose id may be anything):
 * 503 with Retry-After, as where the database cannot answer.  Not 401,
 * which would make git erase a right token, count a guess against its
 * address and, for the HMAC, keep a refusal in the cache: the failure
 * says nothing of the token, and passes (memory runs short). */
static int bbt_verify_unchecked(request_rec *r, const char *id,
                                const char *what)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  "BBT058: %s could not be checked: %s failed: %s",
                  id ? apr_pstrcat(r->pool, "token ", id, NULL) : "a token",
                  what, bbt_token_crypto_why());
    return HTTP_SERVICE_UNAVAILABLE;
}

/* A salt and hash that no token matches, so an unknown id costs the same
 * hashing work as a known one. */
static const unsigned char bbt_dummy_salt[BBT_SALT_LEN];
static const unsigned char bbt_dummy_hash[BBT_HASH_LEN];

/* The verdict of a believed entry e for this request into *out, and the
 * throttled writes it calls for: *touch, *expired, *newg (with *g). */
static void bbt_verify_entry(request_rec *r, const bbt_centry_t *e,
                             int presented, const char *basic_user,
                             apr_int64_t now, int interval, bbt_verified_t *out,
                             int *touch, int *expired, int *newg,
                             bbt_agroup_t *g)
{
    bbt_tokrow_t row;

    memset(&row, 0, sizeof(row));
    out->verdict = bbt_centry_verdict(e, now, basic_user, &row);
    if (bbt_verdict_fenceable(out->verdict) && !bbt_where_allowed(r, e->nets)) {
        out->verdict = BBT_VERDICT_ADDRESS;
    }
    /* Only a request that presented the token counts, as from the
     * database. */
    *touch = *expired = *newg = 0;
    if (presented && out->verdict == BBT_VERDICT_OK) {
        *touch =
            bbt_centry_owed(e->last_use_us, e->use_tried_us, interval, now);
        /* Once a group's record could not be written, no new group of the
         * token is tried until the retry is due, not by every request
         * (each would look for a connection the pool may not have, or
         * wait on a lock): held for that group alone, a token used from
         * two new groups in turn would try, and fail, on every request. */
        *newg = bbt_centry_owed(e->group_failed_us, e->group_tried_us, interval,
                                now) &&
                bbt_where_new_group(r, e->groups, e->ngroups, g);
    } else if (presented && out->verdict == BBT_VERDICT_EXPIRED) {
        *expired =
            bbt_centry_owed(e->refused_us, e->refused_tried_us, interval, now);
    }
}

/* The answer from this thread's copies or, when shared, from the shared
 * cache (OK and *out; the owner's levels it has not, on the target or a
 * second target, from the database), or DECLINED and why not (*got; also
 * when the entry is no longer believed once they have come: the lookup's
 * to count), or HTTP_SERVICE_UNAVAILABLE (they could not be read). */
static int bbt_verify_cached(request_rec *r, bbt_req_t *rq, bbt_cache_view_t *v,
                             int presented, const char *basic_user,
                             const char *key, const char *slug, int shared,
                             bbt_verified_t *out, bbt_cache_got_t *got)
{
    int interval = bbt_config_last_use_interval(r->server);
    apr_int64_t now = bbt_clock_now(v);
    bbt_cache_got_t lgot, why = BBT_CACHE_HIT;
    bbt_centry_t e;
    const bbt_centry_t *ep;
    const bbt_target_t *dest;
    bbt_agroup_t g;
    int touch, expired, newg, rv = OK, dest_read = 0;

    for (;;) {
        *got = bbt_cache_get(r, v, rq->cache_key, rq->token_id, key, slug,
                             shared, now, &e, &ep, &out->owner, &lgot);
        if (*got != BBT_CACHE_HIT) {
            return DECLINED;
        }
        /* An internal request's token was proven: a refusal is not its. */
        if (ep->kind != BBT_CENTRY_TOKEN && !presented) {
            *got = BBT_CACHE_NONE;
            return DECLINED;
        }
        /* The shared cache may hold the level this thread has no copy
         * of. */
        if (lgot != BBT_CACHE_HIT && !shared) {
            *got = lgot;
            return DECLINED;
        }
        bbt_verify_entry(r, ep, presented, basic_user, now, interval, out,
                         &touch, &expired, &newg, &g);
        /* The levels, for a token let in, and only then (as from the
         * database): on the target where the cache has not it (ep is e
         * then: the shared cache's entry), and on a second target, never
         * kept, once: a pass on the shared entry for the writes keeps it. */
        dest = out->verdict == BBT_VERDICT_OK && !dest_read &&
                       ep->scope.kind == BBT_KIND_PERSONAL
                   ? bbt_vlevel_dest(r, rq, ep->user_name)
                   : NULL;
        if (out->verdict == BBT_VERDICT_OK && (lgot != BBT_CACHE_HIT || dest)) {
            rv = bbt_vlevel_read(r, v, rq->token_id, ep->owner_id,
                                 lgot != BBT_CACHE_HIT ? key : NULL, slug, lgot,
                                 dest, &out->owner, &out->dest_owner);
            if (lgot != BBT_CACHE_HIT) {
                why = lgot;
            }
            dest_read |= dest != NULL;
            if (rv != OK) {
                break;
            }
            /* The entry was believed before that read, which may have
             * waited (for a pooled connection, behind a lock): a change to
             * the token heard meanwhile (revoked, its permissions or
             * allow-list changed, or one that forgets every entry: its
             * owner's state), or the listener lost, leaves the answer to
             * the lookup, as for an entry found out of date; the expiry is
             * judged by the clock now.  A level kept stays good: it is
             * stamped with the stamp read before the wait. */
            if ((*got = bbt_cache_again(v, ep, rq->token_id)) !=
                BBT_CACHE_HIT) {
                return DECLINED;
            }
            now = bbt_clock_now(v);
            bbt_verify_entry(r, ep, presented, basic_user, now, interval, out,
                             &touch, &expired, &newg, &g);
        }
        /* This thread's copy may be behind on the writes: the shared
         * entry says whether one is still due. */
        if (shared || !(touch || expired || newg)) {
            break;
        }
        shared = 1;
    }
    /* Counted once the cache's answer is known: a hit, or a miss for why
     * the level was read (also where it could not be) and, answered, a
     * level lookup. */
    if (why == BBT_CACHE_HIT) {
        bbt_cache_count_hit(shared);
    } else {
        bbt_cache_count_miss(why);
    }
    if (rv != OK) {
        return rv;
    }
    if (why != BBT_CACHE_HIT) {
        bbt_stats_count(BBT_STAT_CACHE_LEVEL_LOOKUPS);
    }
    out->cached = 1;
    if (ep->kind == BBT_CENTRY_TOKEN) {
        /* Copied, as the thread's next look may change ep's bytes; both
         * names in one allocation. */
        size_t ulen = strlen(ep->user_name) + 1;
        size_t tlen = strlen(ep->token_name) + 1;
        char *names = apr_palloc(r->pool, ulen + tlen);

        memcpy(names, ep->user_name, ulen);
        memcpy(names + ulen, ep->token_name, tlen);
        out->user_name = names;
        out->owner_id = ep->owner_id;
        out->token_name = names + ulen;
        out->tok_project = ep->tok_project;
        out->tok_repo = ep->tok_repo;
        out->scope = ep->scope;
    }
    if (touch || expired || newg) {
        bbt_vwrite_cached(r, rq, v, ep, &e, touch, expired, newg ? &g : NULL,
                          interval, now);
    }
    *got = BBT_CACHE_HIT;
    return OK;
}

/* Keep what the database said, stamped with the counter read before
 * it was asked. */
static void bbt_verify_keep(request_rec *r, bbt_req_t *rq,
                            const bbt_cache_view_t *v, bbt_db_status_t st,
                            int secret_ok, const bbt_db_token_t *row,
                            const bbt_vtried_t *tried, const char *key,
                            const char *slug, const bbt_vlevel_t *owner)
{
    bbt_centry_t e;

    memset(&e, 0, sizeof(e));
    e.stamp = v->stamp;
    if (st == BBT_DB_NOT_FOUND) {
        e.kind = BBT_CENTRY_UNKNOWN;
    } else if (!secret_ok) {
        e.kind = BBT_CENTRY_WRONG_SECRET;
    } else {
        e.kind = BBT_CENTRY_TOKEN;
        e.owner_id = row->user_id;
        e.expires_us = row->expires_us;
        e.last_use_us = row->last_use_us;
        e.refused_us = row->refused_us;
        e.use_tried_us = tried->use_tried_us;
        e.refused_tried_us = tried->refused_tried_us;
        e.group_failed_us = tried->group_failed_us;
        e.group_tried_us = tried->group_tried_us;
        e.revoked = row->revoked;
        e.user_active = row->user_active;
        e.tok_project = row->tok_project;
        e.tok_repo = row->tok_repo;
        apr_cpystrn(e.user_name, row->user_name ? row->user_name : "",
                    sizeof(e.user_name));
        apr_cpystrn(e.token_name, row->token_name ? row->token_name : "",
                    sizeof(e.token_name));
        e.scope = row->scope;
        apr_cpystrn(e.nets, row->nets ? row->nets : "", sizeof(e.nets));
        e.ngroups = row->ngroups;
        memcpy(e.groups, row->groups, sizeof(e.groups));
        /* Only a level that was asked for: an unusable token's owner's
         * level was not, and a project's or a repository's token has no
         * owner to level. */
        if (key && owner && row->scope.kind == BBT_KIND_PERSONAL) {
            bbt_cache_put_level(r, v, row->user_id, key, slug, owner->spans,
                                owner->level);
        }
    }
    bbt_cache_put_token(r, v, rq->cache_key, &e);
}

static int bbt_verify_db(request_rec *r, bbt_req_t *rq, bbt_cache_view_t *v,
                         const bbt_token_t *tok, bbt_vuse_t *mu,
                         const char *basic_user, const char *key,
                         const char *slug, bbt_verified_t *out)
{
    int interval = bbt_config_last_use_interval(r->server), secret_ok = 0;
    int level_asked = 0, rv = OK;
    bbt_vlevel_t level = {BBT_LEVEL_NONE, 0, 0};
    apr_int64_t now = 0;
    bbt_vtried_t tried = {0, 0, 0, 0};
    bbt_db_token_t row;
    bbt_db_status_t st;
    bbt_db_conn_t *c;
    bbt_tokrow_t tr;

    memset(&row, 0, sizeof(row));
    c = bbt_db_open(r);
    if (!c) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    /* A child's first request for a virtual host learns from its
     * connection whether the host reads the listener's database: judged
     * by that database's clock (bbt_clock.h) from this request on, or a
     * host behind would serve this one an expired token.  Not asked
     * without the cache, which has no listener. */
    if (!v->use && bbt_config_cache(r->server)) {
        v->use = bbt_cache_note_db(r, bbt_db_native(c), bbt_db_conn_standby(c));
        v->clock_use = bbt_cache_clock_use(r);
    }
    /* A row parsed before is reused only for a token this thread let in:
     * a forger's lookups all parse, whatever changed in the row. */
    mu->reused = mu->known;
    st = bbt_db_lookup(c, rq->token_id, &mu->reused, &row);
    if (st == BBT_DB_UNAVAILABLE) {
        rv = HTTP_SERVICE_UNAVAILABLE;
        goto done;
    }
    if (st == BBT_DB_NOT_FOUND) {
        if (tok) {
            bbt_token_verify_raw(bbt_dummy_salt, bbt_dummy_hash, tok);
        }
        out->verdict = bbt_verdict(NULL, 0, basic_user);
    } else {
        secret_ok = tok ? bbt_verify_secret(mu, &row, tok) : 1;
        if (secret_ok < 0) {
            /* Nothing judged, written or kept: the next request hashes
             * again. */
            rv = bbt_verify_unchecked(r, rq->token_id, "its HMAC");
            goto done;
        }
        if (secret_ok && row.scope.kind != BBT_KIND_PERSONAL &&
            row.scope.key[0] == '~' &&
            bbt_db_personal_active(c, row.scope.key, rq->token_id,
                                   &row.user_active,
                                   &row.revoked) != BBT_DB_OK) {
            rv = HTTP_SERVICE_UNAVAILABLE;
            goto done;
        }
        /* Judged when the answers are in, not when the request began: it
         * may have waited for a connection (BBTokenDBWait), or behind a
         * lock, past the token's expiry. */
        now = bbt_clock_now(v);
        bbt_db_judge(&row, interval, now);
        tr.kind = row.scope.kind;
        tr.user_name = row.user_name;
        tr.key = row.scope.key;
        tr.user_active = row.user_active;
        tr.revoked = row.revoked;
        tr.expired = row.expired;
        tr.tok_project = row.tok_project;
        tr.tok_repo = row.tok_repo;
        out->verdict = bbt_verdict(&tr, secret_ok, basic_user);
        if (bbt_verdict_fenceable(out->verdict) &&
            !bbt_where_allowed(r, row.nets)) {
            out->verdict = BBT_VERDICT_ADDRESS;
        }
        out->user_name = row.user_name;
        out->owner_id = row.user_id;
        out->token_name = row.token_name;
        out->tok_project = row.tok_project;
        out->tok_repo = row.tok_repo;
        out->scope = row.scope;
        /* The owner's levels, for a token C has verified, and only then:
         * on the target from the map read with the row (an owner without
         * a map, too many grants, has it asked), on a second target asked
         * (bbt_vlevel_dest_level); on this connection, with no other wait
         * for one between the row and them. */
        if (out->verdict == BBT_VERDICT_OK &&
            row.scope.kind == BBT_KIND_PERSONAL) {
            const bbt_target_t *dest = bbt_vlevel_dest(r, rq, row.user_name);

            if ((key && bbt_vlevel_owner(c, row.levels, row.user_id, key, slug,
                                         &level) != BBT_DB_OK) ||
                (dest &&
                 bbt_vlevel_dest_level(c, row.user_id, dest,
                                       &out->dest_owner) != BBT_DB_OK)) {
                rv = HTTP_SERVICE_UNAVAILABLE;
                goto done;
            }
            out->owner = level.level;
            if (level.asked || dest) {
                /* Those answers may have waited too (behind a lock on the
                 * grants): judged again by when they came. */
                now = bbt_clock_now(v);
                bbt_db_judge(&row, interval, now);
                tr.expired = row.expired;
                out->verdict = bbt_verdict(&tr, secret_ok, basic_user);
            }
            level_asked = key != NULL;
        }
    }

    bbt_verify_settle(mu, &row, tok, out->verdict);

    bbt_vwrite_db(r, c, rq->token_id, tok != NULL, out->verdict, &row, interval,
                  now, &tried);

done:
    /* Whether what the database said may be kept: asked again of the
     * connection once it has answered (a statement tried again after a
     * reconnection may have been answered by another of DBDParams' hosts,
     * a hot standby). */
    if (rv == OK) {
        v->use = bbt_cache_note_db(r, bbt_db_native(c), bbt_db_conn_standby(c));
    }
    bbt_db_close(c);
    OPENSSL_cleanse(row.salt, sizeof(row.salt));
    OPENSSL_cleanse(row.hash, sizeof(row.hash));
    if (rv != OK) {
        return rv;
    }
    /* A broken row is never kept: it is answered 500 every time. */
    if (v->use && rq->cache_keyed && out->verdict != BBT_VERDICT_BROKEN) {
        bbt_verify_keep(r, rq, v, st, secret_ok, &row, &tried, key, slug,
                        level_asked ? &level : NULL);
    }
    return OK;
}

int bbt_verify_token(request_rec *r, bbt_req_t *rq, const bbt_token_t *tok,
                     const char *basic_user, bbt_verified_t *out)
{
    const bbt_target_t *t = &rq->access.target;
    /* SITE_READ has no target: no owner's level is asked for, read from
     * the cache or kept there (the token's entry says whether its owner
     * is live), as for a request no route covers. */
    int level = rq->routed && !bbt_perm_site(t->need);
    const char *key = level ? t->key : NULL;
    const char *slug = level && t->slug[0] ? t->slug : NULL;
    bbt_cache_got_t got = BBT_CACHE_UNUSED;
    unsigned char mkey[BBT_VMEMO_KEY_LEN];
    bbt_vuse_t mu = {NULL, 0, 0, 0};
    bbt_cache_view_t v;

    memset(out, 0, sizeof(*out));
    bbt_cache_begin(r, &v);
    /* With BBTokenCache off no entry is read or kept: no key to make. */
    if (tok && bbt_config_cache(r->server)) {
        rq->cache_keyed = bbt_cache_token_key(&v, tok, rq->cache_key) == 0;
    } else if (tok && bbt_vmemo_key(bbt_verify_memo, tok, mkey) == 0) {
        mu.key = mkey;
        mu.known = bbt_vmemo_known(bbt_verify_memo, mkey);
    }
    /* The checksum is not checked for a token the cache knows: an entry
     * is only ever made for one that passed it, and only these very bytes
     * find it.  Otherwise it is checked before the shared cache's lock,
     * any count or any query: a mistyped token costs no lookup.  Nor for
     * one this thread let in before without the cache: it passed then.
     * A level this copy's answer could not read (a second target's) is
     * that answer too: the shared pass would wait for it, say why it
     * failed and count the request, again. */
    if (v.use && rq->cache_keyed) {
        int rv = bbt_verify_cached(r, rq, &v, tok != NULL, basic_user, key,
                                   slug, 0, out, &got);

        if (rv != DECLINED) {
            return rv;
        }
    }
    if (tok && !mu.known) {
        int sum = bbt_token_checksum_ok(tok);

        if (sum < 0) {
            return bbt_verify_unchecked(r, NULL, "its checksum's SHA-256");
        }
        if (!sum) {
            return HTTP_UNAUTHORIZED;
        }
    }
    got = BBT_CACHE_UNUSED;
    if (v.use && rq->cache_keyed) {
        int rv = bbt_verify_cached(r, rq, &v, tok != NULL, basic_user, key,
                                   slug, 1, out, &got);

        if (rv != DECLINED) {
            return rv;
        }
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "BBT312: token %s not answered from the cache: %s",
                      rq->token_id, bbt_cache_got_str(got));
    }
    bbt_cache_count_miss(got);
    return bbt_verify_db(r, rq, &v, tok, &mu, basic_user, key, slug, out);
}
