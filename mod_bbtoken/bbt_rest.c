/*
 * The access-tokens REST API: /rest/access-tokens/{1.0|latest}/users/{slug}
 * and .../users/{slug}/{tokenId}, with Bitbucket Data Center's shapes.
 *
 * The caller is r->user, authenticated by any authn provider; a request
 * authenticated with a token is refused.  Reads are plain SELECTs; changes
 * go through the SECURITY DEFINER functions of sql/migrations/0003_rest.sql,
 * which check who may manage whose tokens, while the tokens table's own
 * CHECKs and triggers apply every other rule (the ones the CLI meets).
 * The raw token of a new token is in the response body only: never logged.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <libpq-fe.h>

#include "bbt_cred.h"
#include "bbt_db.h"
#include "bbt_input.h"
#include "bbt_perm.h"
#include "bbt_pgjson.h"
#include "bbt_request.h"
#include "bbt_rest.h"
#include "bbt_rest_req.h"
#include "bbt_sqlstate.h"
#include "bbt_token.h"

APLOG_USE_MODULE(bbtoken);

#define BBT_REST_HANDLER "bbtoken-rest"
#define BBT_REST_MAX_BODY (64 * 1024)
#define BBT_REST_MAX_PERMS 8

#define EX_AUTH "com.atlassian.bitbucket.AuthorisationException"
#define EX_ARG "com.atlassian.bitbucket.validation.ArgumentValidationException"
#define EX_NO_USER "com.atlassian.bitbucket.user.NoSuchUserException"
#define EX_NO_TOKEN "com.atlassian.bitbucket.auth.NoSuchAccessTokenException"
#define EX_NOT_FOUND "com.atlassian.bitbucket.rest.NotFoundException"
#define EX_METHOD "com.atlassian.bitbucket.rest.MethodNotAllowedException"
#define EX_MEDIA "com.atlassian.bitbucket.rest.UnsupportedMediaTypeException"
#define EX_XSRF "com.atlassian.bitbucket.rest.XsrfCheckFailedException"
#define EX_DB "com.atlassian.bitbucket.ServiceUnavailableException"
#define EX_TOO_LARGE "com.atlassian.bitbucket.rest.RequestTooLargeException"

typedef struct {
    request_rec *r;
    bbt_db_conn_t *db;
    PGconn *pg;
    const char *slug; /* the user in the path */
    const char *id;   /* the token id in the path, or NULL */
    bbt_rest_path_t path;
} bbt_rest_t;

/* The caller or the user of the path, from bbtoken_users. */
typedef struct {
    const char *id;
    const char *name;
    int active;
    int admin;
} bbt_rest_user_t;

/* Send json (stolen) with status. */
static int bbt_rest_send(request_rec *r, int status, json_t *json)
{
    char *out = json ? json_dumps(json, JSON_COMPACT) : NULL;

    json_decref(json);
    if (!out) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    r->status = status;
    ap_set_content_type(r, "application/json;charset=UTF-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    ap_rputs(out, r);
    free(out);
    return OK;
}

static int bbt_rest_error(request_rec *r, int status, const char *exception,
                          const char *message)
{
    json_t *e = json_pack("{s:[{s:n, s:s, s:s}]}", "errors", "context",
                          "message", message, "exceptionName", exception);

    if (status == HTTP_SERVICE_UNAVAILABLE) {
        apr_table_setn(r->headers_out, "Retry-After", BBT_RETRY_AFTER);
    }
    return bbt_rest_send(r, status, e);
}

static int bbt_rest_unavailable(bbt_rest_t *x, const char *what)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, x->r,
                  "access-tokens API: %s failed: %s", what,
                  x->pg ? PQerrorMessage(x->pg) : "no connection");
    return bbt_rest_error(x->r, HTTP_SERVICE_UNAVAILABLE, EX_DB,
                          "The token database is unavailable; try again "
                          "later.");
}

static PGresult *bbt_rest_exec(bbt_rest_t *x, const char *sql, int n,
                               const char *const *params)
{
    return PQexecParams(x->pg, sql, n, NULL, params, NULL, NULL, 0);
}

