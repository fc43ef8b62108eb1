/*
 * The COMMIT of the access-tokens API's writes (bbt_rest_commit.h).
 */
#include "httpd.h"
#include "http_log.h"
#include "apr_strings.h"

#include <jansson.h>
#include <libpq-fe.h>

#include "bbt_db.h"
#include "bbt_rest_commit.h"
#include "bbt_rest_db.h"
#include "bbt_rest_json.h"
#include "bbt_sqlstate.h"

APLOG_USE_MODULE(bbtoken);

/* What each write was doing, as BBT200 says it elsewhere. */
static const char *bbt_rest_commit_what(const bbt_rest_commit_t *c)
{
    switch (c->write) {
    case BBT_REST_WRITE_CREATE:
        return "creating a token";
    case BBT_REST_WRITE_ROTATE:
        return "rotating a token";
    case BBT_REST_WRITE_UPDATE:
        return "updating a token";
    default:
        return "revoking a token";
    }
}

/* The 503's message where the outcome is not known: which token, and how
 * to learn it.  A create's or a rotation's secret was never shown, and is
 * wiped with the request: a token made without it is one nobody can use,
 * to revoke (or rotate, for a secret shown this time). */
static const char *bbt_rest_commit_unknown(apr_pool_t *p,
                                           const bbt_rest_commit_t *c)
{
    static const char lost[] = "The connection to the token database was "
                               "lost before it confirmed the change, so ";

    switch (c->write) {
    case BBT_REST_WRITE_CREATE:
        return apr_psprintf(p,
                            "%swhether token %s was created is not known. "
                            "If it is listed, it was, but its secret cannot "
                            "be shown again: revoke it (or rotate it for a "
                            "new secret).",
                            lost, c->id);
    case BBT_REST_WRITE_ROTATE:
        return apr_psprintf(p,
                            "%swhether token %s was rotated into token %s is "
                            "not known. If token %s is still listed, it was "
                            "not rotated and is still valid; if token %s is "
                            "listed instead, its secret cannot be shown "
                            "again: revoke it (or rotate it for a new "
                            "secret).",
                            lost, c->old, c->id, c->old, c->id);
    case BBT_REST_WRITE_UPDATE:
        return apr_psprintf(p,
                            "%swhether token %s was changed is not known: "
                            "look at it before trying again.",
                            lost, c->id);
    default:
        return apr_psprintf(p,
                            "%swhether token %s was revoked is not known: if "
                            "it is still listed, revoke it again.",
                            lost, c->id);
    }
}

/* An update's change, as its answer shows it: what a client may change. */
static int bbt_rest_commit_same(const json_t *a, const json_t *b)
{
    static const char *const keys[] = {"name", "permissions",
                                       "allowedAddresses"};
    size_t i;

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (!json_equal(json_object_get(a, keys[i]),
                        json_object_get(b, keys[i]))) {
            return 0;
        }
    }
    return 1;
}

/* On the connection made again, whether c's change is in the database: 1,
 * 0, or -1 and *why if that cannot be told.  The ids are the
 * transaction's alone (a fresh token's is random), so what is found is its
 * doing; an update's token no longer live (revoked since) says nothing of
 * it. */
static int bbt_rest_commit_look(bbt_rest_t *x, const bbt_rest_commit_t *c,
                                const char **why)
{
    const char *params[1] = {c->id};
    PGresult *res;
    json_t *now;
    int found;

    x->failed = x->refused = NULL;
    if (c->write == BBT_REST_WRITE_UPDATE) {
        if (bbt_rest_load_one(x, c->owner, c->id, &now) != 0) {
            *why = x->failed ? x->failed : "the token could not be read";
            return -1;
        }
        if (!now) {
            *why = "the token is no longer live";
            return -1;
        }
        found = bbt_rest_commit_same(now, *c->json);
        if (found) {
            json_decref(*c->json);
            *c->json = now;
        } else {
            json_decref(now);
        }
        return found;
    }
    res = bbt_rest_exec(x,
                        "SELECT revoked_at IS NOT NULL FROM bbtoken_tokens"
                        " WHERE id = $1",
                        1, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        *why = x->failed ? x->failed : "the token could not be read";
        return -1;
    }
    found = PQntuples(res) == 1 && (c->write != BBT_REST_WRITE_REVOKE ||
                                    PQgetvalue(res, 0, 0)[0] == 't');
    PQclear(res);
    return found;
}

int bbt_rest_commit(bbt_rest_t *x, const bbt_rest_commit_t *c, int *rc)
{
    const char *what = bbt_rest_commit_what(c), *lost, *which;
    const char *why = NULL;
    char line[512];
    int found;

    if (bbt_rest_cmd(x, "COMMIT") == 0) {
        return 0;
    }
    /* The server answered: it did not commit. */
    if (PQstatus(x->pg) == CONNECTION_OK) {
        bbt_rest_cmd(x, "ROLLBACK");
        *rc = bbt_rest_unavailable(x, what);
        return -1;
    }
    lost = x->failed
               ? x->failed
               : apr_pstrdup(x->r->pool,
                             bbt_sql_line(line, sizeof(line),
                                          PQerrorMessage(x->pg), "no answer"));
    which = c->old
                ? apr_pstrcat(x->r->pool, c->old, " into token ", c->id, NULL)
                : c->id;
    found = bbt_db_reconnected(x->db) ? bbt_rest_commit_look(x, c, &why) : -1;
    if (found > 0) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, x->r,
                      "BBT281: access-tokens API: %s: the connection was "
                      "lost at its COMMIT (%s); connected again, the "
                      "database shows it done (token %s), and it is "
                      "answered as done",
                      what, lost, which);
        return 0;
    }
    if (found == 0) {
        x->failed = apr_psprintf(x->r->pool,
                                 "the connection was lost at its COMMIT "
                                 "(%s); connected again, the database "
                                 "shows it not done (token %s)",
                                 lost, which);
        x->refused = NULL;
        *rc = bbt_rest_unavailable(x, what);
        return -1;
    }
    /* Not connected again: libpq's reason, which a failed look that
     * lost the connection once more may have met too. */
    if (bbt_db_unreached(x->db)) {
        why = apr_pstrcat(
            x->r->pool, "not connected again: ", bbt_db_unreached(x->db), NULL);
    } else if (!why) {
        why = "not connected again";
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, x->r,
                  "BBT282: access-tokens API: %s: the connection was lost at "
                  "its COMMIT (%s), and whether it took effect is not known "
                  "(token %s): the database could not say: %s",
                  what, lost, which, why);
    *rc = bbt_rest_error(x->r, HTTP_SERVICE_UNAVAILABLE, BBT_REST_EX_DB,
                         bbt_rest_commit_unknown(x->r->pool, c));
    return -1;
}
