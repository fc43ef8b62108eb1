/*
 * The access-tokens REST API's handler: /rest/access-tokens/{1.0|latest}/
 * users/{slug}[/{tokenId}] and projects/{key}[/repos/{slug}][/{tokenId}],
 * with Bitbucket Data Center's shapes, and our .../{tokenId}/rotate,
 * .../inventory and .../places.
 *
 * The caller is r->user, authenticated by any authn provider; a request
 * authenticated with a token is refused.  The handler decides what may be
 * asked (path, method, the cross-site check, who may manage whose tokens)
 * and hands the rest to an endpoint of bbt_rest_tokens.c through the
 * dispatch table below (owner NULL: a project's or a repository's
 * tokens).  The database checks who may manage whose tokens again, in the
 * functions the changes go through.
 *
 * One path asks for no login: .../revoke-by-value, where anyone may report
 * leaked tokens (bbt_rest_leaked.c).
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"

#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "bbt_cred.h"
#include "bbt_db.h"
#include "bbt_request.h"
#include "bbt_rest.h"
#include "bbt_rest_args.h"
#include "bbt_rest_db.h"
#include "bbt_rest_inventory.h"
#include "bbt_rest_json.h"
#include "bbt_rest_leaked.h"
#include "bbt_rest_places.h"
#include "bbt_rest_req.h"
#include "bbt_rest_rotate.h"
#include "bbt_rest_tokens.h"

APLOG_USE_MODULE(bbtoken);

typedef int (*bbt_rest_endpoint_t)(bbt_rest_t *x, const bbt_rest_user_t *caller,
                                   const bbt_rest_user_t *owner);

/* What each kind of path answers to, in the order Allow lists it, and
 * whether the endpoint reads a JSON body. */
static const struct {
    bbt_rest_shape_t shape;
    int method;       /* M_GET... */
    const char *name; /* for Allow */
    bbt_rest_endpoint_t endpoint;
    int body; /* 1: a JSON object, 2: a JSON array */
} bbt_rest_routes[] = {
    {BBT_REST_USER, M_GET, "GET", bbt_rest_tokens_list, 0},
    {BBT_REST_USER, M_PUT, "PUT", bbt_rest_tokens_create, 1},
    {BBT_REST_TOKEN, M_GET, "GET", bbt_rest_tokens_get, 0},
    {BBT_REST_TOKEN, M_POST, "POST", bbt_rest_tokens_update, 1},
    {BBT_REST_TOKEN, M_DELETE, "DELETE", bbt_rest_tokens_revoke, 0},
    {BBT_REST_SCOPE, M_GET, "GET", bbt_rest_tokens_list, 0},
    {BBT_REST_SCOPE, M_PUT, "PUT", bbt_rest_tokens_create, 1},
    {BBT_REST_SCOPE_TOKEN, M_GET, "GET", bbt_rest_tokens_get, 0},
    {BBT_REST_SCOPE_TOKEN, M_POST, "POST", bbt_rest_tokens_update, 1},
    {BBT_REST_SCOPE_TOKEN, M_DELETE, "DELETE", bbt_rest_tokens_revoke, 0},
    {BBT_REST_LEAKED, M_POST, "POST", bbt_rest_leaked_revoke, 2},
    {BBT_REST_ALL, M_GET, "GET", bbt_rest_inventory_list, 0},
    {BBT_REST_ROTATE, M_POST, "POST", bbt_rest_rotate, 0},
    {BBT_REST_SCOPE_ROTATE, M_POST, "POST", bbt_rest_rotate, 0},
    {BBT_REST_PLACES, M_GET, "GET", bbt_rest_places_list, 0},
};

#define BBT_REST_NROUTES (sizeof(bbt_rest_routes) / sizeof(bbt_rest_routes[0]))

/* The Allow header for shape: its methods in the table's order, HEAD
 * beside GET (httpd answers a HEAD wherever it answers the GET, and its
 * own Allow names both); "" where the path is none of the API's, whose
 * every method is 404. */
static const char *bbt_rest_allow_of(apr_pool_t *p, bbt_rest_shape_t shape)
{
    const char *allow = NULL, *name;
    size_t i;

    for (i = 0; i < BBT_REST_NROUTES; i++) {
        if (bbt_rest_routes[i].shape != shape) {
            continue;
        }
        name = bbt_rest_routes[i].method == M_GET ? "GET, HEAD"
                                                  : bbt_rest_routes[i].name;
        allow = allow ? apr_pstrcat(p, allow, ", ", name, NULL) : name;
    }
    return allow ? allow : "";
}

const char *bbt_rest_allow(request_rec *r)
{
    bbt_rest_path_t path;

    return bbt_rest_allow_of(r->pool, bbt_rest_path_parse(r->uri, &path));
}

/* The endpoint for shape and the request's method, or NULL; sets
 * r->allowed and *allow (the Allow header) from the table, and *body. */
