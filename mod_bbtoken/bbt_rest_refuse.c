/*
 * Early refusals in JSON (bbt_rest_refuse.h): on the access-tokens REST
 * API's location, and on a request the bitbucket-rest route set decides.
 *
 * API clients read Bitbucket's envelope for every error, those of its
 * login included, and so do the clients of Bitbucket's own REST API
 * behind a location of the bitbucket-rest set; git, WebDAV and svn
 * clients expect httpd's page, so only those two change.  httpd writes
 * the answer itself (ap_die, ap_send_error_response): a custom response
 * given at the refusal becomes its body (an ErrorDocument for the status
 * is then not used), and since httpd then forces text/html, a filter put
 * in by the insert_error_filter hook sets the JSON media type back before
 * the headers go out.  Status, challenge, Retry-After and every other
 * header stay httpd's, but a 405's Allow, which is the handler's.
 *
 * The body is a fixed message per status: nothing from the request (a
 * user name, a token) is in it, and it never tells whether a user exists.
 * A route set's 403 says what the verified token lacks, in the words
 * httpd's page gave it.  Should the JSON not be made, the request is
 * refused all the same, with httpd's page.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_protocol.h"
#include "util_filter.h"
#include "ap_expr.h"
#include "apr_strings.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bbt_config.h"
#include "bbt_rest.h"
#include "bbt_rest_json.h"
#include "bbt_rest_refuse.h"
#include "bbt_rmemo.h"

/* The mark: the refused status, whose custom response is the envelope. */
#define BBT_REST_REFUSE_NOTE "bbtoken-rest-refused"

/* A 405's Allow, the handler's for the path: httpd's error response
 * replaces the one in headers_out with its own, after the error filter
 * is put in. */
#define BBT_REST_REFUSE_ALLOW "bbtoken-rest-allow"

/* The refusal is the API's location's, whose answers have no ranges.
 * Kept as a note: the filter may run when r->per_dir_config no longer
 * says so (a TRACE is refused in map_to_storage). */
#define BBT_REST_REFUSE_API "bbtoken-rest-refused-api"

/* The built-in route set whose clients read the envelope. */
#define BBT_REST_REFUSE_SET "bitbucket-rest"

static ap_filter_rec_t *bbt_rest_refuse_filter_handle;

/* Where a refusal is answered in the envelope. */
typedef enum {
    BBT_REFUSE_PAGE = 0, /* httpd's page */
    BBT_REFUSE_API,      /* the access-tokens API's location */
    BBT_REFUSE_ROUTES    /* a request of the bitbucket-rest set */
} bbt_refuse_where_t;

/* Whether the request's handler will be bbtoken-rest.  Core sets
 * r->handler from SetHandler only in the fixups, after authentication,
 * so until then it is read from the location's configuration the same
 * way; a handler something else set already wins, as it would. */
static int bbt_rest_refuse_handler(request_rec *r)
{
    core_dir_config *d = ap_get_core_module_config(r->per_dir_config);
    const char *h = r->handler, *err = NULL;

    if (!h && d->expr_handler) {
        h = ap_expr_str_exec(r, d->expr_handler, &err);
    } else if (!h) {
        h = d->handler;
    }
    /* The handler's own test (bbt_rest.c), so a refusal is told in JSON
     * exactly where the handler would have answered. */
    return h && !err && strcmp(h, BBT_REST_HANDLER) == 0;
}

/* Whether the request is the bitbucket-rest set's: the built-in set of the
 * route that decides it, its body unread (a deny route too); where no
 * route of a built-in set does (none matches, or a route file's or a
 * BBTokenRoute line's), the section's, when bitbucket-rest is the only
 * built-in set among its routes.  So a section holding git and
 * bitbucket-rest answers each request as its own set's clients read,
 * and one that a request reaches before it is routed (a method override
 * is refused first) answers it as routing will.  Thread memory keeps the
 * match routing made for the same request (bbt_rmemo.h). */
static int bbt_rest_refuse_routes(request_rec *r)
{
    const bbt_dir_conf_t *conf = bbt_config_dir(r);
    const char *set;
    bbt_match_t m;

    if (!conf || !conf->rules) {
        return 0;
    }
    /* One set, or none: every request of the section is answered alike,
     * with no match made (a git client's first request is a 401). */
    if (!bbt_rules_builtin_mixed(conf->rules)) {
        set = bbt_rules_builtin_only(conf->rules);
        return set && strcmp(set, BBT_REST_REFUSE_SET) == 0;
    }
    bbt_rmemo_match(conf->rules, r->method, r->uri, r->args, 0, &m);
    set = bbt_rule_builtin(m.rule);
    return set && strcmp(set, BBT_REST_REFUSE_SET) == 0;
}

/* Where a refusal is answered, decided here alone.  A sub-request's
 * refusal is never sent. */
static bbt_refuse_where_t bbt_rest_refuse_here(request_rec *r)
{
    if (r->main) {
        return BBT_REFUSE_PAGE;
    }
    if (bbt_rest_refuse_handler(r)) {
        return BBT_REFUSE_API;
    }
    return bbt_rest_refuse_routes(r) ? BBT_REFUSE_ROUTES : BBT_REFUSE_PAGE;
}

