/*
 * A shared socache with its mutex (see bbt_socache.h): one way of making
 * and locking them for the token cache, the way mod_ssl
 * keeps its session cache.
 */
#include "httpd.h"
#include "http_config.h"
#include "ap_provider.h"
#include "util_mutex.h"
#include "apr_strings.h"

#include "bbt_socache.h"

void bbt_socache_pre_config(apr_pool_t *pconf, const char *mutex_name)
{
    ap_mutex_register(pconf, mutex_name, NULL, APR_LOCK_DEFAULT, 0);
}

int bbt_socache_find(bbt_socache_t *sc)
{
    sc->provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, "shmcb",
                                      AP_SOCACHE_PROVIDER_VERSION);
    return sc->provider ? 0 : -1;
}

typedef struct {
    bbt_socache_t *sc;
    server_rec *s;
} bbt_socache_owner_t;

static apr_status_t bbt_socache_cleanup(void *data)
{
    bbt_socache_owner_t *o = data;

    if (o->sc->inst) {
        o->sc->provider->destroy(o->sc->inst, o->s);
        o->sc->inst = NULL;
    }
    o->sc->mutex = NULL;
    return APR_SUCCESS;
}

const char *bbt_socache_make(bbt_socache_t *sc, const char *name,
                             const char *mutex_name, const char *instance,
                             apr_size_t size,
                             const struct ap_socache_hints *hints,
                             apr_pool_t *pconf, apr_pool_t *ptemp,
                             server_rec *s)
{
    bbt_socache_owner_t *o;
    const char *arg, *err;

    arg = apr_psprintf(ptemp, "%s(%" APR_SIZE_T_FMT ")",
                       ap_runtime_dir_relative(ptemp, name), size);
    err = sc->provider->create(&sc->inst, arg, ptemp, pconf);
    if (err) {
        sc->inst = NULL;
        return err;
    }
    if ((sc->provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE) &&
        ap_global_mutex_create(&sc->mutex, NULL, mutex_name, instance, s, pconf,
                               0) != APR_SUCCESS) {
        sc->inst = NULL;
        return "cannot create its mutex";
    }
    if (sc->provider->init(sc->inst, name, hints, s, pconf) != APR_SUCCESS) {
        sc->inst = NULL;
        return "cannot make its shared memory";
    }
    o = apr_palloc(pconf, sizeof(*o));
    o->sc = sc;
    o->s = s;
    apr_pool_cleanup_register(pconf, o, bbt_socache_cleanup,
                              apr_pool_cleanup_null);
    return NULL;
}

int bbt_socache_child_init(bbt_socache_t *sc, apr_pool_t *pchild)
{
    if (!sc->inst || !sc->mutex) {
        return 0;
    }
    if (apr_global_mutex_child_init(&sc->mutex,
                                    apr_global_mutex_lockfile(sc->mutex),
                                    pchild) != APR_SUCCESS) {
        sc->inst = NULL;
        return -1;
    }
    return 0;
}

int bbt_socache_lock(bbt_socache_t *sc)
{
    return !sc->mutex || apr_global_mutex_lock(sc->mutex) == APR_SUCCESS;
}

void bbt_socache_unlock(bbt_socache_t *sc)
{
    if (sc->mutex) {
        apr_global_mutex_unlock(sc->mutex);
    }
}

apr_status_t bbt_socache_get(bbt_socache_t *sc, server_rec *s,
                             const unsigned char *id, unsigned int idlen,
                             unsigned char *buf, unsigned int *len,
                             apr_pool_t *p)
{
    return sc->provider->retrieve(sc->inst, s, id, idlen, buf, len, p);
}

apr_status_t bbt_socache_put(bbt_socache_t *sc, server_rec *s,
                             const unsigned char *id, unsigned int idlen,
                             apr_time_t expiry, unsigned char *data,
                             unsigned int len, apr_pool_t *p)
{
    return sc->provider->store(sc->inst, s, id, idlen, expiry, data, len, p);
}

void bbt_socache_remove(bbt_socache_t *sc, server_rec *s,
                        const unsigned char *id, unsigned int idlen,
                        apr_pool_t *p)
{
    (void)sc->provider->remove(sc->inst, s, id, idlen, p);
}

void bbt_socache_status(bbt_socache_t *sc, request_rec *r, int flags)
{
    if (sc->inst && bbt_socache_lock(sc)) {
        sc->provider->status(sc->inst, r, flags);
        bbt_socache_unlock(sc);
    }
}
