/*
 * A row of the token inventory (bbt_inventory.h) as JSON, for `bbtoken
 * list --all --json` and the REST API's GET .../inventory alike (jansson
 * and libpq; nothing of httpd).
 */
#ifndef BBT_INVENTORY_JSON_H
#define BBT_INVENTORY_JSON_H

#include <jansson.h>
#include <libpq-fe.h>

/* {"id", "name", "permissions": [project, repo] ([repo] for a
 *  repository's token), "createdDate", "lastAuthenticated"?,
 *  "expiryDate"?, "expired", "lastAddresses": [...]}, times in epoch
 * milliseconds, unset ones left out, and the holder as `bbtoken list
 * --json` shows it: "user": {"name"}, "project": {"key"} or "repository":
 * {"slug", "project": {"key"}}.  NULL if out of memory. */
json_t *bbt_inventory_json(const PGresult *res, int row);

#endif
