/*
 * The token cache's shmcb segments (bbt_cache.c keeps its entries there):
 * BBTokenCacheSize cut into three sets, each of up to BBT_CSEG_SHARDS
 * segments with a mutex of its own, an entry in the segment its key's
 * last byte names.  One set holds the tokens' rows, one the refusals (an
 * unknown id, a wrong secret), one the owners' levels, an eighth of the
 * size each (bbt_chint.h): shmcb pushes a full subcache's oldest entries
 * out, so that a flood of made-up tokens pushes out only the refusals of
 * others, and a flood of targets by one token only levels.
 */
#ifndef BBT_CSEG_H
#define BBT_CSEG_H

#include "httpd.h"

/* Each set's segments, at most: a flood of distinct tokens, which the
 * threads' copies cannot hold, queues on a quarter of a set's lock. */
#define BBT_CSEG_SHARDS 4

typedef enum {
    BBT_CSEG_TOKENS = 0, /* the tokens' rows */
    BBT_CSEG_REFUSALS,
    BBT_CSEG_LEVELS /* the owners' levels */
} bbt_cseg_set_t;

/* Register the Mutex directive's name (pre_config): every segment's
 * mutex is one of it. */
void bbt_cseg_pre_config(apr_pool_t *pconf);

/* Look up mod_socache_shmcb: 0, or -1 when it is not loaded. */
int bbt_cseg_find(void);

/* Make every segment of a cache of size bytes, gone when pconf is: NULL,
 * or what failed (then there are none). */
const char *bbt_cseg_make(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                          apr_size_t size);

/* Forget them (pconf's cleanup). */
void bbt_cseg_reset(void);

/* Reopen every mutex in a child: 0, or -1 (then the child has none). */
int bbt_cseg_child_init(apr_pool_t *pchild);

/* Are the segments there (made, and usable in this child)? */
int bbt_cseg_on(void);

/* The bytes under key (BBT_CKEY_LEN of them) in set, into buf (cap
 * bytes), under its segment's lock: their length, or 0. */
unsigned int bbt_cseg_get(request_rec *r, bbt_cseg_set_t set,
                          const unsigned char *key, unsigned char *buf,
                          unsigned int cap);

/* Keep buf[0..len) under key in set until expiry: 0, or -1. */
int bbt_cseg_put(request_rec *r, bbt_cseg_set_t set, const unsigned char *key,
                 apr_time_t expiry, unsigned char *buf, unsigned int len);

/* Drop any entry under key in set. */
void bbt_cseg_remove(request_rec *r, bbt_cseg_set_t set,
                     const unsigned char *key);

/* Every segment's account as shmcb gives it, for mod_status's HTML
 * page. */
void bbt_cseg_status(request_rec *r, int flags);

#endif
