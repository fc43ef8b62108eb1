/*
 * A socache in shared memory for every child, as the token cache keeps
 * its own: mod_socache_shmcb's provider, made before the
 * children are forked, with the global mutex shmcb asks for (it is not
 * safe across processes by itself), reopened in each child.
 */
#ifndef BBT_SOCACHE_H
#define BBT_SOCACHE_H

#include "httpd.h"
#include "ap_socache.h"
#include "apr_global_mutex.h"

typedef struct {
    const ap_socache_provider_t *provider;
    ap_socache_instance_t *inst; /* NULL: none (off, or failed) */
    apr_global_mutex_t *mutex;   /* NULL when the provider needs none */
} bbt_socache_t;

/* Register the name the Mutex directive knows the lock by (pre_config). */
void bbt_socache_pre_config(apr_pool_t *pconf, const char *mutex_name);

/* Look up shmcb into sc: 0, or -1 when mod_socache_shmcb is not loaded. */
int bbt_socache_find(bbt_socache_t *sc);

/* Make sc's shared memory (size bytes, a file name in the runtime
 * directory) and its mutex (of the Mutex directive's mutex_name; instance
 * tells several of one name apart, or NULL), gone when pconf is.  NULL, or
 * what failed. */
const char *bbt_socache_make(bbt_socache_t *sc, const char *name,
                             const char *mutex_name, const char *instance,
                             apr_size_t size,
                             const struct ap_socache_hints *hints,
                             apr_pool_t *pconf, apr_pool_t *ptemp,
                             server_rec *s);

/* Reopen the mutex in a child: 0, or -1 (then sc is left unusable). */
int bbt_socache_child_init(bbt_socache_t *sc, apr_pool_t *pchild);

/* Hold the lock around every use: 1 once held, 0 if it cannot be. */
int bbt_socache_lock(bbt_socache_t *sc);
void bbt_socache_unlock(bbt_socache_t *sc);

/* The object under id into buf (its capacity in *len, its length out):
 * APR_SUCCESS, or APR_NOTFOUND and the like.  The lock held. */
apr_status_t bbt_socache_get(bbt_socache_t *sc, server_rec *s,
                             const unsigned char *id, unsigned int idlen,
                             unsigned char *buf, unsigned int *len,
                             apr_pool_t *p);

/* Keep an object under id until expiry.  The lock held. */
apr_status_t bbt_socache_put(bbt_socache_t *sc, server_rec *s,
                             const unsigned char *id, unsigned int idlen,
                             apr_time_t expiry, unsigned char *data,
                             unsigned int len, apr_pool_t *p);

/* Drop the object under id, if there is one.  The lock held. */
void bbt_socache_remove(bbt_socache_t *sc, server_rec *s,
                        const unsigned char *id, unsigned int idlen,
                        apr_pool_t *p);

/* The provider's own account of sc (its size, entries, hits) into r, as
 * mod_status asks (flags: AP_STATUS_SHORT for ?auto).  Takes the lock. */
void bbt_socache_status(bbt_socache_t *sc, request_rec *r, int flags);

#endif
