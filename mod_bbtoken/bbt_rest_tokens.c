/*
 * The access-tokens endpoints (bbt_rest_tokens.h): list, create, get,
 * update and revoke, with Bitbucket Data Center's bodies.  A body is
 * checked here with the CLI's rules and messages before anything reaches
 * the database, which applies the same rules again (and the policy).
 * The raw token of a new token is in the response body only: never logged.
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
#include "bbt_input.h"
#include "bbt_kind.h"
#include "bbt_perm.h"
#include "bbt_pgjson.h"
#include "bbt_rest_args.h"
#include "bbt_rest_commit.h"
#include "bbt_rest_db.h"
#include "bbt_rest_json.h"
#include "bbt_rest_req.h"
#include "bbt_rest_tokens.h"
#include "bbt_token.h"

APLOG_USE_MODULE(bbtoken);

/* More permission names than the six there are is a mistake, not a list. */
#define BBT_REST_MAX_PERMS 8

/* An update's expiryDays other than the token's own. */
#define BBT_REST_EXPIRY_FIXED                                                  \
    "the expiry of a token cannot be changed: create a new token (and "        \
    "revoke this one)"

/* How much of an unknown permission name a refusal quotes, in bytes. */
#define BBT_REST_PERM_QUOTE 64

/* The kind of token the path is about: a user's, a project's or a
 * repository's. */
static bbt_kind_t bbt_rest_kind(const bbt_rest_t *x)
{
    return !x->path.key[0]   ? BBT_KIND_PERSONAL
           : x->path.repo[0] ? BBT_KIND_REPO
                             : BBT_KIND_PROJECT;
}

/* The path's repository slug as an SQL parameter: NULL for a project. */
static const char *bbt_rest_repo_param(const bbt_rest_t *x)
{
    return x->path.repo[0] ? x->path.repo : NULL;
}

/* Whose tokens, for messages: the user as the path spells them, "project
 * KEY" or "repository KEY/slug". */
static const char *bbt_rest_whose(const bbt_rest_t *x)
{
    return !x->path.key[0] ? x->path.slug
           : x->path.repo[0]
               ? apr_pstrcat(x->r->pool, "repository ", x->path.key, "/",
                             x->path.repo, NULL)
               : apr_pstrcat(x->r->pool, "project ", x->path.key, NULL);
}

/* The expiry policy, for the tokens page, so that it offers only expiries
 * the policy allows, in the same round trip as the list.  Only on a list
 * asked withPolicy=true, which the page alone sends: Bitbucket's own
 * clients may read the envelope strictly (Eclipse Che's Jackson mapper
 * fails on a member its page class lacks).  Left out if it cannot be read;
 * the database enforces it either way. */
static void bbt_rest_add_policy(bbt_rest_t *x, json_t *page)
{
    PGresult *res = bbt_rest_exec(
        x, "SELECT expiry_required, max_expiry_days FROM bbtoken_policy", 0,
        NULL);

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        json_t *pol = json_object();
        json_t *max = bbt_pgjson_int(res, 0, 1);

        json_object_set_new(pol, "expiryRequired",
                            json_boolean(PQgetvalue(res, 0, 0)[0] == 't'));
        json_object_set_new(pol, "maxExpiryDays", max ? max : json_null());
        json_object_set_new(page, "policy", pol);
    }
    PQclear(res);
}

/* A project's or a repository's live tokens, newest first: $1 how many, $2
 * from where, $3 the key; SLUG the condition on the slug. */
#define BBT_REST_SCOPE_LIST(slug)                                              \
    BBT_REST_COLS " WHERE t.user_id IS NULL AND t.project_key = $3"            \
                  " AND t.repo_slug" slug " AND t.revoked_at IS NULL"          \
                  " ORDER BY t.created_at DESC, t.id DESC"                     \
                  " LIMIT $1::integer OFFSET $2::integer"

static json_t *bbt_rest_list_row(const bbt_rest_t *x, const PGresult *res,
                                 int row, const void *owner)
{
    return bbt_rest_token_json(x, res, row, owner);
}

