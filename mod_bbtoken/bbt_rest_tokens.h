/*
 * The access-tokens endpoints (internal to the bbt_rest_* files).  The
 * handler (bbt_rest.c) has found the caller, checked that they may manage
 * the tokens of the user in the path, and found that user (owner); or, for
 * a path under projects/, asked the database whether the caller may
 * manage the project's or the repository's tokens, and passes owner NULL.
 * Each endpoint answers and returns the handler's return value.
 */
#ifndef BBT_REST_TOKENS_H
#define BBT_REST_TOKENS_H

#include "bbt_rest_db.h"

/* GET .../users/{slug}?start=&limit=: a page of live tokens, newest first,
 * with the expiry policy. */
int bbt_rest_tokens_list(bbt_rest_t *x, const bbt_rest_user_t *caller,
                         const bbt_rest_user_t *owner);

/* PUT .../users/{slug}: a new token, for its owner only (or for the
 * path's project or repository); the raw token is in this answer and
 * nowhere else. */
int bbt_rest_tokens_create(bbt_rest_t *x, const bbt_rest_user_t *caller,
                           const bbt_rest_user_t *owner);

/* GET .../users/{slug}/{id}: one live token. */
int bbt_rest_tokens_get(bbt_rest_t *x, const bbt_rest_user_t *caller,
                        const bbt_rest_user_t *owner);

/* POST .../users/{slug}/{id}: a new name and/or permissions. */
int bbt_rest_tokens_update(bbt_rest_t *x, const bbt_rest_user_t *caller,
                           const bbt_rest_user_t *owner);

/* DELETE .../users/{slug}/{id}: revoke, 204. */
int bbt_rest_tokens_revoke(bbt_rest_t *x, const bbt_rest_user_t *caller,
                           const bbt_rest_user_t *owner);

#endif
