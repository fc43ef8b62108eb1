/*
 * The access-tokens API's rotation endpoint (internal to the bbt_rest_*
 * files): POST .../users/{slug}/{id}/rotate and
 * .../projects/{key}[/repos/{slug}]/{id}/rotate.  The handler (bbt_rest.c)
 * has found the caller and the owner (NULL for a project's or a
 * repository's token, after bbtoken_api_may) as for the other endpoints.
 */
#ifndef BBT_REST_ROTATE_H
#define BBT_REST_ROTATE_H

#include "bbt_rest_db.h"

/* A new token in place of the path's, which is revoked: the new one's
 * JSON with its raw token (shown here and nowhere else), 200. */
int bbt_rest_rotate(bbt_rest_t *x, const bbt_rest_user_t *caller,
                    const bbt_rest_user_t *owner);

#endif