int bbt_rest_tokens_list(bbt_rest_t *x, const bbt_rest_user_t *caller,
                         const bbt_rest_user_t *owner)
{
    const char *params[4];
    json_t *page;
    PGresult *res;
    long start, limit;
    int rc, with_policy;

    (void)caller;
    if (bbt_rest_page(x, &start, &limit, &rc) != 0) {
        return rc;
    }
    if (bbt_rest_arg_bool(x, "withPolicy", &with_policy) != 0) {
        return bbt_rest_error(x->r, HTTP_BAD_REQUEST, BBT_REST_EX_ARG,
                              "withPolicy is true or false");
    }
    params[0] = apr_ltoa(x->r->pool, limit + 1);
    params[1] = apr_ltoa(x->r->pool, start);
    if (owner) {
        params[2] = owner->id;
        res = bbt_rest_exec(x,
                            BBT_REST_COLS " WHERE t.user_id = $3 AND"
                                          " t.revoked_at IS NULL"
                                          " ORDER BY t.created_at DESC, t.id"
                                          " DESC LIMIT $1::integer"
                                          " OFFSET $2::integer",
                            3, params);
    } else {
        /* The slug spelled as = or IS NULL, not IS NOT DISTINCT FROM,
         * which no index serves: the partial unique indexes on a project's
         * and a repository's live names then find the holder's tokens,
         * instead of every project and repository token of the site. */
        params[2] = x->path.key;
        params[3] = bbt_rest_repo_param(x);
        res = bbt_rest_exec(x,
                            params[3] ? BBT_REST_SCOPE_LIST(" = $4")
                                      : BBT_REST_SCOPE_LIST(" IS NULL"),
                            params[3] ? 4 : 3, params);
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return bbt_rest_unavailable(x, "listing tokens");
    }
    page = bbt_rest_page_of(x, res, start, limit, bbt_rest_list_row, owner);
    if (page && with_policy) {
        bbt_rest_add_policy(x, page);
    }
    return bbt_rest_send(x->r, HTTP_OK, page);
}

int bbt_rest_tokens_get(bbt_rest_t *x, const bbt_rest_user_t *caller,
                        const bbt_rest_user_t *owner)
{
    json_t *out;

    (void)caller;
    if (bbt_rest_load_one(x, owner, x->path.id, &out) != 0) {
        return bbt_rest_unavailable(x, "reading a token");
    }
    if (!out) {
        return bbt_rest_error(x->r, HTTP_NOT_FOUND, BBT_REST_EX_NO_TOKEN,
                              apr_psprintf(x->r->pool,
                                           "No access token %s exists for "
                                           "%s.",
                                           x->path.id, bbt_rest_whose(x)));
    }
    return bbt_rest_send(x->r, HTTP_OK, out);
}

/* The "permissions" member as the pair a token of kind holds; NULL or the
 * reason. */
static const char *bbt_rest_perms(apr_pool_t *p, json_t *arr, bbt_kind_t kind,
                                  bbt_level_t *project, bbt_level_t *repo)
{
    bbt_perm_t list[BBT_REST_MAX_PERMS];
    const char *why = NULL;
    size_t i, n;
    json_t *v;
    const char *s;
    size_t q;

    if (!json_is_array(arr)) {
        return "permissions must be a list of permission names";
    }
    n = json_array_size(arr);
    if (n == 0) {
        return "at least one permission is required";
    }
    if (n > BBT_REST_MAX_PERMS) {
        return "invalid permissions: too many";
    }
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v)) {
            return "permissions must be a list of permission names";
        }
        s = json_string_value(v);
        if (strlen(s) != json_string_length(v) ||
            bbt_perm_parse(s, &list[i]) != 0) {
            /* Cut between characters, never inside one: the envelope
             * holds UTF-8 alone. */
            q = strlen(s);
            if (q > BBT_REST_PERM_QUOTE) {
                q = BBT_REST_PERM_QUOTE;
                while (q && ((unsigned char)s[q] & 0xc0) == 0x80) {
                    q--;
                }
            }
            return apr_psprintf(
                p, "unknown permission %.*s: expected " BBT_PERM_NAMES, (int)q,
                s);
        }
    }
    if (bbt_kind_perms_from_list(kind, list, n, project, repo, &why) != 0) {
        return apr_psprintf(p, "invalid permissions: %s",
                            why ? why : "refused");
    }
    return NULL;
}

