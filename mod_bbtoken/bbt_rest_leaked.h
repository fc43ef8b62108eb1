/*
 * Revoking leaked tokens by their value (internal to the bbt_rest_* files):
 * POST .../revoke-by-value with a JSON array of raw tokens, from anyone.
 */
#ifndef BBT_REST_LEAKED_H
#define BBT_REST_LEAKED_H

#include "bbt_rest_db.h"

/* Revoke each live token of x->body (a JSON array) whose secret is right,
 * as leaked.  caller and owner are unused (NULL): there is no login.  The
 * answer is the same whatever the tokens were. */
int bbt_rest_leaked_revoke(bbt_rest_t *x, const bbt_rest_user_t *caller,
                           const bbt_rest_user_t *owner);

#endif
