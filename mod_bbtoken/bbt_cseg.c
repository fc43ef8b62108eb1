/*
 * The token cache's shmcb segments (see bbt_cseg.h).
 */
#include "httpd.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include <string.h>

#include "bbt_centry.h"
#include "bbt_chint.h"
#include "bbt_cseg.h"
#include "bbt_socache.h"

/* The Mutex directive's name for them all. */
#define BBT_CSEG_MUTEX "bbtoken-cache"

static struct {
    /* tok[0].inst NULL: no cache (off, failed, or not in this child) */
    bbt_socache_t tok[BBT_CSEG_SHARDS];
    bbt_socache_t ref[BBT_CSEG_SHARDS];
    bbt_socache_t lev[BBT_CSEG_SHARDS];
    unsigned nref; /* the refusals' segments, 1 to BBT_CSEG_SHARDS */
    unsigned nlev; /* the levels', as many */
} bbt_cseg;

void bbt_cseg_pre_config(apr_pool_t *pconf)
{
    bbt_socache_pre_config(pconf, BBT_CSEG_MUTEX);
}

int bbt_cseg_find(void)
{
    return bbt_socache_find(&bbt_cseg.tok[0]);
}

void bbt_cseg_reset(void)
{
    memset(&bbt_cseg, 0, sizeof(bbt_cseg));
}

int bbt_cseg_on(void)
{
    return bbt_cseg.tok[0].inst != NULL;
}

/* Make n segments of seg bytes into sc, named and told apart (mutex
 * instances) by what and their number. */
static const char *bbt_cseg_make_set(bbt_socache_t *sc, unsigned n,
                                     const char *what, apr_size_t seg,
                                     struct ap_socache_hints *hints,
                                     apr_pool_t *pconf, apr_pool_t *ptemp,
                                     server_rec *s)
{
    const char *err = NULL;
    unsigned i;

    for (i = 0; i < n && !err; i++) {
        sc[i].provider = bbt_cseg.tok[0].provider;
        err = bbt_socache_make(
            &sc[i], apr_psprintf(ptemp, "bbtoken-cache-%s%u", what, i),
            BBT_CSEG_MUTEX, apr_psprintf(ptemp, "%s%u", what, i), seg, hints,
            pconf, ptemp, s);
    }
    return err;
}

const char *bbt_cseg_make(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                          apr_size_t size)
{
    struct ap_socache_hints hints;
    bbt_chint_split_t split;
    const char *err;

    bbt_chint_split(size, BBT_CSEG_SHARDS, &split);
    /* An average entry's size, unless a segment this small would then be
     * cut into subcaches too small for the largest token entry, which
     * would never be kept (bbt_chint.h). */
    hints.avg_id_len = BBT_CKEY_LEN;
    hints.avg_obj_size =
        bbt_chint_obj_size(split.token_seg, BBT_CKEY_LEN, BBT_CENTRY_BUF);
    hints.expiry_interval = apr_time_from_sec(60);
    if (!hints.avg_obj_size) {
        return apr_psprintf(ptemp,
                            "cannot keep an entry of %d bytes in a segment "
                            "of %" APR_SIZE_T_FMT " bytes",
                            (int)BBT_CENTRY_BUF, (apr_size_t)split.token_seg);
    }
    err = bbt_cseg_make_set(bbt_cseg.tok, BBT_CSEG_SHARDS, "", split.token_seg,
                            &hints, pconf, ptemp, s);
    /* Refusals are all of one size: as many as the segment's index and
     * data area hold together. */
    hints.avg_obj_size = bbt_chint_fixed_obj_size(
        split.refusal_seg, BBT_CKEY_LEN, BBT_CENTRY_REFUSAL_LEN);
    if (!err && !hints.avg_obj_size) {
        err = "cannot keep a refusal in its segments";
    }
    if (!err) {
        bbt_cseg.nref = split.refusal_segs;
        err = bbt_cseg_make_set(bbt_cseg.ref, bbt_cseg.nref, "refusals-",
                                split.refusal_seg, &hints, pconf, ptemp, s);
    }
    /* So are the levels. */
    hints.avg_obj_size =
        bbt_chint_fixed_obj_size(split.level_seg, BBT_CKEY_LEN, BBT_CLEVEL_LEN);
    if (!err && !hints.avg_obj_size) {
        err = "cannot keep an owner's level in its segments";
    }
    if (!err) {
        bbt_cseg.nlev = split.level_segs;
        err = bbt_cseg_make_set(bbt_cseg.lev, bbt_cseg.nlev, "levels-",
                                split.level_seg, &hints, pconf, ptemp, s);
    }
    if (err) {
        bbt_cseg.tok[0].inst = NULL;
    }
    return err;
}

