/*
 * The places whose tokens the caller may manage, over REST (internal to the
 * bbt_rest_* files): GET .../places.
 */
#ifndef BBT_REST_PLACES_H
#define BBT_REST_PLACES_H

#include "bbt_rest_db.h"

/* A page of the projects and repositories the database knows of whose
 * tokens caller (an active user: the handler checked) may manage: their
 * own personal project first, then projects, then repositories, each by
 * key and slug.  owner is unused (NULL). */
int bbt_rest_places_list(bbt_rest_t *x, const bbt_rest_user_t *caller,
                         const bbt_rest_user_t *owner);

#endif
