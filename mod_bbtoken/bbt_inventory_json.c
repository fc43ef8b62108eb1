/*
 * A row of the token inventory as JSON (bbt_inventory_json.h).
 */
#include "bbt_inventory_json.h"

#include <string.h>

#include "bbt_inventory.h"
#include "bbt_pgjson.h"

json_t *bbt_inventory_json(const PGresult *res, int row)
{
    json_t *addrs = json_array();
    const char *p, *comma;

    for (p = PQgetvalue(res, row, BBT_INV_ADDRS); addrs && *p;
         p = comma ? comma + 1 : p + strlen(p)) {
        comma = strchr(p, ',');
        if (json_array_append_new(addrs,
                                  json_stringn(p, comma ? (size_t)(comma - p)
                                                        : strlen(p))) != 0) {
            json_decref(addrs);
            addrs = NULL;
        }
    }
    /* "o" steals its reference even when json_pack fails. */
    return json_pack("{s:s, s:s, s:{s:s}, s:[s,s], s:o, s:o*, s:o*, s:b, s:o}",
                     "id", PQgetvalue(res, row, BBT_INV_ID), "name",
                     PQgetvalue(res, row, BBT_INV_NAME), "user", "name",
                     PQgetvalue(res, row, BBT_INV_OWNER), "permissions",
                     PQgetvalue(res, row, BBT_INV_PROJECT),
                     PQgetvalue(res, row, BBT_INV_REPO), "createdDate",
                     bbt_pgjson_int(res, row, BBT_INV_CREATED_MS),
                     "lastAuthenticated",
                     bbt_pgjson_int(res, row, BBT_INV_LAST_MS), "expiryDate",
                     bbt_pgjson_int(res, row, BBT_INV_EXPIRES_MS), "expired",
                     PQgetvalue(res, row, BBT_INV_EXPIRED)[0] == 't',
                     "lastAddresses", addrs);
}