/* The body's allowedAddresses (an array of networks, at most BBT_NETS_MAX;
 * null or [] for none) as one parameter into *out: the networks
 * space-separated, "" for none, NULL when the member is absent.  Each must
 * be a network httpd can match (bbt_input_net_problem); the database's
 * cidr type judges the rest.  An error message, or NULL. */
static const char *bbt_rest_nets(apr_pool_t *p, const json_t *body,
                                 const char **out)
{
    const json_t *v = json_object_get(body, "allowedAddresses"), *e;
    const char *why;
    char *buf, *at;
    size_t i, len;

    *out = NULL;
    if (!v) {
        return NULL;
    }
    if (json_is_null(v)) {
        *out = "";
        return NULL;
    }
    if (!json_is_array(v) || json_array_size(v) > BBT_NETS_MAX) {
        return apr_psprintf(p,
                            "allowedAddresses must be a list of at most %d "
                            "networks",
                            BBT_NETS_MAX);
    }
    at = buf = apr_palloc(p, BBT_NETS_TEXT_MAX + 1);
    *at = '\0';
    json_array_foreach(v, i, e)
    {
        len = json_is_string(e) ? json_string_length(e) : 0;
        /* Not a string, or one with a NUL: as nothing, which is no
         * network. */
        why = bbt_input_net_problem(json_is_string(e) &&
                                            strlen(json_string_value(e)) == len
                                        ? json_string_value(e)
                                        : NULL,
                                    len);
        if (why) {
            return apr_psprintf(p, "allowedAddresses: item %d is %s",
                                (int)i + 1, why);
        }
        if (at != buf) {
            *at++ = ' ';
        }
        memcpy(at, json_string_value(e), len + 1);
        at += len;
    }
    *out = buf;
    return NULL;
}

/* Set token id's allow-list to nets (bbt_rest_nets) in the transaction:
 * 0; 1 if the database aborted it to let a concurrent change go on and
 * attempt may be followed by another; or -1 after answering the refusal
 * (the caller rolls back). */
static int bbt_rest_set_nets(bbt_rest_t *x, const bbt_rest_user_t *caller,
                             const bbt_rest_user_t *owner, const char *id,
                             const char *nets, int attempt, int *rc)
{
    const char *params[6] = {caller->name,
                             owner ? owner->name : NULL,
                             owner ? NULL : x->path.key,
                             owner ? NULL : bbt_rest_repo_param(x),
                             id,
                             nets};
    PGresult *res = bbt_rest_exec(x,
                                  "SELECT bbtoken_api_set_nets($1, $2, $3, $4,"
                                  " $5, $6)",
                                  6, params);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        if (bbt_rest_conflict(x, res, attempt,
                              "setting a token's allow-list")) {
            PQclear(res);
            return 1;
        }
        *rc = bbt_rest_refusal(x, res, NULL);
        if (*rc < 0) {
            *rc = bbt_rest_unavailable(x, "setting a token's allow-list");
        }
        return -1;
    }
    PQclear(res);
    return 0;
}

