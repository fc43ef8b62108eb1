/*
 * Rotation over REST (bbt_rest_rotate.h).  What the new token keeps, how
 * long it lives and who may ask are the database's rules
 * (bbtoken_api_rotate, sql/migrations/0011_rotate.sql), shared with the
 * CLI's `bbtoken rotate`; the secret is made here, and only its salt and
 * hash go to the database.  The raw token is in the response body only:
 * never logged.
 */
#include "httpd.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "bbt_cache.h"
#include "bbt_rest_commit.h"
#include "bbt_rest_db.h"
#include "bbt_rest_json.h"
#include "bbt_rest_rotate.h"
#include "bbt_token.h"

APLOG_USE_MODULE(bbtoken);

/* One attempt with a freshly minted m: 0 and *out (the new token's JSON,
 * committed), 1 if it may be made again (the new id was taken, or the
 * database aborted it; counted in tries), or -1 and *rc answered. */
static int bbt_rest_rotate_once(bbt_rest_t *x, const bbt_rest_user_t *caller,
                                const bbt_rest_user_t *owner,
                                const bbt_minted_t *m, bbt_rest_tries_t *tries,
                                json_t **out, int *rc)
{
    /* bbtoken_api_rotate(caller, user, key, slug, id, new id, salt, hash) */
    const char *params[8] = {caller->name,
                             owner ? owner->name : NULL,
                             owner ? NULL : x->path.key,
                             owner || !x->path.repo[0] ? NULL : x->path.repo,
                             x->path.id,
                             m->id,
                             m->salt,
                             m->hash};
    bbt_rest_commit_t commit = {
        BBT_REST_WRITE_ROTATE, m->id, x->path.id, NULL, NULL, NULL};
    PGresult *res;

    *out = NULL;
    if (bbt_rest_begin(x, caller->name) != 0) {
        *rc = bbt_rest_unavailable(x, "starting a transaction");
        return -1;
    }
    res = bbt_rest_exec(x,
                        "SELECT bbtoken_api_rotate($1, $2, $3, $4, $5, $6, $7,"
                        " $8)" BBT_XACT_ID,
                        8, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        *rc = bbt_rest_refusal(x, res, tries);
        bbt_rest_cmd(x, "ROLLBACK");
        if (tries->again) {
            return 1;
        }
        if (*rc < 0) {
            *rc = bbt_rest_unavailable(x, "rotating a token");
        }
        return -1;
    }
    bbt_rest_commit_xid(x, &commit, res);
    PQclear(res);
    if (bbt_rest_load_one(x, owner, m->id, out) != 0 || !*out) {
        json_decref(*out);
        *out = NULL;
        bbt_rest_cmd(x, "ROLLBACK");
        *rc = bbt_rest_unavailable(x, "rotating a token");
        return -1;
    }
    /* A COMMIT whose answer was lost but which the database says committed
     * answers the new token with out, read in the transaction, and its
     * secret. */
    if (bbt_rest_commit(x, &commit, rc) != 0) {
        json_decref(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

int bbt_rest_rotate(bbt_rest_t *x, const bbt_rest_user_t *caller,
                    const bbt_rest_user_t *owner)
{
    bbt_minted_t m;
    json_t *out = NULL;
    bbt_rest_tries_t tries = {"rotating a token", 0, 0, 0};
    int rc = HTTP_INTERNAL_SERVER_ERROR, got = 1;

    /* Rotation makes a token: as for create, a person's tokens are their
     * own to make (the database says so again). */
    if (owner && strcasecmp(caller->name, owner->name) != 0) {
        return bbt_rest_error(x->r, HTTP_UNAUTHORIZED, BBT_REST_EX_AUTH,
                              "tokens can only be rotated by their owner");
    }
    memset(&m, 0, sizeof(m));
    /* bbt_rest_refusal bounds the tries: a taken id and an abort each by
     * its own count. */
    while (got == 1) {
        if (bbt_token_mint(&m) != 0) {
            got = -1;
            break;
        }
        got = bbt_rest_rotate_once(x, caller, owner, &m, &tries, &out, &rc);
    }
    if (got != 0) {
        bbt_minted_wipe(&m);
        return rc;
    }
    /* This server refuses the old token at once; the others when
     * PostgreSQL tells them. */
    bbt_cache_forget_token(x->path.id);
    bbt_cache_forget_token(m.id);
    json_object_set_new(out, "token", json_string(m.token));
    if (owner) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, x->r,
                      "BBT260: access-tokens API: %s rotated token %s into "
                      "token %s",
                      caller->name, x->path.id, m.id);
    } else {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, x->r,
                      "BBT261: access-tokens API: %s rotated token %s of %s "
                      "%s%s%s into token %s",
                      caller->name, x->path.id,
                      x->path.repo[0] ? "repository" : "project", x->path.key,
                      x->path.repo[0] ? "/" : "", x->path.repo, m.id);
    }
    rc = bbt_rest_send(x->r, HTTP_OK, out);
    bbt_minted_wipe(&m);
    return rc;
}