static bbt_rest_endpoint_t bbt_rest_route(request_rec *r,
                                          bbt_rest_shape_t shape,
                                          const char **allow, int *body)
{
    bbt_rest_endpoint_t found = NULL;
    size_t i;

    *allow = bbt_rest_allow_of(r->pool, shape);
    *body = 0;
    r->allowed = 0;
    for (i = 0; i < BBT_REST_NROUTES; i++) {
        if (bbt_rest_routes[i].shape != shape) {
            continue;
        }
        r->allowed |= AP_METHOD_BIT << bbt_rest_routes[i].method;
        if (bbt_rest_routes[i].method == r->method_number) {
            found = bbt_rest_routes[i].endpoint;
            *body = bbt_rest_routes[i].body;
        }
    }
    return found;
}

/* 1 if the Authorization header carries a token, whether or not it is
 * what authenticated the request.  Belt and braces beside
 * bbt_request_used_token. */
static int bbt_rest_header_token(request_rec *r)
{
    const char *h = bbt_request_authorization(r);
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

/* A state-changing request must come from this site: see README.  The
 * Host header as the client sent it, and not r->hostname: its port is the
 * one the browser's page names, which httpd's own URL, built with the
 * port it listens on, does not know behind a port mapping.  One of
 * BBT_REST_CSRF_*. */
static int bbt_rest_csrf(request_rec *r)
{
    const char *origin = apr_table_get(r->headers_in, "Origin");
    const char *referer = apr_table_get(r->headers_in, "Referer");

    return bbt_rest_csrf_ok(
        r->method, origin,
        origin || referer ? ap_construct_url(r->pool, "", r) : NULL,
        apr_table_get(r->headers_in, "Host"), ap_http_scheme(r),
        apr_table_get(r->headers_in, "Sec-Fetch-Site"),
        apr_table_get(r->headers_in, "X-Atlassian-Token"),
        apr_table_get(r->headers_in, "Content-Type"), referer);
}

/* At warn, as Bitbucket does, so that httpd's default LogLevel shows it:
 * the line is there to have the client fixed.  Only for a request with a
 * login: the handler calls it for no other. */
static void bbt_rest_nocheck_warn(request_rec *r)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  "BBT208: access-tokens API: X-Atlassian-Token: nocheck "
                  "is deprecated, accepted as no-check (user %s, %s %s): "
                  "the client should send no-check",
                  r->user, r->method, r->uri);
}

/* Who may manage a project's or a repository's tokens is the database's
 * to say (bbtoken_api_may: its admins, and a repository's when the
 * project lets them); the changes ask again. */
static int bbt_rest_dispatch_scope(bbt_rest_t *x, bbt_rest_endpoint_t endpoint,
                                   const bbt_rest_user_t *caller)
{
    const char *params[3] = {caller->name, x->path.key,
                             x->path.repo[0] ? x->path.repo : NULL};
    PGresult *res =
        bbt_rest_exec(x, "SELECT bbtoken_api_may($1, $2, $3)", 3, params);
    int rc;

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = bbt_rest_refusal(x, res, NULL);
        return rc < 0 ? bbt_rest_unavailable(x, "checking who may manage "
                                                "tokens")
                      : rc;
    }
    PQclear(res);
    return endpoint(x, caller, NULL);
}

/* Who may: the caller must be an active user, and the user the path's
 * slug names themself or a global admin.  Then the endpoint. */
static int bbt_rest_dispatch(bbt_rest_t *x, bbt_rest_endpoint_t endpoint)
{
    request_rec *r = x->r;
    const char *slug = x->path.slug;
    bbt_rest_user_t caller, owner;
    int found;

    if (bbt_rest_user(x, r->user, 1, &caller, &found) != 0) {
        return bbt_rest_unavailable(x, "looking up the caller");
    }
    if (!found || !caller.active) {
        return bbt_rest_error(r, HTTP_UNAUTHORIZED, BBT_REST_EX_AUTH,
                              "You are not permitted to manage access "
                              "tokens.");
    }
    if (x->path.key[0]) {
        return bbt_rest_dispatch_scope(x, endpoint, &caller);
    }
    /* Every user's tokens: global admins only, as for their changes. */
    if (x->path.shape == BBT_REST_ALL) {
        return caller.admin
                   ? endpoint(x, &caller, NULL)
                   : bbt_rest_error(r, HTTP_FORBIDDEN, BBT_REST_EX_AUTH,
                                    "Only global administrators may "
                                    "list every user's tokens.");
    }
    /* Every user has places of their own: the list is theirs to ask for. */
    if (x->path.shape == BBT_REST_PLACES) {
        return endpoint(x, &caller, NULL);
    }
    if (strcmp(caller.slug, slug) != 0 && !caller.admin) {
        return bbt_rest_error(r, HTTP_UNAUTHORIZED, BBT_REST_EX_AUTH,
                              apr_psprintf(r->pool,
                                           "You are not permitted to manage "
                                           "the access tokens of %s.",
                                           x->path.user));
    }
    if (bbt_rest_user(x, slug, 0, &owner, &found) != 0) {
        return bbt_rest_unavailable(x, "looking up the user");
    }
    if (!found) {
        return bbt_rest_error(
            r, HTTP_NOT_FOUND, BBT_REST_EX_NO_USER,
            apr_psprintf(r->pool, "User %s does not exist.", x->path.user));
    }
    return endpoint(x, &caller, &owner);
}

