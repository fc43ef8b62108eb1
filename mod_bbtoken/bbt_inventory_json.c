/*
 * A row of the token inventory as JSON (bbt_inventory_json.h).
 */
#include "bbt_inventory_json.h"

#include <string.h>

#include "bbt_inventory.h"
#include "bbt_pgjson.h"

/* The holder as list --json names it: user {name}, project {key} or
 * repository {slug, project {key}}.  NULL if out of memory. */
static json_t *bbt_inventory_holder(const PGresult *res, int row,
                                    const char **member)
{
    const char *key = PQgetvalue(res, row, BBT_INV_KEY);
    const char *slug = PQgetvalue(res, row, BBT_INV_SLUG);

    if (PQgetisnull(res, row, BBT_INV_KEY)) {
        *member = "user";
        return json_pack("{s:s}", "name", PQgetvalue(res, row, BBT_INV_OWNER));
    }
    if (PQgetisnull(res, row, BBT_INV_SLUG)) {
        *member = "project";
        return json_pack("{s:s}", "key", key);
    }
    *member = "repository";
    return json_pack("{s:s, s:{s:s}}", "slug", slug, "project", "key", key);
}

/* "a,b,c" as a JSON array of strings; NULL if out of memory. */
static json_t *bbt_inventory_split(const char *list)
{
    json_t *arr = json_array();
    const char *p, *comma;

    for (p = list; arr && *p; p = comma ? comma + 1 : p + strlen(p)) {
        comma = strchr(p, ',');
        if (json_array_append_new(arr,
                                  json_stringn(p, comma ? (size_t)(comma - p)
                                                        : strlen(p))) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

json_t *bbt_inventory_json(const PGresult *res, int row)
{
    json_t *addrs = bbt_inventory_split(PQgetvalue(res, row, BBT_INV_ADDRS));
    json_t *perms = json_array(), *nets = NULL, *holder, *out;
    const char *member;

    /* No allow-list: the member is left out, as list --json does. */
    if (!PQgetisnull(res, row, BBT_INV_NETS) &&
        !(nets = bbt_inventory_split(PQgetvalue(res, row, BBT_INV_NETS)))) {
        json_decref(addrs);
        json_decref(perms);
        return NULL;
    }
    /* A repository's token has no project permission. */
    if (perms && !PQgetisnull(res, row, BBT_INV_PROJECT) &&
        json_array_append_new(
            perms, json_string(PQgetvalue(res, row, BBT_INV_PROJECT))) != 0) {
        json_decref(perms);
        perms = NULL;
    }
    if (perms &&
        json_array_append_new(
            perms, json_string(PQgetvalue(res, row, BBT_INV_REPO))) != 0) {
        json_decref(perms);
        perms = NULL;
    }
    holder = bbt_inventory_holder(res, row, &member);
    /* "o" steals its reference even when json_pack fails. */
    out = json_pack("{s:s, s:s, s:o, s:o, s:o*, s:o*, s:b, s:o, s:o*, s:o}",
                    "id", PQgetvalue(res, row, BBT_INV_ID), "name",
                    PQgetvalue(res, row, BBT_INV_NAME), "permissions", perms,
                    "createdDate", bbt_pgjson_int(res, row, BBT_INV_CREATED_MS),
                    "lastAuthenticated",
                    bbt_pgjson_int(res, row, BBT_INV_LAST_MS), "expiryDate",
                    bbt_pgjson_int(res, row, BBT_INV_EXPIRES_MS), "expired",
                    PQgetvalue(res, row, BBT_INV_EXPIRED)[0] == 't',
                    "lastAddresses", addrs, "allowedAddresses", nets,
                    "addressGroups", bbt_pgjson_int(res, row, BBT_INV_GROUPS));
    if (!out || !holder) {
        json_decref(holder);
        json_decref(out);
        return NULL;
    }
    /* json_object_set_new takes holder even when it fails. */
    if (json_object_set_new(out, member, holder) != 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}