/* Run a statement that returns nothing of interest; 0 or -1. */
static int bbt_rest_cmd(bbt_rest_t *x, const char *sql)
{
    PGresult *res = PQexec(x->pg, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK ||
             PQresultStatus(res) == PGRES_TUPLES_OK;

    PQclear(res);
    return ok ? 0 : -1;
}

/* ---- authentication and CSRF ------------------------------------------ */

/* 1 if the request carries a token: Bearer, or a Basic password shaped
 * like a token.  Belt and braces beside bbt_request_used_token. */
static int bbt_rest_header_token(request_rec *r)
{
    const char *h = apr_table_get(r->headers_in, "Authorization");
    char *buf;
    bbt_cred_t cred;
    int is_token;

    if (!h) {
        return 0;
    }
    buf = apr_palloc(r->pool, BBT_CRED_MAX_HEADER + 1);
    bbt_cred_parse(h, buf, BBT_CRED_MAX_HEADER + 1, &cred);
    is_token = bbt_cred_carries_token(&cred);
    OPENSSL_cleanse(buf, BBT_CRED_MAX_HEADER + 1);
    return is_token;
}

/* A state-changing request must come from this site: see README. */
static int bbt_rest_csrf(request_rec *r)
{
    const char *origin = apr_table_get(r->headers_in, "Origin");

    return bbt_rest_csrf_ok(r->method, origin,
                            origin ? ap_construct_url(r->pool, "", r) : NULL,
                            apr_table_get(r->headers_in, "X-Atlassian-Token"),
                            apr_table_get(r->headers_in, "Content-Type"));
}

/* ---- reading ----------------------------------------------------------- */

/* Read the body into *out (NUL-terminated).  OK, or an HTTP status. */
static int bbt_rest_body(request_rec *r, char **out, apr_size_t *outlen)
{
    char *buf = apr_palloc(r->pool, BBT_REST_MAX_BODY + 1);
    apr_size_t len = 0;
    long n;
    int rc;

    if ((rc = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK)) != OK) {
        return rc;
    }
    if (ap_should_client_block(r)) {
        while ((n = ap_get_client_block(r, buf + len,
                                        BBT_REST_MAX_BODY + 1 - len)) > 0) {
            len += (apr_size_t)n;
            if (len > BBT_REST_MAX_BODY) {
                return HTTP_REQUEST_ENTITY_TOO_LARGE;
            }
        }
        if (n < 0) {
            return HTTP_BAD_REQUEST;
        }
    }
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return OK;
}

/* A user by name: exactly as given for the caller (a password file may
 * tell "Admin" from "admin", and only one of them is this user), regardless
 * of case for the user in the path (Bitbucket's slugs). */
static int bbt_rest_user(bbt_rest_t *x, const char *name, int exact,
                         bbt_rest_user_t *u, int *found)
{
    const char *params[1] = {name};
    PGresult *res = bbt_rest_exec(
        x,
        exact ? "SELECT id, name, active, is_admin FROM bbtoken_users"
                " WHERE name = $1"
              : "SELECT id, name, active, is_admin FROM bbtoken_users"
                " WHERE lower(name) = lower($1)",
        1, params);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return -1;
    }
    *found = PQntuples(res) == 1;
    if (*found) {
        u->id = apr_pstrdup(x->r->pool, PQgetvalue(res, 0, 0));
        u->name = apr_pstrdup(x->r->pool, PQgetvalue(res, 0, 1));
        u->active = PQgetvalue(res, 0, 2)[0] == 't';
        u->admin = PQgetvalue(res, 0, 3)[0] == 't';
    }
    PQclear(res);
    return 0;
}

/* The columns of a token, in this order. */
#define BBT_REST_COLS                                                          \
    "SELECT t.id, t.name,"                                                     \
    " (extract(epoch FROM t.created_at) * 1000)::bigint,"                      \
    " (extract(epoch FROM t.last_authenticated) * 1000)::bigint,"              \
    " round(extract(epoch FROM t.expires_at - t.created_at) / "                \
    "86400)::integer,"                                                         \
    " (extract(epoch FROM t.expires_at) * 1000)::bigint,"                      \
    " t.project_perm, t.repo_perm"                                             \
    " FROM bbtoken_tokens t"

