/*
 * A mod_watchdog callback's calls, fenced off from the child's exit.
 *
 * httpd 2.4's mod_watchdog starts its thread in each child from a pool of
 * the configuration's, which a child never destroys: nothing stops or
 * joins the thread when the child exits.  The child destroys its pool
 * (mod_dbd's pool and connections go with it) and runs the process's exit
 * handlers (OpenSSL's cleanup, the libraries' destructors) while the
 * thread may be in a call.  Each call is made inside the fence; the
 * child's pool, before anything of it goes, waits for a call in progress,
 * ends the callback's work and closes the fence for good.
 */
#ifndef BBT_WDCALL_H
#define BBT_WDCALL_H

#include "httpd.h"

/* Before a call's work: 1, inside the fence (leave it with
 * bbt_wdcall_leave); 0 once the child is exiting: the call does
 * nothing. */
int bbt_wdcall_enter(void);
void bbt_wdcall_leave(void);

/* In child_init: when pchild is destroyed, before anything of it goes,
 * end() runs inside the fence, and the fence closes. */
void bbt_wdcall_child_init(apr_pool_t *pchild, server_rec *s,
                           void (*end)(void));

#endif
