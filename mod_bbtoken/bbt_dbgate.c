/*
 * The bounded wait for a pooled connection (bbt_dbgate.h).
 *
 * mod_dbd keeps its settings to itself, so the pool each server uses is
 * read where httpd keeps every directive, the configuration tree: DBDMax
 * and the settings mod_dbd compares before two servers share one pool
 * (DBDriver, DBDParams, DBDPersist, DBDMin, DBDKeep, DBDExptime), at the
 * top level and in each <VirtualHost>, a virtual host inheriting what it
 * does not set.  Servers with the same settings share one counter, as they
 * share one pool: two counters for one pool would let the module ask it
 * for more connections than it has, and the rest would wait in mod_dbd.
 * Conditional sections and included files are already spliced into the tree
 * where they stood.
 *
 * The count is of the module's own connections: another module drawing on
 * the same pool (mod_authn_dbd, mod_session_dbd) can still leave the
 * module waiting in mod_dbd for its share.
 *
 * The same reading says whose sessions a pool's connections are.  mod_dbd
 * runs the DBDInitSQL of the first server of a pool for all of its
 * connections, and compares no DBDInitSQL before servers share one: a
 * virtual host's own (SET search_path, SET ROLE) can make connections with
 * the main server's very DBDParams read other rows, which libpq's options
 * (the cache's test of a host's database) do not show.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_request.h"
#include "apr_dbd.h"
#include "apr_hash.h"
#include "apr_optional.h"
#include "apr_strings.h"
#include "mod_dbd.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bbt_dbgate.h"

APLOG_USE_MODULE(bbtoken);

/* mod_dbd's defaults of the numbers, in the order of bbt_dbd_names from
 * DBDMin. */
static const int bbt_dbd_default[] = {1, 2, 300, 10};

struct bbt_gate_s {
    int max; /* DBDMax; 0: no pool (DBDPersist Off), nothing to wait for */
    int own_session; /* a virtual host of these settings has DBDInitSQL */
    int busy;
    int waiting; /* threads waiting for a place */
    int opening; /* a thread is asking mod_dbd's pool for a connection */
    int64_t opening_since; /* since when (bbt_gate_clock) */
    /* POSIX's, not APR's: APR's condition waits until a time of the wall
     * clock, which a step back stretches by the step; this one waits on
     * the monotonic clock. */
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    pthread_cond_t turn; /* opening ended */
    int ready;           /* 0: this child could not make them */
};

/* What decides a server's pool, in the order of bbt_dbd_names. */
#define BBT_DBD_NSET 7
static const char *const bbt_dbd_names[BBT_DBD_NSET] = {
    "DBDriver", "DBDParams",  "DBDPersist", "DBDMin",
    "DBDKeep",  "DBDExptime", "DBDMax"};
#define BBT_DBD_PERSIST 2
#define BBT_DBD_MIN 3
#define BBT_DBD_MAX 6

/* This generation's gates: by the pool's settings, and by server. */
static apr_hash_t *bbt_gates;
static apr_hash_t *bbt_gate_of;

/* The first argument of a directive, unquoted. */
static const char *bbt_dbd_arg(apr_pool_t *p, const ap_directive_t *d)
{
    const char *args = d->args ? d->args : "";

    return ap_getword_conf(p, &args);
}

/* Overlay onto set what the directives from d on (one level) say. */
static void bbt_dbd_read(apr_pool_t *p, const ap_directive_t *d,
                         const char **set)
{
    int i;

    for (; d; d = d->next) {
        for (i = 0; i < BBT_DBD_NSET; i++) {
            if (strcasecmp(d->directive, bbt_dbd_names[i]) == 0) {
                set[i] = bbt_dbd_arg(p, d);
            }
        }
    }
}

/* Whether the directives from d on (one level) hold DBDInitSQL. */
static int bbt_dbd_init_sql(const ap_directive_t *d)
{
    for (; d; d = d->next) {
        if (strcasecmp(d->directive, "DBDInitSQL") == 0) {
            return 1;
        }
    }
    return 0;
}

