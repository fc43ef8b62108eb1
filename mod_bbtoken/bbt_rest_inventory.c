/*
 * The token inventory over REST (bbt_rest_inventory.h): the filters of
 * `bbtoken list --all` as query arguments (decoded by the handler,
 * bbt_rest_args.h), the same statement (bbt_inventory.h), Bitbucket's page
 * envelope.
 *
 *   owner=NAME  project=KEY  kind=personal|project|repository
 *   expired=true  neverUsed=true  unusedDays=N  minPermission=PERM
 *   start=N  limit=N
 */
#include "httpd.h"
#include "http_protocol.h"
#include "apr_hash.h"
#include "apr_strings.h"

#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "bbt_input.h"
#include "bbt_inventory.h"
#include "bbt_inventory_json.h"
#include "bbt_perm.h"
#include "bbt_rest_args.h"
#include "bbt_rest_db.h"
#include "bbt_rest_inventory.h"
#include "bbt_rest_json.h"
#include "bbt_rest_req.h"

/* The arguments this endpoint reads; any other is refused, so that a
 * misspelt filter never widens what is listed. */
static const char *const bbt_inv_args[] = {
    "owner",      "project",       "kind",  "expired", "neverUsed",
    "unusedDays", "minPermission", "start", "limit",   NULL};

/* 1 if name is an argument this endpoint reads. */
static int bbt_inv_known(const char *name)
{
    size_t i;

    for (i = 0; bbt_inv_args[i]; i++) {
        if (strcmp(name, bbt_inv_args[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* A boolean argument: 0 or 1 into *out, or the reason. */
static const char *bbt_inv_bool(const bbt_rest_t *x, const char *name, int *out)
{
    return bbt_rest_arg_bool(x, name, out) == 0
               ? NULL
               : "expired and neverUsed are true or false";
}

/* The filter of the query: NULL, or the reason it is refused. */
static const char *bbt_inv_filter(const bbt_rest_t *x, bbt_inventory_t *f)
{
    apr_hash_index_t *hi;
    const char *why, *v;
    const void *name;
    long days;
    char key[BBT_KEY_BUF];

    memset(f, 0, sizeof(*f));
    for (hi = apr_hash_first(x->r->pool, x->args); hi; hi = apr_hash_next(hi)) {
        apr_hash_this(hi, &name, NULL, NULL);
        if (!bbt_inv_known(name)) {
            return "unknown query argument: the filters are owner, project, "
                   "kind, expired, neverUsed, unusedDays and minPermission";
        }
    }
    if ((v = bbt_rest_arg(x, "owner"))) {
        if (!bbt_input_user_name(v, strlen(v))) {
            return "owner is not a user name";
        }
        f->owner = v;
    }
    if ((v = bbt_rest_arg(x, "project"))) {
        if (bbt_input_key(v, strlen(v), key) != 0) {
            return "project is not a project key";
        }
        f->project = v;
    }
    if ((v = bbt_rest_arg(x, "kind")) && bbt_inventory_kind(v, &f->kind) != 0) {
        return "kind: expected " BBT_INV_KIND_NAMES;
    }
    if ((why = bbt_inv_bool(x, "expired", &f->expired)) ||
        (why = bbt_inv_bool(x, "neverUsed", &f->never_used))) {
        return why;
    }
    if ((v = bbt_rest_arg(x, "unusedDays"))) {
        if (bbt_input_number(v, 1, BBT_EXPIRY_DAYS_MAX, &days) != 0) {
            return apr_psprintf(x->r->pool,
                                "unusedDays must be a whole number from 1 "
                                "to %d",
                                BBT_EXPIRY_DAYS_MAX);
        }
        f->unused = (long long)days * 86400;
    }
    if ((v = bbt_rest_arg(x, "minPermission")) &&
        bbt_perm_parse(v, &f->min) != 0) {
        return "minPermission: expected " BBT_PERM_NAMES;
    }
    return NULL;
}

static json_t *bbt_inv_row(const bbt_rest_t *x, const PGresult *res, int row,
                           const void *arg)
{
    (void)x;
    (void)arg;
    return bbt_inventory_json(res, row);
}

int bbt_rest_inventory_list(bbt_rest_t *x, const bbt_rest_user_t *caller,
                            const bbt_rest_user_t *owner)
{
    bbt_inventory_query_t q;
    bbt_inventory_t f;
    const char *why;
    PGresult *res;
    long start, limit;
    int rc;

    (void)caller;
    (void)owner;
    if (bbt_rest_page(x, &start, &limit, &rc) != 0) {
        return rc;
    }
    if ((why = bbt_inv_filter(x, &f))) {
        return bbt_rest_error(x->r, HTTP_BAD_REQUEST, BBT_REST_EX_ARG, why);
    }
    if (bbt_inventory_sql(&f, 0, limit + 1, start, &q) != 0) {
        return bbt_rest_error(x->r, HTTP_BAD_REQUEST, BBT_REST_EX_ARG,
                              "the filters cannot be combined");
    }
    res = bbt_rest_exec(x, q.sql, q.nparams, q.params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return bbt_rest_unavailable(x, "listing the inventory");
    }
    return bbt_rest_send(
        x->r, HTTP_OK,
        bbt_rest_page_of(x, res, start, limit, bbt_inv_row, NULL));
}