static json_t *bbt_rest_user_json(const bbt_rest_user_t *u)
{
    char *slug = strdup(u->name);
    json_t *j;
    char *p;

    if (!slug) {
        return NULL;
    }
    for (p = slug; *p; p++) {
        if (*p >= 'A' && *p <= 'Z') {
            *p = (char)(*p - 'A' + 'a');
        }
    }
    j = json_pack("{s:s, s:s, s:I, s:s, s:n, s:b, s:s}", "name", u->name,
                  "slug", slug, "id", (json_int_t)strtoll(u->id, NULL, 10),
                  "displayName", u->name, "emailAddress", "active", u->active,
                  "type", "NORMAL");
    free(slug);
    return j;
}

/* Token JSON for a row of BBT_REST_COLS. */
static json_t *bbt_rest_token_json(const PGresult *res, int row,
                                   const bbt_rest_user_t *owner)
{
    /* "o" steals its reference even when json_pack fails. */
    return json_pack("{s:s, s:s, s:o, s:o*, s:o*, s:o*, s:[s,s], s:o}", "id",
                     PQgetvalue(res, row, 0), "name", PQgetvalue(res, row, 1),
                     "createdDate", bbt_pgjson_int(res, row, 2),
                     "lastAuthenticated", bbt_pgjson_int(res, row, 3),
                     "expiryDays", bbt_pgjson_int(res, row, 4), "expiryDate",
                     bbt_pgjson_int(res, row, 5), "permissions",
                     PQgetvalue(res, row, 6), PQgetvalue(res, row, 7), "user",
                     bbt_rest_user_json(owner));
}

/* One live token of owner as JSON; *json NULL if there is none. */
static int bbt_rest_load_one(bbt_rest_t *x, const bbt_rest_user_t *owner,
                             const char *id, json_t **json)
{
    const char *params[2] = {id, owner->id};
    PGresult *res = bbt_rest_exec(x,
                                  BBT_REST_COLS " WHERE t.id = $1 AND"
                                                " t.user_id = $2 AND"
                                                " t.revoked_at IS NULL",
                                  2, params);

    *json = NULL;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return -1;
    }
    if (PQntuples(res) == 1) {
        *json = bbt_rest_token_json(res, 0, owner);
    }
    PQclear(res);
    return 0;
}

/* ---- requests ---------------------------------------------------------- */

/* Our addition to the page envelope (clients that do not know it ignore
 * it): the expiry policy, so the page offers only expiries it allows.  Left
 * out if it cannot be read; the database enforces it either way. */
static void bbt_rest_add_policy(bbt_rest_t *x, json_t *page)
{
    PGresult *res = bbt_rest_exec(
        x, "SELECT expiry_required, max_expiry_days FROM bbtoken_policy", 0,
        NULL);

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        json_t *pol = json_object();

        json_object_set_new(pol, "expiryRequired",
                            json_boolean(PQgetvalue(res, 0, 0)[0] == 't'));
        json_t *max = bbt_pgjson_int(res, 0, 1);

        json_object_set_new(pol, "maxExpiryDays", max ? max : json_null());
        json_object_set_new(page, "policy", pol);
    }
    PQclear(res);
}

static int bbt_rest_list(bbt_rest_t *x, const bbt_rest_user_t *owner)
{
    const char *params[3];
    json_t *values, *page, *tok;
    PGresult *res;
    long start, limit;
    int i, n, last;

    if (bbt_rest_page_args(x->r->args, &start, &limit) != 0) {
        return bbt_rest_error(x->r, HTTP_BAD_REQUEST, EX_ARG,
                              "start and limit must be whole numbers");
    }
    params[0] = owner->id;
    params[1] = apr_ltoa(x->r->pool, limit + 1);
    params[2] = apr_ltoa(x->r->pool, start);
    res = bbt_rest_exec(x,
                        BBT_REST_COLS " WHERE t.user_id = $1 AND"
                                      " t.revoked_at IS NULL"
                                      " ORDER BY t.created_at DESC, t.id DESC"
                                      " LIMIT $2::integer OFFSET $3::integer",
                        3, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return bbt_rest_unavailable(x, "listing tokens");
    }
    n = PQntuples(res);
    last = n <= limit;
    if (!last) {
        n = (int)limit;
    }
    values = json_array();
    for (i = 0; values && i < n; i++) {
        tok = bbt_rest_token_json(res, i, owner);
        if (!tok || json_array_append_new(values, tok) != 0) {
            json_decref(values);
            values = NULL;
        }
    }
    PQclear(res);
    if (!values) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    page = json_pack("{s:i, s:I, s:I, s:b, s:o}", "size", n, "limit",
                     (json_int_t)limit, "start", (json_int_t)start,
                     "isLastPage", last, "values", values);
    if (page && !last) {
        json_object_set_new(page, "nextPageStart",
                            json_integer((json_int_t)(start + n)));
    }
    if (page) {
        bbt_rest_add_policy(x, page);
    }
    return bbt_rest_send(x->r, HTTP_OK, page);
}