/* The gate for settings set, made on first sight.  Keyed as mod_dbd
 * compares them: the driver and its parameters as written, the numbers by
 * their values (an unset one is its default: "DBDMax 10" or "DBDMax 010"
 * is the pool of a server that says nothing), and a server without a pool
 * (DBDPersist Off) apart. */
static bbt_gate_t *bbt_gate_for(apr_pool_t *p, const char *const *set)
{
    const char *key;
    bbt_gate_t *g;
    int i, n[BBT_DBD_NSET - BBT_DBD_MIN];
    int pooled =
        !set[BBT_DBD_PERSIST] || strcasecmp(set[BBT_DBD_PERSIST], "off") != 0;

    for (i = BBT_DBD_MIN; i < BBT_DBD_NSET; i++) {
        n[i - BBT_DBD_MIN] =
            set[i] ? atoi(set[i]) : bbt_dbd_default[i - BBT_DBD_MIN];
    }
    key = apr_psprintf(p, "%s\n%s\n%d\n%d %d %d %d", set[0] ? set[0] : "-",
                       set[1] ? set[1] : "-", pooled, n[0], n[1], n[2], n[3]);
    if ((g = apr_hash_get(bbt_gates, key, APR_HASH_KEY_STRING)) != NULL) {
        return g;
    }
    g = apr_pcalloc(p, sizeof(*g));
    g->max = pooled && n[BBT_DBD_MAX - BBT_DBD_MIN] > 0
                 ? n[BBT_DBD_MAX - BBT_DBD_MIN]
                 : 0;
    apr_hash_set(bbt_gates, key, APR_HASH_KEY_STRING, g);
    return g;
}

/* The <VirtualHost> section that defined server s, or NULL (the main
 * server).  httpd records where each virtual host was defined. */
static const ap_directive_t *bbt_vhost_section(const server_rec *s)
{
    const ap_directive_t *d;

    if (!s->is_virtual || !s->defn_name) {
        return NULL;
    }
    for (d = ap_conftree; d; d = d->next) {
        if (strcasecmp(d->directive, "<VirtualHost") == 0 && d->filename &&
            strcmp(d->filename, s->defn_name) == 0 &&
            d->line_num == (int)s->defn_line_number) {
            return d;
        }
    }
    return NULL;
}

/* mod_dbd, whose request slot says whether a request holds a connection
 * of its (ap_dbd_acquire), and that function; NULL without mod_dbd. */
static module *bbt_dbd_module;
static APR_OPTIONAL_FN_TYPE(ap_dbd_acquire) * bbt_dbd_acquire;

static int bbt_dbgate_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                                  apr_pool_t *ptemp, server_rec *s)
{
    const char *main_set[BBT_DBD_NSET] = {NULL};
    const ap_directive_t *vh;
    server_rec *sp;

    (void)plog;
    bbt_dbd_module = ap_find_linked_module("mod_dbd.c");
    bbt_dbd_acquire = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_acquire);
    bbt_gates = apr_hash_make(pconf);
    bbt_gate_of = apr_hash_make(pconf);
    bbt_dbd_read(ptemp, ap_conftree, main_set);
    for (sp = s; sp; sp = sp->next) {
        const char *set[BBT_DBD_NSET];
        bbt_gate_t *g;

        memcpy(set, main_set, sizeof(set));
        if ((vh = bbt_vhost_section(sp)) != NULL) {
            bbt_dbd_read(ptemp, vh->first_child, set);
        }
        g = bbt_gate_for(pconf, set);
        /* Any host's, whether mod_dbd runs it for its pool or not: which
         * host's it runs depends on the order and DBDPrepareSQL too. */
        if (vh && bbt_dbd_init_sql(vh->first_child)) {
            g->own_session = 1;
        }
        apr_hash_set(bbt_gate_of, apr_pmemdup(pconf, &sp, sizeof(sp)),
                     sizeof(sp), g);
    }
    return OK;
}

