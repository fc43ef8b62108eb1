/*
 * Each thread's blocks (see bbt_tls.h).
 *
 * One pthread key per kind, made the first time any thread asks.  httpd
 * unloads the module and loads it again on every restart, and each load
 * makes its keys anew: the unload gives them back, or a long-lived server
 * runs out of keys (1024), and a thread that ends later calls no
 * destructor in code that is gone.
 */
#include "bbt_tls.h"

#include <stdlib.h>

static pthread_mutex_t bbt_tls_lock = PTHREAD_MUTEX_INITIALIZER;
static bbt_tls_t *bbt_tls_made; /* the kinds with a key, to give back */

static int bbt_tls_make_key(bbt_tls_t *t)
{
    int state;

    pthread_mutex_lock(&bbt_tls_lock);
    state = t->state;
    if (state == 0) {
        if (pthread_key_create(&t->key, t->free_fn) == 0) {
            t->next = bbt_tls_made;
            bbt_tls_made = t;
            state = 1;
        } else {
            state = -1;
        }
        __atomic_store_n(&t->state, state, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&bbt_tls_lock);
    return state;
}

int bbt_tls_ready(bbt_tls_t *t)
{
    int state = __atomic_load_n(&t->state, __ATOMIC_ACQUIRE);

    return (state == 0 ? bbt_tls_make_key(t) : state) == 1;
}

void *bbt_tls_get(bbt_tls_t *t)
{
    void *v;

    if (!bbt_tls_ready(t)) {
        return NULL;
    }
    v = pthread_getspecific(t->key);
    if (!v) {
        v = calloc(1, t->size);
        if (!v || pthread_setspecific(t->key, v) != 0) {
            free(v);
            return NULL;
        }
    }
    return v;
}

__attribute__((destructor)) static void bbt_tls_unload(void)
{
    bbt_tls_t *t;

    for (t = bbt_tls_made; t; t = t->next) {
        pthread_key_delete(t->key);
        t->state = 0;
    }
    bbt_tls_made = NULL;
}
