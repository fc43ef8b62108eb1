/*
 * The cache's state in shared memory (bbt_cache.h), one segment that every
 * child inherits: the counter that stamps entries, the floor and the marks
 * of tokens and of owners (bbt_cmark.h) that changes raise, the listener's
 * heartbeat, the database it hears and how far this host's clock is behind
 * that database's.  The listener writes it (bbt_listen.c, through
 * bbt_cache.h), the REST API raises marks after its own changes, and
 * requests read it, all with atomic operations: no lock.
 */
#ifndef BBT_CSHARED_H
#define BBT_CSHARED_H

#include "apr_pools.h"

/* Made in post_config, before the children are forked: NULL, or what
 * failed.  Forgotten when pconf is cleared. */
const char *bbt_cshared_make(apr_pool_t *pconf, apr_pool_t *pprocess);

/* What a request reads when it begins, in this order: the heartbeat
 * (monotonic microseconds; 0: none), the stamp for what it keeps, and how
 * far this host's clock is behind the database of the clock's source
 * (bbt_cshared_clock_source; 0: not, or not known). */
void bbt_cshared_begin(apr_int64_t *heartbeat, apr_uint64_t *stamp,
                       apr_int64_t *behind);

/* The least stamp an entry may carry to be believed now: for the entry
 * of a token with this id (NUL-terminated), the floor or its token's mark,
 * the higher (with NULL or an id that is none, nothing is believed); for
 * an owner's level entry, the floor or the owner's mark. */
apr_uint64_t bbt_cshared_least(const char *token_id);
apr_uint64_t bbt_cshared_least_owner(apr_int64_t owner);

/* The digest of the listener's database (bbt_cache_set_source), or NULL
 * while none is known. */
const unsigned char *bbt_cshared_source(void);

/* The database whose clock the reading of behind is of: the listener's,
 * or until this generation's listener has heard one, the last
 * generation's (a restart keeps the last reading); NULL if none. */
const unsigned char *bbt_cshared_clock_source(void);

#endif