/* g's mutex and condition, this child's: 0, or -1 (none). */
static int bbt_gate_make(bbt_gate_t *g)
{
    pthread_condattr_t a;
    int made = 0;

    if (pthread_condattr_init(&a) != 0) {
        return -1;
    }
    if (pthread_condattr_setclock(&a, CLOCK_MONOTONIC) == 0 &&
        pthread_mutex_init(&g->mutex, NULL) == 0) {
        if (pthread_cond_init(&g->cond, &a) == 0) {
            made = pthread_cond_init(&g->turn, &a) == 0;
            if (!made) {
                pthread_cond_destroy(&g->cond);
            }
        }
        if (!made) {
            pthread_mutex_destroy(&g->mutex);
        }
    }
    pthread_condattr_destroy(&a);
    g->ready = made;
    return made ? 0 : -1;
}

static apr_status_t bbt_gate_unmake(void *data)
{
    bbt_gate_t *g = data;

    if (g->ready) {
        g->ready = 0;
        pthread_cond_destroy(&g->turn);
        pthread_cond_destroy(&g->cond);
        pthread_mutex_destroy(&g->mutex);
    }
    return APR_SUCCESS;
}

static void bbt_dbgate_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_hash_index_t *hi;

    if (!bbt_gates) {
        return;
    }
    for (hi = apr_hash_first(pchild, bbt_gates); hi; hi = apr_hash_next(hi)) {
        bbt_gate_t *g = apr_hash_this_val(hi);

        if (g->max == 0) {
            continue;
        }
        if (bbt_gate_make(g) == 0) {
            apr_pool_cleanup_register(pchild, g, bbt_gate_unmake,
                                      apr_pool_cleanup_null);
        } else {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                         "BBT351: cannot make the counter of database "
                         "connections: this child waits for one as long as "
                         "mod_dbd makes it");
        }
    }
}

static bbt_gate_t *bbt_gate(server_rec *s)
{
    bbt_gate_t *g =
        bbt_gate_of ? apr_hash_get(bbt_gate_of, &s, sizeof(s)) : NULL;

    return g && g->max > 0 && g->ready ? g : NULL;
}

int bbt_dbgate_main_session(server_rec *s)
{
    const bbt_gate_t *g;

    if (!s->is_virtual) {
        return 1;
    }
    g = bbt_gate_of ? apr_hash_get(bbt_gate_of, &s, sizeof(s)) : NULL;
    return g && !g->own_session;
}

/* Nanoseconds on the clock the conditions wait on: no step of the wall
 * clock stretches a wait or cuts it short. */