int bbt_rest_refuse(request_rec *r, int status)
{
    const char *exception, *message, *notes;
    bbt_refuse_where_t where;
    json_t *e;
    char *out;

    switch (status) {
    case HTTP_UNAUTHORIZED:
        exception = BBT_REST_EX_AUTH;
        message = "Authentication failed. Please check your credentials and "
                  "try again.";
        break;
    case HTTP_FORBIDDEN:
        /* Only a token is refused here (a password's 403 comes from the
         * handler, or from Require): its message depends on where. */
        exception = BBT_REST_EX_AUTH;
        message = NULL;
        break;
    case HTTP_TOO_MANY_REQUESTS:
        exception = BBT_REST_EX_RATE;
        message = "Too many failed logins from your address: try again "
                  "after the time Retry-After gives.";
        break;
    case HTTP_BAD_REQUEST:
        /* What was wrong with it stays in the error log: a fixed message
         * echoes nothing of the header. */
        exception = BBT_REST_EX_ARG;
        if (apr_table_get(r->notes, BBT_REST_REFUSE_OVERRIDE)) {
            message = "A method override must name the request's own "
                      "method.";
        } else if (apr_table_get(r->notes, BBT_REST_REFUSE_HEADER)) {
            message = "The Authorization header is malformed.";
        } else if (apr_table_get(r->notes, BBT_REST_REFUSE_BODY)) {
            message = "The request body could not be read as this request "
                      "needs.";
        } else {
            return status;
        }
        break;
    case HTTP_REQUEST_ENTITY_TOO_LARGE:
        /* Only a body a route reads is refused here for its size: the
         * handler answers its own. */
        if (!apr_table_get(r->notes, BBT_REST_REFUSE_BODY)) {
            return status;
        }
        exception = BBT_REST_EX_TOO_LARGE;
        message = "The request body is too large.";
        break;
    case HTTP_UNSUPPORTED_MEDIA_TYPE:
        if (!apr_table_get(r->notes, BBT_REST_REFUSE_BODY)) {
            return status;
        }
        exception = BBT_REST_EX_MEDIA;
        message = "The request body must be JSON (Content-Type: "
                  "application/json), UTF-8, with no Content-Encoding.";
        break;
    case HTTP_SERVICE_UNAVAILABLE:
        exception = BBT_REST_EX_DB;
        message = BBT_REST_MSG_DB;
        break;
    case HTTP_METHOD_NOT_ALLOWED:
        /* TRACE, refused before authentication (bbt_routing.c): on the
         * API's location only, with the Allow its handler gives the path
         * (which the path alone decides, never who asks).  Behind the
         * bitbucket-rest set, which methods Bitbucket's resource takes is
         * not the module's to say: httpd's page, as before. */
        if (r->main || !bbt_rest_refuse_handler(r)) {
            return status;
        }
        exception = BBT_REST_EX_METHOD;
        message = "Method not allowed.";
        apr_table_setn(r->notes, BBT_REST_REFUSE_ALLOW, bbt_rest_allow(r));
        break;
    default:
        return status;
    }
    if ((where = bbt_rest_refuse_here(r)) == BBT_REFUSE_PAGE) {
        return status;
    }
    if (!message && where == BBT_REFUSE_API) {
        message = "Access tokens cannot be used to manage access tokens: "
                  "log in with your password.";
    } else if (!message) {
        /* The gate's words (bbt_authz.c), which httpd's page gave: what
         * the verified token lacks, naming nothing the request did not. */
        notes = apr_table_get(r->notes, "error-notes");
        message = notes ? notes
                        : "This access token is not permitted to make this "
                          "request.";
    }
    e = bbt_rest_envelope(exception, message);
    out = e ? json_dumps(e, JSON_COMPACT) : NULL;
    json_decref(e);
    if (out) {
        /* It starts with '{': httpd takes it for text to send, not for a
         * URL to redirect to, and copies it. */
        ap_custom_response(r, status, out);
        free(out);
        apr_table_setn(r->notes, BBT_REST_REFUSE_NOTE,
                       apr_itoa(r->pool, status));
        if (where == BBT_REFUSE_API) {
            apr_table_setn(r->notes, BBT_REST_REFUSE_API, "1");
        }
    }
    return status;
}

/* Runs once, on the first brigade of the error response, after httpd
 * has set text/html and its 405's Allow and before the header filter: the
 * headers every answer of the handler carries (on the API's location
 * Accept-Ranges: none too), and a 405's Allow as the handler gives it.
 * httpd's error response has already made the error headers its
 * headers_out. */
static apr_status_t bbt_rest_refuse_filter(ap_filter_t *f,
                                           apr_bucket_brigade *bb)
{
    const char *allow = apr_table_get(f->r->notes, BBT_REST_REFUSE_ALLOW);

    bbt_rest_json_headers(f->r);
    if (apr_table_get(f->r->notes, BBT_REST_REFUSE_API)) {
        bbt_rest_no_ranges(f->r);
    }
    if (allow && f->r->status == HTTP_METHOD_NOT_ALLOWED) {
        apr_table_setn(f->r->headers_out, "Allow", allow);
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

/* Only the marked status: should the request end in another error, its
 * body is httpd's page again, and so is its type. */
static void bbt_rest_refuse_insert(request_rec *r)
{
    const char *mark = apr_table_get(r->notes, BBT_REST_REFUSE_NOTE);

    if (mark && atoi(mark) == r->status) {
        ap_add_output_filter_handle(bbt_rest_refuse_filter_handle, NULL, r,
                                    r->connection);
    }
}

void bbt_rest_refuse_register_hooks(apr_pool_t *p)
{
    (void)p;
    bbt_rest_refuse_filter_handle = ap_register_output_filter(
        "BBTOKEN_REST_REFUSED", bbt_rest_refuse_filter, NULL,
        AP_FTYPE_CONTENT_SET);
    ap_hook_insert_error_filter(bbt_rest_refuse_insert, NULL, NULL,
                                APR_HOOK_MIDDLE);
}