static int bbt_rest_handler(request_rec *r)
{
    bbt_rest_endpoint_t endpoint;
    const char *allow, *why;
    bbt_rest_t x;
    int rc, body, open, csrf;

    if (!r->handler || strcmp(r->handler, BBT_REST_HANDLER) != 0) {
        return DECLINED;
    }
    memset(&x, 0, sizeof(x));
    x.r = r;
    /* Reporting a leaked token needs no login: holding it is the proof. */
    open = bbt_rest_path_parse(r->uri, &x.path) == BBT_REST_LEAKED;
    /* Tokens cannot manage tokens: only a person's own login can. */
    if (!open && (bbt_request_used_token(r) || bbt_rest_header_token(r))) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "BBT207: access-tokens API: refused a request that "
                      "carries a token (user %s)",
                      r->user ? r->user : "-");
        return bbt_rest_error(r, HTTP_UNAUTHORIZED, BBT_REST_EX_AUTH,
                              "Access tokens cannot be used to manage access "
                              "tokens: log in with your password.");
    }
    /* Only a location that requires no login lets a request in without
     * one: a configuration mistake, but the answer is still a login's. */
    if (!r->user && !open) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "BBT206: access-tokens API: a request without a login: "
                      "the handler's location must require one");
        if (ap_auth_type(r)) {
            ap_note_auth_failure(r);
        }
        return bbt_rest_error(r, HTTP_UNAUTHORIZED, BBT_REST_EX_AUTH,
                              "Authentication is required: log in to manage "
                              "access tokens.");
    }
    if (x.path.shape == BBT_REST_NONE) {
        return bbt_rest_error(r, HTTP_NOT_FOUND, BBT_REST_EX_NOT_FOUND,
                              "No such resource.");
    }
    endpoint = bbt_rest_route(r, x.path.shape, &allow, &body);
    if (!endpoint || r->header_only) {
        apr_table_setn(r->headers_out, "Allow", allow);
        if (!endpoint) {
            return bbt_rest_error(r, HTTP_METHOD_NOT_ALLOWED,
                                  BBT_REST_EX_METHOD, "Method not allowed.");
        }
    }
    if (!(csrf = bbt_rest_csrf(r))) {
        return bbt_rest_error(r, HTTP_FORBIDDEN, BBT_REST_EX_XSRF,
                              "XSRF check failed: a change must come from "
                              "this site (no other Origin, Sec-Fetch-Site "
                              "or Referer), and a PUT or POST must send "
                              "Content-Type: application/json or "
                              "X-Atlassian-Token: no-check.");
    }
    /* Every endpoint's arguments by one rule, and a malformed query
     * refused before the body is read or a connection is taken. */
    if ((why = bbt_rest_args_read(r, &x.args))) {
        return bbt_rest_error(r, HTTP_BAD_REQUEST, BBT_REST_EX_ARG, why);
    }
    /* The whole body before a pooled connection: a client that sends it
     * slowly holds a worker, never one of the few connections every login
     * needs. */
    if (body && !(x.body = bbt_rest_json_body(r, body == 2, &rc))) {
        return rc;
    }
    /* Only now, past the checks of the request's own form (cross-site,
     * query, body), is nocheck known to be what lets a change through: a
     * route with a body has just required a JSON Content-Type, beside
     * which the cross-site check asks for no header, so only a change
     * without a body (a rotate) gets here by it.  Never where no login is
     * asked for: there a line per request would be a line per anonymous
     * request, before any throttle.  Every line names the logged-in user
     * who sent it. */
    if (csrf == BBT_REST_CSRF_NOCHECK && !open) {
        bbt_rest_nocheck_warn(r);
    }
    if (!(x.db = bbt_db_open(r))) {
        rc = bbt_rest_unavailable(&x, "connecting to the database");
        json_decref(x.body);
        return rc;
    }
    x.pg = bbt_db_native(x.db);
    bbt_rest_hold(r);
    if (PQstatus(x.pg) != CONNECTION_OK) {
        rc = bbt_rest_unavailable(&x, "connecting to the database");
    } else if (open) {
        rc = endpoint(&x, NULL, NULL);
    } else {
        rc = bbt_rest_dispatch(&x, endpoint);
    }
    if (PQtransactionStatus(x.pg) != PQTRANS_IDLE) {
        bbt_rest_cmd(&x, "ROLLBACK");
    }
    bbt_db_close(x.db);
    bbt_rest_release(r);
    json_decref(x.body);
    return rc;
}

void bbt_rest_register_hooks(apr_pool_t *p)
{
    (void)p;
    bbt_rest_json_register();
    ap_hook_handler(bbt_rest_handler, NULL, NULL, APR_HOOK_MIDDLE);
}