int bbt_rest_tokens_create(bbt_rest_t *x, const bbt_rest_user_t *caller,
                           const bbt_rest_user_t *owner)
{
    bbt_minted_t m;
    const char *params[11];
    const char *why, *days = NULL, *name = NULL, *nets = NULL;
    bbt_level_t project, repo;
    json_t *body = x->body, *v, *out = NULL;
    PGresult *res;
    bbt_rest_tries_t tries = {"creating a token", 0, 0, 0};
    bbt_rest_commit_t commit = {
        BBT_REST_WRITE_CREATE, m.id, NULL, NULL, NULL, NULL};
    int rc, o;

    v = json_object_get(body, "name");
    if (!v || json_is_null(v)) {
        why = "a token name is required";
    } else if (!json_is_string(v) ||
               strlen(json_string_value(v)) != json_string_length(v)) {
        why = "name must be a string";
    } else {
        why = bbt_input_token_name(json_string_value(v));
    }
    if (!why) {
        name = apr_pstrdup(x->r->pool, json_string_value(v));
        v = json_object_get(body, "permissions");
        why = !v || json_is_null(v)
                  ? "at least one permission is required"
                  : bbt_rest_perms(x->r->pool, v, bbt_rest_kind(x), &project,
                                   &repo);
    }
    if (!why && (v = json_object_get(body, "expiryDays")) && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > BBT_EXPIRY_DAYS_MAX) {
            why = apr_psprintf(x->r->pool,
                               "expiryDays must be a whole number from 1 to "
                               "%d",
                               BBT_EXPIRY_DAYS_MAX);
        } else {
            days = apr_ltoa(x->r->pool, (long)json_integer_value(v));
        }
    }
    if (!why) {
        why = bbt_rest_nets(x->r->pool, body, &nets);
    }
    if (why) {
        return bbt_rest_error(x->r, HTTP_BAD_REQUEST, BBT_REST_EX_ARG, why);
    }
    if (owner && strcasecmp(caller->name, owner->name) != 0) {
        return bbt_rest_error(x->r, HTTP_UNAUTHORIZED, BBT_REST_EX_AUTH,
                              "tokens can only be created by their owner");
    }
    /* bbtoken_api_create(caller, owner, ...), or
     * bbtoken_api_scope_create(caller, key, slug, ...): the same after. */
    o = owner ? 0 : 1;
    params[0] = caller->name;
    params[1] = owner ? owner->name : x->path.key;
    params[2] = bbt_rest_repo_param(x);
    params[2 + o] = m.id;
    params[3 + o] = name;
    /* NULL for a repository's token: no project level. */
    params[4 + o] = bbt_perm_name(BBT_SCOPE_PROJECT, project);
    params[5 + o] = bbt_perm_name(BBT_SCOPE_REPO, repo);
    params[6 + o] = m.salt;
    params[7 + o] = m.hash;
    params[8 + o] = days;
    /* The list goes into the INSERT: the created record carries it. */
    params[9 + o] = nets && *nets ? nets : NULL;
    memset(&m, 0, sizeof(m));
    /* bbt_rest_refusal bounds the tries: a taken id and an abort each by
     * its own count. */
    do {
        if (bbt_token_mint(&m) != 0) {
            rc = HTTP_INTERNAL_SERVER_ERROR;
            goto done;
        }
        if (bbt_rest_begin(x, caller->name) != 0) {
            rc = bbt_rest_unavailable(x, "starting a transaction");
            goto done;
        }
        res = owner ? bbt_rest_exec(x,
                                    "SELECT bbtoken_api_create($1, $2, $3, $4,"
                                    " $5, $6, $7, $8, $9::integer,"
                                    " $10)" BBT_XACT_ID,
                                    10, params)
                    : bbt_rest_exec(x,
                                    "SELECT bbtoken_api_scope_create($1, $2,"
                                    " $3, $4, $5, $6, $7, $8, $9,"
                                    " $10::integer, $11)" BBT_XACT_ID,
                                    11, params);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            rc = bbt_rest_refusal(x, res, &tries);
            bbt_rest_cmd(x, "ROLLBACK");
            if (tries.again) {
                continue;
            }
            if (rc < 0) {
                rc = bbt_rest_unavailable(x, "creating a token");
            }
            goto done;
        }
        bbt_rest_commit_xid(x, &commit, res);
        PQclear(res);
        if (bbt_rest_load_one(x, owner, m.id, &out) != 0 || !out) {
            json_decref(out);
            out = NULL;
            bbt_rest_cmd(x, "ROLLBACK");
            rc = bbt_rest_unavailable(x, "creating a token");
            goto done;
        }
        /* The secret is wiped only after the answer that shows it, made
         * from out, read in the transaction: a COMMIT whose answer was
         * lost but which the database says committed is answered so too. */
        if (bbt_rest_commit(x, &commit, &rc) != 0) {
            json_decref(out);
            out = NULL;
            goto done;
        }
    } while (!out);
    json_object_set_new(out, "token", json_string(m.token));
    if (owner) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, x->r,
                      "BBT201: access-tokens API: %s created token %s",
                      caller->name, m.id);
    } else {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, x->r,
                      "BBT210: access-tokens API: %s created token %s of %s",
                      caller->name, m.id, bbt_rest_whose(x));
    }
    rc = bbt_rest_send(x->r, HTTP_OK, out);
done:
    bbt_minted_wipe(&m);
    return rc;
}