static int64_t bbt_gate_clock(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The time at (bbt_gate_clock) as the conditions take it. */
static void bbt_gate_at(int64_t at, struct timespec *ts)
{
    ts->tv_sec = (time_t)(at / 1000000000);
    ts->tv_nsec = (long)(at % 1000000000);
}

/* wait (microseconds) from now, on that clock. */
static int64_t bbt_gate_after(apr_interval_time_t wait)
{
    return bbt_gate_clock() + (wait > 0 ? (int64_t)wait * 1000 : 0);
}

int bbt_dbgate_enter(server_rec *s, apr_interval_time_t wait, int *max,
                     bbt_gate_t **held)
{
    bbt_gate_t *g = bbt_gate(s);
    struct timespec until;
    int rc = 0;

    *held = NULL;
    if (!g) {
        return 0;
    }
    *max = g->max;
    bbt_gate_at(bbt_gate_after(wait), &until);
    pthread_mutex_lock(&g->mutex);
    /* One that does not wait takes no place a waiting thread is owed
     * (bbt_dbgate_leave's signal wakes it, then it locks the mutex). */
    if (wait <= 0 && g->waiting > 0) {
        rc = -1;
    }
    while (rc == 0 && g->busy >= g->max) {
        /* Its time up, or any error (none is expected of a wait set up as
         * above): no connection, which is a 503, never a wait without
         * end. */
        g->waiting++;
        if (pthread_cond_timedwait(&g->cond, &g->mutex, &until) != 0 &&
            g->busy >= g->max) {
            rc = -1;
        }
        g->waiting--;
    }
    if (rc == 0) {
        g->busy++;
        *held = g;
    }
    pthread_mutex_unlock(&g->mutex);
    return rc;
}

void bbt_dbgate_leave(bbt_gate_t *g)
{
    /* As bbt_gate would judge it: a counter this child unmade is not
     * touched. */
    if (!g || !g->ready) {
        return;
    }
    pthread_mutex_lock(&g->mutex);
    g->busy--;
    pthread_cond_signal(&g->cond);
    pthread_mutex_unlock(&g->mutex);
}

int bbt_dbgate_turn(bbt_gate_t *g, apr_interval_time_t wait,
                    apr_interval_time_t floor)
{
    int64_t until, held_long, limit, cap;
    struct timespec at;
    int rc = 0;

    if (!g || !g->ready) {
        return 0;
    }
    until = bbt_gate_after(wait);
    held_long = floor > 0 ? (int64_t)floor * 1000 : 0;
    /* However many holders pass the turn along, each within floor, the
     * wait ends by its own deadline and floor: the bound the README gives. */
    cap = until + held_long;
    pthread_mutex_lock(&g->mutex);
    while (g->opening) {
        /* Past its wait, a thread still waits for a holder that has held
         * the turn for less than floor: a turn takes an idle connection
         * in microseconds, or makes one in milliseconds, and a thread
         * losing to one (or to one descheduled a moment while it holds
         * the turn) would be answered 503 with places free and the
         * database answering.  Judged again whenever the turn changes
         * hands: a holder that is still connecting when it has held the
         * turn for floor (a database not answering) is not waited for. */
        limit = g->opening_since + held_long;
        if (limit < until) {
            limit = until;
        }
        if (limit > cap) {
            limit = cap;
        }
        if (bbt_gate_clock() >= limit) {
            rc = -1;
            break;
        }
        bbt_gate_at(limit, &at);
        /* As a place's wait: any error but the time up is no turn. */
        if (pthread_cond_timedwait(&g->turn, &g->mutex, &at) != 0 &&
            g->opening && bbt_gate_clock() < limit) {
            rc = -1;
            break;
        }
    }
    if (rc == 0) {
        g->opening = 1;
        g->opening_since = bbt_gate_clock();
    }
    pthread_mutex_unlock(&g->mutex);
    return rc;
}

void bbt_dbgate_turn_end(bbt_gate_t *g)
{
    if (!g || !g->ready) {
        return;
    }
    pthread_mutex_lock(&g->mutex);
    g->opening = 0;
    pthread_cond_signal(&g->turn);
    pthread_mutex_unlock(&g->mutex);
}

ap_dbd_t *bbt_dbgate_held(request_rec *r)
{
    request_rec *ir = r;
    const bbt_gate_t *g, *gi;

    if (!bbt_dbd_module || !bbt_dbd_acquire) {
        return NULL;
    }
    /* Where mod_dbd keeps it: the initial request's slot. */
    while (ir->prev || ir->main) {
        ir = ir->prev ? ir->prev : ir->main;
    }
    if (!ap_get_module_config(ir->request_config, bbt_dbd_module)) {
        return NULL;
    }
    /* Another pool's connection reads another database. */
    if (ir->server != r->server) {
        g = bbt_gate_of
                ? apr_hash_get(bbt_gate_of, &r->server, sizeof(r->server))
                : NULL;
        gi = bbt_gate_of
                 ? apr_hash_get(bbt_gate_of, &ir->server, sizeof(ir->server))
                 : NULL;
        if (!g || g != gi) {
            return NULL;
        }
    }
    return bbt_dbd_acquire(r);
}

void bbt_dbgate_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_post_config(bbt_dbgate_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(bbt_dbgate_child_init, NULL, NULL, APR_HOOK_MIDDLE);
}
