/*
 * A block of memory each thread makes for itself on first use: the
 * module's per-thread state (match data, cache key copies, route memory,
 * the HMAC context), kept without a lock and without httpd.
 */
#ifndef BBT_TLS_H
#define BBT_TLS_H

#include <pthread.h>
#include <stddef.h>

/* One kind of block: size bytes, zeroed when made; free_fn frees one,
 * itself included, when its thread ends.  Static, set up with
 * BBT_TLS_INIT; the rest is bbt_tls.c's. */
typedef struct bbt_tls {
    size_t size;
    void (*free_fn)(void *);
    pthread_key_t key;
    int state; /* 0: no key yet, 1: made, -1: none can be made */
    struct bbt_tls *next;
} bbt_tls_t;

#define BBT_TLS_INIT(size, free_fn)                                            \
    {                                                                          \
        (size), (free_fn), 0, 0, NULL                                          \
    }

/* Whether blocks of kind t can be had (its key made, the first time):
 * for a caller that would rather fail when it is set up than later. */
int bbt_tls_ready(bbt_tls_t *t);

/* This thread's block of kind t, made the first time; NULL when it cannot
 * be (no key, no memory). */
void *bbt_tls_get(bbt_tls_t *t);

#endif
