/*
 * Throttling of failed logins, per client address, across all children.
 *
 * Each address (an IPv6 one by its /64, which one host commonly holds
 * whole) has a count of failed logins in a window that opens with its
 * first failure, kept in a table in shared memory.  Once the
 * count reaches BBTokenThrottleFailures, credentials that are not a token
 * (passwords, for the AuthBBTokenProvider providers, or anything a guesser
 * types) are answered 429 with Retry-After until the window closes,
 * without any provider or database work.  A token is verified all the
 * same (unless BBTokenThrottleTokens refuse): its 128 random bits cannot
 * be guessed, and everyone behind one NAT address must not lose their
 * tokens to one person's typing.  Its failures count too.
 */
#ifndef BBT_THROTTLE_H
#define BBT_THROTTLE_H

#include "httpd.h"

/* The longest window BBTokenThrottleWindow takes, in seconds. */
#define BBT_THROTTLE_WINDOW_MAX 3600

/* The hooks' parts: register the mutex's name; make the socache when a
 * server throttles (NULL: fine; else httpd must not start); reopen its
 * mutex in a child. */
void bbt_throttle_pre_config(apr_pool_t *pconf);
int bbt_throttle_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                             server_rec *s);
void bbt_throttle_child_init(apr_pool_t *pchild, server_rec *s);

/* Before a credential is checked: OK, or 429 (Retry-After set, logged)
 * when r's address is throttled and the credential is not a token
 * (token: 0) or tokens are refused too. */
int bbt_throttle_gate(request_rec *r, int token);

/* A credential r's client presented was refused: count it. */
void bbt_throttle_failed(request_rec *r);

/* Set the throttled-clients gauge from the windows still open. */
void bbt_throttle_gauge(void);

#endif