/* The "permissions" member as a pair; NULL or the reason. */
static const char *bbt_rest_perms(apr_pool_t *p, json_t *arr,
                                  bbt_level_t *project, bbt_level_t *repo)
{
    bbt_perm_t list[BBT_REST_MAX_PERMS];
    const char *why = NULL;
    size_t i, n;
    json_t *v;

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
        if (strlen(json_string_value(v)) != json_string_length(v) ||
            bbt_perm_parse(json_string_value(v), &list[i]) != 0) {
            return apr_psprintf(
                p, "unknown permission %.64s: expected " BBT_PERM_NAMES,
                json_string_value(v));
        }
    }
    if (bbt_perm_from_list(list, n, project, repo, &why) != 0) {
        return apr_psprintf(p, "invalid permissions: %s",
                            why ? why : "refused");
    }
    return NULL;
}

/* The body as a JSON object; NULL after sending the error. */
static json_t *bbt_rest_json_body(bbt_rest_t *x, int *rc)
{
    json_error_t err;
    json_t *j;
    char *body;
    apr_size_t len;
    int st;

    *rc = OK;
    if (!bbt_rest_is_json(apr_table_get(x->r->headers_in, "Content-Type"))) {
        *rc = bbt_rest_error(x->r, HTTP_UNSUPPORTED_MEDIA_TYPE, EX_MEDIA,
                             "the request body must be application/json");
        return NULL;
    }
    if ((st = bbt_rest_body(x->r, &body, &len)) != OK) {
        *rc = st == HTTP_REQUEST_ENTITY_TOO_LARGE
                  ? bbt_rest_error(x->r, st, EX_TOO_LARGE,
                                   "the request body is too large")
                  : st;
        return NULL;
    }
    j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        *rc = bbt_rest_error(
            x->r, HTTP_BAD_REQUEST, EX_ARG,
            apr_psprintf(x->r->pool,
                         "the request body is not a JSON object%s%s",
                         j ? "" : ": ", j ? "" : err.text));
        return NULL;
    }
    return j;
}

/* Map a failed function call to a response (bbt_sql_classify), or -1 for
 * a server fault.  *retry set for a taken id, when the caller can retry. */
static int bbt_rest_db_refusal(bbt_rest_t *x, PGresult *res, int *retry)
{
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    bbt_sql_class_t cls =
        bbt_sql_classify(PQresultErrorField(res, PG_DIAG_SQLSTATE),
                         PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME), msg);
    int rc;

    msg = apr_pstrdup(x->r->pool, msg ? msg : "refused by the database");
    if (retry) {
        *retry = 0;
    }
    switch (cls) {
    case BBT_SQL_ID_TAKEN:
        if (retry) {
            *retry = 1;
            rc = OK;
        } else {
            rc = bbt_rest_error(x->r, HTTP_BAD_REQUEST, EX_ARG, msg);
        }
        break;
    case BBT_SQL_NOT_PERMITTED:
        rc = bbt_rest_error(x->r, HTTP_UNAUTHORIZED, EX_AUTH, msg);
        break;
    case BBT_SQL_NO_SUCH_USER:
        rc = bbt_rest_error(x->r, HTTP_NOT_FOUND, EX_NO_USER, msg);
        break;
    case BBT_SQL_NO_SUCH_TOKEN:
        rc = bbt_rest_error(x->r, HTTP_NOT_FOUND, EX_NO_TOKEN, msg);
        break;
    case BBT_SQL_NAME_TAKEN:
        rc = bbt_rest_error(x->r, HTTP_BAD_REQUEST, EX_ARG,
                            "a token with that name already exists");
        break;
    case BBT_SQL_POLICY:
    case BBT_SQL_REFUSED:
        /* The table's CHECKs and the policy trigger: a message for the
         * person who asked. */
        rc = bbt_rest_error(x->r, HTTP_BAD_REQUEST, EX_ARG, msg);
        break;
    default:
        rc = -1;
        break;
    }
    PQclear(res);
    return rc;
}

