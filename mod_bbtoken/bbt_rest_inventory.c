/*
 * The token inventory over REST (bbt_rest_inventory.h): the filters of
 * `bbtoken list --all` as query arguments, the same statement
 * (bbt_inventory.h), Bitbucket's page envelope.
 *
 *   owner=NAME  project=KEY  kind=personal|project|repository
 *   expired=true  neverUsed=true  unusedDays=N  minPermission=PERM
 *   start=N  limit=N
 */
#include "httpd.h"
#include "http_protocol.h"
#include "util_script.h"
#include "apr_strings.h"

#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "bbt_input.h"
#include "bbt_inventory.h"
#include "bbt_inventory_json.h"
#include "bbt_perm.h"
#include "bbt_rest_db.h"
#include "bbt_rest_inventory.h"
#include "bbt_rest_json.h"
#include "bbt_rest_req.h"

/* The arguments this endpoint reads; any other is refused, so that a
 * misspelt filter never widens what is listed. */
static const char *const bbt_inv_args[] = {
    "owner",      "project",       "kind",  "expired", "neverUsed",
    "unusedDays", "minPermission", "start", "limit",   NULL};

/* Refuse an unknown query argument (apr_table_do's callback: non-zero
 * goes on). */
static int bbt_inv_known(void *rec, const char *key, const char *value)
{
    const char **why = rec;
    size_t i;

    (void)value;
    for (i = 0; bbt_inv_args[i]; i++) {
        if (strcmp(key, bbt_inv_args[i]) == 0) {
            return 1;
        }
    }
    *why = "unknown query argument";
    return 0;
}

/* A boolean argument: 0 or 1 into *out, or the reason. */
static const char *bbt_inv_bool(apr_table_t *t, const char *name, int *out)
{
    const char *v = apr_table_get(t, name);

    *out = 0;
    if (!v || strcmp(v, "false") == 0) {
        return NULL;
    }
    if (strcmp(v, "true") == 0) {
        *out = 1;
        return NULL;
    }
    return "expired and neverUsed are true or false";
}

/* The filter of the query: NULL, or the reason it is refused. */
static const char *bbt_inv_filter(request_rec *r, bbt_inventory_t *f)
{
    apr_table_t *t = NULL;
    const char *why = NULL, *v;
    long days;
    char key[BBT_KEY_BUF];

    memset(f, 0, sizeof(*f));
    ap_args_to_table(r, &t);
    if (!t) {
        return "the query cannot be read";
    }
    apr_table_do(bbt_inv_known, &why, t, NULL);
    if (why) {
        return apr_psprintf(r->pool,
                            "%s: the filters are owner, project, kind, "
                            "expired, neverUsed, unusedDays and "
                            "minPermission",
                            why);
    }
    if ((v = apr_table_get(t, "owner"))) {
        if (!bbt_input_user_name(v, strlen(v))) {
            return "owner is not a user name";
        }
        f->owner = v;
    }
    if ((v = apr_table_get(t, "project"))) {
        if (bbt_input_key(v, strlen(v), key) != 0) {
            return "project is not a project key";
        }
        f->project = v;
    }
    if ((v = apr_table_get(t, "kind")) &&
        bbt_inventory_kind(v, &f->kind) != 0) {
        return "kind: expected " BBT_INV_KIND_NAMES;
    }
    if ((why = bbt_inv_bool(t, "expired", &f->expired)) ||
        (why = bbt_inv_bool(t, "neverUsed", &f->never_used))) {
        return why;
    }
    if ((v = apr_table_get(t, "unusedDays"))) {
        if (bbt_input_number(v, 1, BBT_EXPIRY_DAYS_MAX, &days) != 0) {
            return apr_psprintf(r->pool,
                                "unusedDays must be a whole number from 1 "
                                "to %d",
                                BBT_EXPIRY_DAYS_MAX);
        }
        f->unused = (long long)days * 86400;
    }
    if ((v = apr_table_get(t, "minPermission")) &&
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

    (void)caller;
    (void)owner;
    if (bbt_rest_page_args(x->r->args, &start, &limit) != 0) {
        return bbt_rest_error(x->r, HTTP_BAD_REQUEST, BBT_REST_EX_ARG,
                              "start and limit must be whole numbers");
    }
    if ((why = bbt_inv_filter(x->r, &f))) {
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