/* The expiry an update asked for (days >= 0) against the token's own, as
 * its answer shows it: a client that sends back what it read (the token's
 * JSON, expiryDays and all) changes nothing by it; any other value would
 * change the expiry, which a token's never does. */
static int bbt_rest_expiry_kept(const json_t *token, json_int_t days)
{
    const json_t *v = json_object_get(token, "expiryDays");

    return days < 0 || (json_is_integer(v) && json_integer_value(v) == days);
}

/* The update's transaction, its statements params (and nets, when the
 * allow-list changes too): 0 and *out (the token's JSON, committed), 1 if
 * the database aborted it to let a concurrent change go on and it may run
 * again, or -1 and *rc answered. */
static int bbt_rest_update_once(bbt_rest_t *x, const bbt_rest_user_t *caller,
                                const bbt_rest_user_t *owner,
                                const char *const *params, const char *nets,
                                json_int_t days, int attempt, json_t **out,
                                int *rc)
{
    /* What the update asks, as the evidence of its COMMIT compares it: the
     * name and the permissions among params, after the owner or the place
     * (bbt_rest_tokens_update), and the allow-list. */
    int o = owner ? 0 : 1;
    const char *asked[4] = {params[3 + o], params[4 + o], params[5 + o], nets};
    bbt_rest_commit_t commit = {
        BBT_REST_WRITE_UPDATE, x->path.id, NULL, asked, NULL, NULL};
    PGresult *res;
    int got;

    *out = NULL;
    if (bbt_rest_begin(x, caller->name) != 0) {
        *rc = bbt_rest_unavailable(x, "starting a transaction");
        return -1;
    }
    res = owner ? bbt_rest_exec(x,
                                "SELECT bbtoken_api_update($1, $2, $3, $4, $5,"
                                " $6)" BBT_XACT_ID,
                                6, params)
                : bbt_rest_exec(x,
                                "SELECT bbtoken_api_scope_update($1, $2, $3,"
                                " $4, $5, $6, $7)" BBT_XACT_ID,
                                7, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        if (bbt_rest_conflict(x, res, attempt, "updating a token")) {
            PQclear(res);
            bbt_rest_cmd(x, "ROLLBACK");
            return 1;
        }
        *rc = bbt_rest_refusal(x, res, NULL);
        bbt_rest_cmd(x, "ROLLBACK");
        if (*rc < 0) {
            *rc = bbt_rest_unavailable(x, "updating a token");
        }
        return -1;
    }
    bbt_rest_commit_xid(x, &commit, res);
    PQclear(res);
    if (nets && (got = bbt_rest_set_nets(x, caller, owner, x->path.id, nets,
                                         attempt, rc)) != 0) {
        bbt_rest_cmd(x, "ROLLBACK");
        return got;
    }
    if (bbt_rest_load_one(x, owner, x->path.id, out) != 0 || !*out) {
        json_decref(*out);
        *out = NULL;
        bbt_rest_cmd(x, "ROLLBACK");
        *rc = bbt_rest_unavailable(x, "updating a token");
        return -1;
    }
    if (!bbt_rest_expiry_kept(*out, days)) {
        json_decref(*out);
        *out = NULL;
        bbt_rest_cmd(x, "ROLLBACK");
        *rc = bbt_rest_error(x->r, HTTP_BAD_REQUEST, BBT_REST_EX_ARG,
                             BBT_REST_EXPIRY_FIXED);
        return -1;
    }
    if (bbt_rest_commit(x, &commit, rc) != 0) {
        json_decref(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

int bbt_rest_tokens_update(bbt_rest_t *x, const bbt_rest_user_t *caller,
                           const bbt_rest_user_t *owner)
{
    /* bbtoken_api_update(caller, owner, id, name, project, repo), or
     * bbtoken_api_scope_update(caller, key, slug, id, name, project, repo). */
    const char *params[7] = {caller->name, owner ? owner->name : x->path.key,
                             bbt_rest_repo_param(x)};
    int o = owner ? 0 : 1;
    const char *why = NULL, *nets = NULL;
    bbt_level_t project, repo;
    json_t *body = x->body, *v, *out = NULL;
    json_int_t days = -1;
    int rc, attempt, got;

    if ((v = json_object_get(body, "name")) && !json_is_null(v)) {
        if (!json_is_string(v) ||
            strlen(json_string_value(v)) != json_string_length(v)) {
            why = "name must be a string";
        } else if (!(why = bbt_input_token_name(json_string_value(v)))) {
            params[3 + o] = apr_pstrdup(x->r->pool, json_string_value(v));
        }
    }
    if (!why && (v = json_object_get(body, "permissions")) &&
        !json_is_null(v) &&
        !(why = bbt_rest_perms(x->r->pool, v, bbt_rest_kind(x), &project,
                               &repo))) {
        params[4 + o] = bbt_perm_name(BBT_SCOPE_PROJECT, project);
        params[5 + o] = bbt_perm_name(BBT_SCOPE_REPO, repo);
    }
    params[2 + o] = x->path.id;
    if (!why && (v = json_object_get(body, "expiryDays")) && !json_is_null(v)) {
        /* Only the value the token already has passes, which the update's
         * own transaction reads (bbt_rest_expiry_kept). */
        if (json_is_integer(v) && json_integer_value(v) >= 1 &&
            json_integer_value(v) <= BBT_EXPIRY_DAYS_MAX) {
            days = json_integer_value(v);
        } else {
            why = BBT_REST_EXPIRY_FIXED;
        }
    }
    if (!why) {
        why = bbt_rest_nets(x->r->pool, body, &nets);
    }
    if (why) {
        return bbt_rest_error(x->r, HTTP_BAD_REQUEST, BBT_REST_EX_ARG, why);
    }
    for (attempt = 0;; attempt++) {
        got = bbt_rest_update_once(x, caller, owner, params, nets, days,
                                   attempt, &out, &rc);
        if (got == 0) {
            break;
        }
        if (got < 0) {
            return rc;
        }
    }
    /* This server sees its own change at once; the others when
     * PostgreSQL tells them. */
    bbt_cache_forget_token(x->path.id);
    return bbt_rest_send(x->r, HTTP_OK, out);
}

int bbt_rest_tokens_revoke(bbt_rest_t *x, const bbt_rest_user_t *caller,
                           const bbt_rest_user_t *owner)
{
    const char *params[4] = {caller->name, owner ? owner->name : x->path.key,
                             owner ? x->path.id : bbt_rest_repo_param(x),
                             x->path.id};
    bbt_rest_commit_t commit = {
        BBT_REST_WRITE_REVOKE, x->path.id, NULL, NULL, NULL, NULL};
    PGresult *res;
    int rc, attempt;

    for (attempt = 0;; attempt++) {
        if (bbt_rest_begin(x, caller->name) != 0) {
            return bbt_rest_unavailable(x, "starting a transaction");
        }
        res = owner ? bbt_rest_exec(x,
                                    "SELECT bbtoken_api_revoke($1, $2,"
                                    " $3)" BBT_XACT_ID,
                                    3, params)
                    : bbt_rest_exec(x,
                                    "SELECT bbtoken_api_scope_revoke($1, $2,"
                                    " $3, $4)" BBT_XACT_ID,
                                    4, params);
        if (PQresultStatus(res) == PGRES_TUPLES_OK) {
            break;
        }
        if (bbt_rest_conflict(x, res, attempt, "revoking a token")) {
            PQclear(res);
            bbt_rest_cmd(x, "ROLLBACK");
            continue;
        }
        rc = bbt_rest_refusal(x, res, NULL);
        bbt_rest_cmd(x, "ROLLBACK");
        return rc < 0 ? bbt_rest_unavailable(x, "revoking a token") : rc;
    }
    bbt_rest_commit_xid(x, &commit, res);
    PQclear(res);
    if (bbt_rest_commit(x, &commit, &rc) != 0) {
        return rc;
    }
    bbt_cache_forget_token(x->path.id);
    if (owner) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, x->r,
                      "BBT202: access-tokens API: %s revoked token %s",
                      caller->name, x->path.id);
    } else {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, x->r,
                      "BBT211: access-tokens API: %s revoked token %s of %s",
                      caller->name, x->path.id, bbt_rest_whose(x));
    }
    /* No body, but the headers of every answer of the handler's. */
    apr_table_setn(x->r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(x->r->headers_out, "X-Content-Type-Options", "nosniff");
    bbt_rest_no_ranges(x->r);
    x->r->status = HTTP_NO_CONTENT;
    return OK;
}
