/*
 * The token inventory over REST (internal to the bbt_rest_* files):
 * GET .../inventory, for global admins.
 */
#ifndef BBT_REST_INVENTORY_H
#define BBT_REST_INVENTORY_H

#include "bbt_rest_db.h"

/* A page of every live token the query's filters select (bbt_inventory.h).
 * caller is a global admin (the handler checked); owner is unused (NULL). */
int bbt_rest_inventory_list(bbt_rest_t *x, const bbt_rest_user_t *caller,
                            const bbt_rest_user_t *owner);

#endif
