/*
 * A bounded wait for one of mod_dbd's pooled connections.
 *
 * mod_dbd's pool (apr_reslist) makes a thread wait for as long as it takes
 * when all DBDMax connections of its child are in use, and mod_dbd sets no
 * timeout on it.  So the module counts the connections it holds in each
 * child, pool by pool, and waits for a place itself, on a condition
 * variable with a deadline (BBTokenDBWait): past it, the request is
 * answered 503 instead of joining the pool's endless queue.
 *
 * apr-util's pool (1.6) makes a new connection while it holds the pool's
 * lock, which taking an idle connection and giving one back need too: the
 * threads that find no idle connection connect one after another, each up
 * to connect_timeout, and a thread queued so waits for all those before
 * it, far past BBTokenDBWait.  So a thread asks the pool for a connection
 * only in its turn, one thread of the child at a time per pool, and waits
 * for its turn within the same deadline, and past it only for a holder
 * that has held the turn for less than a floor (most turns take an idle
 * connection, in microseconds, and make one in tens of milliseconds: with
 * BBTokenDBWait 0, a thread refused whenever another was in the pool would
 * be answered 503 with places free and the database answering): a request
 * waits at most about BBTokenDBWait and a floor, and then one
 * connect_timeout.  What the module cannot
 * shorten: a thread giving a connection back, and one whose turn came
 * while another module's thread connects, still wait in the pool for that
 * connection being made.
 */
#ifndef BBT_DBGATE_H
#define BBT_DBGATE_H

#include "httpd.h"
#include "apr_dbd.h"
#include "mod_dbd.h"

/* Hooks: post_config learns each server's pool (DBDMax and the settings
 * that make mod_dbd share a pool between servers), child_init makes this
 * child's counters. */
void bbt_dbgate_register_hooks(apr_pool_t *p);

/* Whether the connections of server s are sessions as the main server's:
 * s is the main server, or no virtual host with s's pool settings has
 * DBDInitSQL of its own (which mod_dbd may run for every server of the
 * pool).  0 as well when s is not known. */
int bbt_dbgate_main_session(server_rec *s);

/* The counter of places in a pool. */
typedef struct bbt_gate_s bbt_gate_t;

/* Take a place in the pool of server s, waiting up to wait.  0 (*held
 * the counter to give it back to, NULL where nothing is counted), or -1
 * when the deadline passed with all *max places taken.  With no wait,
 * never a place a thread waiting for one is owed: -1 while one waits. */
int bbt_dbgate_enter(server_rec *s, apr_interval_time_t wait, int *max,
                     bbt_gate_t **held);

/* How long a request's thread waits for a turn another holds, past its
 * BBTokenDBWait (bbt_dbgate_turn's floor), in seconds: far longer than
 * taking an idle connection takes (microseconds) or making one (tens of
 * milliseconds; hundreds over TLS to a distant server), shorter than a
 * database that does not answer holds a connect (DBDParams'
 * connect_timeout). */
#define BBT_DBGATE_TURN_FLOOR_S 1

/* Take the turn to ask held's pool for a connection (ap_dbd_open), waiting
 * up to wait, and past it for as long as the thread holding the turn has
 * held it for less than floor: 0, or -1 when the turn was still held then
 * (by a thread that has held it for floor at least).  0 at once where held
 * is NULL (nothing counted). */
int bbt_dbgate_turn(bbt_gate_t *held, apr_interval_time_t wait,
                    apr_interval_time_t floor);

/* Give the turn back once the pool has answered. */
void bbt_dbgate_turn_end(bbt_gate_t *held);

/* Give the place back to held, what bbt_dbgate_enter said (after
 * ap_dbd_close): the server's counter is not looked up again. */
void bbt_dbgate_leave(bbt_gate_t *held);

/* The connection r's request holds from mod_dbd already, from r's own
 * pool (ap_dbd_acquire's: mod_authn_dbd's or mod_authz_dbd's, until the
 * request ends), or NULL.  Such a request is given it: asking the pool for
 * a second could wait for ever, with DBDMax such requests each holding
 * one and waiting for another (the gate counts only the module's own). */
ap_dbd_t *bbt_dbgate_held(request_rec *r);

#endif