int bbt_cseg_child_init(apr_pool_t *pchild)
{
    unsigned i;

    for (i = 0; i < BBT_CSEG_SHARDS; i++) {
        if (bbt_socache_child_init(&bbt_cseg.tok[i], pchild) != 0 ||
            (i < bbt_cseg.nref &&
             bbt_socache_child_init(&bbt_cseg.ref[i], pchild) != 0) ||
            (i < bbt_cseg.nlev &&
             bbt_socache_child_init(&bbt_cseg.lev[i], pchild) != 0)) {
            bbt_cseg.tok[0].inst = NULL;
            return -1;
        }
    }
    return 0;
}

/* The segment of set an entry lives in.  shmcb picks its subcache by a
 * key's first byte: the segment is picked by the last, or each segment
 * would use a part of its subcaches. */
static bbt_socache_t *bbt_cseg_of(bbt_cseg_set_t set, const unsigned char *key)
{
    if (set == BBT_CSEG_REFUSALS) {
        return &bbt_cseg.ref[key[BBT_CKEY_LEN - 1] % bbt_cseg.nref];
    }
    if (set == BBT_CSEG_LEVELS) {
        return &bbt_cseg.lev[key[BBT_CKEY_LEN - 1] % bbt_cseg.nlev];
    }
    return &bbt_cseg.tok[key[BBT_CKEY_LEN - 1] % BBT_CSEG_SHARDS];
}

unsigned int bbt_cseg_get(request_rec *r, bbt_cseg_set_t set,
                          const unsigned char *key, unsigned char *buf,
                          unsigned int cap)
{
    bbt_socache_t *sc = bbt_cseg_of(set, key);
    unsigned int len = cap;
    apr_status_t rv;

    if (!bbt_socache_lock(sc)) {
        return 0;
    }
    rv = bbt_socache_get(sc, r->server, key, BBT_CKEY_LEN, buf, &len, r->pool);
    bbt_socache_unlock(sc);
    return rv == APR_SUCCESS ? len : 0;
}

int bbt_cseg_put(request_rec *r, bbt_cseg_set_t set, const unsigned char *key,
                 apr_time_t expiry, unsigned char *buf, unsigned int len)
{
    bbt_socache_t *sc = bbt_cseg_of(set, key);
    apr_status_t rv;

    if (!bbt_socache_lock(sc)) {
        return -1;
    }
    rv = bbt_socache_put(sc, r->server, key, BBT_CKEY_LEN, expiry, buf, len,
                         r->pool);
    bbt_socache_unlock(sc);
    return rv == APR_SUCCESS ? 0 : -1;
}

void bbt_cseg_remove(request_rec *r, bbt_cseg_set_t set,
                     const unsigned char *key)
{
    bbt_socache_t *sc = bbt_cseg_of(set, key);

    if (bbt_socache_lock(sc)) {
        bbt_socache_remove(sc, r->server, key, BBT_CKEY_LEN, r->pool);
        bbt_socache_unlock(sc);
    }
}

void bbt_cseg_status(request_rec *r, int flags)
{
    unsigned i;

    for (i = 0; i < BBT_CSEG_SHARDS; i++) {
        ap_rprintf(r, "<p>token cache (segment %u of %d): ", i + 1,
                   BBT_CSEG_SHARDS);
        bbt_socache_status(&bbt_cseg.tok[i], r, flags);
        ap_rputs("</p>\n", r);
    }
    for (i = 0; i < bbt_cseg.nref; i++) {
        ap_rprintf(r, "<p>token cache's refusals (segment %u of %u): ", i + 1,
                   bbt_cseg.nref);
        bbt_socache_status(&bbt_cseg.ref[i], r, flags);
        ap_rputs("</p>\n", r);
    }
    for (i = 0; i < bbt_cseg.nlev; i++) {
        ap_rprintf(r, "<p>token cache's owners' levels (segment %u of %u): ",
                   i + 1, bbt_cseg.nlev);
        bbt_socache_status(&bbt_cseg.lev[i], r, flags);
        ap_rputs("</p>\n", r);
    }
}