/* BEGIN and the audit's session settings. */
static int bbt_rest_begin(bbt_rest_t *x, const char *caller)
{
    const char *params[2] = {caller, x->r->useragent_ip};
    PGresult *res;
    int ok;

    if (bbt_rest_cmd(x, "BEGIN") != 0) {
        return -1;
    }
    res = bbt_rest_exec(x,
                        "SELECT set_config('bbtoken.source', 'http', true),"
                        " set_config('bbtoken.actor', $1, true),"
                        " set_config('bbtoken.client_addr', $2, true)",
                        2, params);
    ok = PQresultStatus(res) == PGRES_TUPLES_OK;
    PQclear(res);
    if (!ok) {
        bbt_rest_cmd(x, "ROLLBACK");
        return -1;
    }
    return 0;
}

static int bbt_rest_create(bbt_rest_t *x, const bbt_rest_user_t *caller,
                           const bbt_rest_user_t *owner)
{
    bbt_minted_t m;
    const char *params[9];
    const char *why, *days = NULL;
    bbt_level_t project, repo;
    json_t *body, *v, *out = NULL;
    PGresult *res;
    int rc, retry, attempt;

    if (!(body = bbt_rest_json_body(x, &rc))) {
        return rc;
    }
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
        params[3] = apr_pstrdup(x->r->pool, json_string_value(v));
        v = json_object_get(body, "permissions");
        why = !v || json_is_null(v)
                  ? "at least one permission is required"
                  : bbt_rest_perms(x->r->pool, v, &project, &repo);
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
    json_decref(body);
    if (why) {
        return bbt_rest_error(x->r, HTTP_BAD_REQUEST, EX_ARG, why);
    }
    if (strcasecmp(caller->name, owner->name) != 0) {
        return bbt_rest_error(x->r, HTTP_UNAUTHORIZED, EX_AUTH,
                              "tokens can only be created by their owner");
    }
    params[0] = caller->name;
    params[1] = owner->name;
    params[2] = m.id;
    params[4] = bbt_perm_name(BBT_SCOPE_PROJECT, project);
    params[5] = bbt_perm_name(BBT_SCOPE_REPO, repo);
    params[6] = m.salt;
    params[7] = m.hash;
    params[8] = days;
    memset(&m, 0, sizeof(m));
    for (attempt = 0; attempt < BBT_MINT_TRIES; attempt++) {
        if (bbt_token_mint(&m) != 0) {
            rc = HTTP_INTERNAL_SERVER_ERROR;
            goto done;
        }
        if (bbt_rest_begin(x, caller->name) != 0) {
            rc = bbt_rest_unavailable(x, "starting a transaction");
            goto done;
        }
        res = bbt_rest_exec(x,
                            "SELECT bbtoken_api_create($1, $2, $3, $4, $5, $6,"
                            " $7, $8, $9::integer)",
                            9, params);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            rc = bbt_rest_db_refusal(x, res, &retry);
            bbt_rest_cmd(x, "ROLLBACK");
            if (retry) {
                continue;
            }
            if (rc < 0) {
                rc = bbt_rest_unavailable(x, "creating a token");
            }
            goto done;
        }
        PQclear(res);
        if (bbt_rest_load_one(x, owner, m.id, &out) != 0 || !out ||
            bbt_rest_cmd(x, "COMMIT") != 0) {
            json_decref(out);
            out = NULL;
            bbt_rest_cmd(x, "ROLLBACK");
            rc = bbt_rest_unavailable(x, "creating a token");
            goto done;
        }
        break;
    }
    if (!out) {
        rc = bbt_rest_unavailable(x, "finding a free token id");
        goto done;
    }
    json_object_set_new(out, "token", json_string(m.token));
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, x->r,
                  "access-tokens API: %s created token %s", caller->name, m.id);
    rc = bbt_rest_send(x->r, HTTP_OK, out);
done:
    bbt_minted_wipe(&m);
    return rc;
}

static int bbt_rest_update(bbt_rest_t *x, const bbt_rest_user_t *caller,
                           const bbt_rest_user_t *owner)
{
    const char *params[6] = {caller->name, owner->name, x->id,
                             NULL,         NULL,        NULL};
    const char *why = NULL;
    bbt_level_t project, repo;
    json_t *body, *v, *out = NULL;
    PGresult *res;
    int rc;

    if (!(body = bbt_rest_json_body(x, &rc))) {
        return rc;
    }
    if ((v = json_object_get(body, "name")) && !json_is_null(v)) {
        if (!json_is_string(v) ||
            strlen(json_string_value(v)) != json_string_length(v)) {
            why = "name must be a string";
        } else if (!(why = bbt_input_token_name(json_string_value(v)))) {
            params[3] = apr_pstrdup(x->r->pool, json_string_value(v));
        }
    }
    if (!why && (v = json_object_get(body, "permissions")) &&
        !json_is_null(v) &&
        !(why = bbt_rest_perms(x->r->pool, v, &project, &repo))) {
        params[4] = bbt_perm_name(BBT_SCOPE_PROJECT, project);
        params[5] = bbt_perm_name(BBT_SCOPE_REPO, repo);
    }
    if (!why && (v = json_object_get(body, "expiryDays")) && !json_is_null(v)) {
        why = "the expiry of a token cannot be changed: create a new token "
              "(and revoke this one)";
    }
    json_decref(body);
    if (why) {
        return bbt_rest_error(x->r, HTTP_BAD_REQUEST, EX_ARG, why);
    }
    if (bbt_rest_begin(x, caller->name) != 0) {
        return bbt_rest_unavailable(x, "starting a transaction");
    }
    res = bbt_rest_exec(x, "SELECT bbtoken_api_update($1, $2, $3, $4, $5, $6)",
                        6, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = bbt_rest_db_refusal(x, res, NULL);
        bbt_rest_cmd(x, "ROLLBACK");
        return rc < 0 ? bbt_rest_unavailable(x, "updating a token") : rc;
    }
    PQclear(res);
    if (bbt_rest_load_one(x, owner, x->id, &out) != 0 || !out ||
        bbt_rest_cmd(x, "COMMIT") != 0) {
        json_decref(out);
        bbt_rest_cmd(x, "ROLLBACK");
        return bbt_rest_unavailable(x, "updating a token");
    }
    return bbt_rest_send(x->r, HTTP_OK, out);
}

static int bbt_rest_revoke(bbt_rest_t *x, const bbt_rest_user_t *caller,
                           const bbt_rest_user_t *owner)
{
    const char *params[3] = {caller->name, owner->name, x->id};
    PGresult *res;
    int rc;

    if (bbt_rest_begin(x, caller->name) != 0) {
        return bbt_rest_unavailable(x, "starting a transaction");
    }
    res = bbt_rest_exec(x, "SELECT bbtoken_api_revoke($1, $2, $3)", 3, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = bbt_rest_db_refusal(x, res, NULL);
        bbt_rest_cmd(x, "ROLLBACK");
        return rc < 0 ? bbt_rest_unavailable(x, "revoking a token") : rc;
    }
    PQclear(res);
    if (bbt_rest_cmd(x, "COMMIT") != 0) {
        bbt_rest_cmd(x, "ROLLBACK");
        return bbt_rest_unavailable(x, "revoking a token");
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, x->r,
                  "access-tokens API: %s revoked token %s", caller->name,
                  x->id);
    x->r->status = HTTP_NO_CONTENT;
    return OK;
}

static int bbt_rest_dispatch(bbt_rest_t *x)
{
    request_rec *r = x->r;
    bbt_rest_user_t caller, owner;
    json_t *out;
    int found;

    if (bbt_rest_user(x, r->user, 1, &caller, &found) != 0) {
        return bbt_rest_unavailable(x, "looking up the caller");
    }
    if (!found || !caller.active) {
        return bbt_rest_error(r, HTTP_UNAUTHORIZED, EX_AUTH,
                              "You are not permitted to manage access "
                              "tokens.");
    }
    if (strcasecmp(caller.name, x->slug) != 0 && !caller.admin) {
        return bbt_rest_error(r, HTTP_UNAUTHORIZED, EX_AUTH,
                              apr_psprintf(r->pool,
                                           "You are not permitted to manage "
                                           "the access tokens of %s.",
                                           x->slug));
    }
    if (bbt_rest_user(x, x->slug, 0, &owner, &found) != 0) {
        return bbt_rest_unavailable(x, "looking up the user");
    }
    if (!found) {
        return bbt_rest_error(
            r, HTTP_NOT_FOUND, EX_NO_USER,
            apr_psprintf(r->pool, "User %s does not exist.", x->slug));
    }
    if (!x->id) {
        if (r->method_number == M_GET) {
            return bbt_rest_list(x, &owner);
        }
        return bbt_rest_create(x, &caller, &owner);
    }
    if (r->method_number == M_POST) {
        return bbt_rest_update(x, &caller, &owner);
    }
    if (r->method_number == M_DELETE) {
        return bbt_rest_revoke(x, &caller, &owner);
    }
    if (bbt_rest_load_one(x, &owner, x->id, &out) != 0) {
        return bbt_rest_unavailable(x, "reading a token");
    }
    if (!out) {
        return bbt_rest_error(r, HTTP_NOT_FOUND, EX_NO_TOKEN,
                              apr_psprintf(r->pool,
                                           "No access token %s exists for "
                                           "%s.",
                                           x->id, x->slug));
    }
    return bbt_rest_send(r, HTTP_OK, out);
}

static int bbt_rest_handler(request_rec *r)
{
    bbt_rest_t x;
    int rc, m;

    if (!r->handler || strcmp(r->handler, BBT_REST_HANDLER) != 0) {
        return DECLINED;
    }
    memset(&x, 0, sizeof(x));
    x.r = r;
    /* Tokens cannot manage tokens: only a person's own login can. */
    if (!r->user || bbt_request_used_token(r) || bbt_rest_header_token(r)) {
        return bbt_rest_error(r, HTTP_UNAUTHORIZED, EX_AUTH,
                              "Access tokens cannot be used to manage access "
                              "tokens: log in with your password.");
    }
    if (bbt_rest_path_parse(r->uri, &x.path) == BBT_REST_NONE) {
        return bbt_rest_error(r, HTTP_NOT_FOUND, EX_NOT_FOUND,
                              "No such resource.");
    }
    x.slug = x.path.slug;
    x.id = x.path.shape == BBT_REST_TOKEN ? x.path.id : NULL;
    m = r->method_number;
    r->allowed = x.id ? (AP_METHOD_BIT << M_GET) | (AP_METHOD_BIT << M_POST) |
                            (AP_METHOD_BIT << M_DELETE)
                      : (AP_METHOD_BIT << M_GET) | (AP_METHOD_BIT << M_PUT);
    if (!(r->allowed & (AP_METHOD_BIT << m)) || r->header_only) {
        apr_table_setn(r->headers_out, "Allow",
                       x.id ? "GET, POST, DELETE" : "GET, PUT");
        if (!r->header_only) {
            return bbt_rest_error(r, HTTP_METHOD_NOT_ALLOWED, EX_METHOD,
                                  "Method not allowed.");
        }
    }
    if (!bbt_rest_csrf(r)) {
        return bbt_rest_error(r, HTTP_FORBIDDEN, EX_XSRF,
                              "XSRF check failed: send Content-Type: "
                              "application/json or X-Atlassian-Token: "
                              "no-check, from this site.");
    }
    if (!(x.db = bbt_db_open(r->pool, r->server))) {
        return bbt_rest_unavailable(&x, "connecting to the database");
    }
    x.pg = bbt_db_native(x.db);
    if (PQstatus(x.pg) != CONNECTION_OK) {
        rc = bbt_rest_unavailable(&x, "connecting to the database");
    } else {
        rc = bbt_rest_dispatch(&x);
    }
    if (PQtransactionStatus(x.pg) != PQTRANS_IDLE) {
        bbt_rest_cmd(&x, "ROLLBACK");
    }
    bbt_db_close(x.db);
    return rc;
}

void bbt_rest_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_handler(bbt_rest_handler, NULL, NULL, APR_HOOK_MIDDLE);
}
