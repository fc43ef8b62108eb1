/*
 * JSON in and out for the access-tokens REST API (bbt_rest_json.h).
 */
#include "httpd.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include <stdlib.h>

#include <jansson.h>

#include "bbt_input.h"
#include "bbt_rest_json.h"
#include "bbt_rest_req.h"

APLOG_USE_MODULE(bbtoken);

int bbt_rest_send(request_rec *r, int status, json_t *json)
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

int bbt_rest_error(request_rec *r, int status, const char *exception,
                   const char *message)
{
    json_t *e = json_pack("{s:[{s:n, s:s, s:s}]}", "errors", "context",
                          "message", message, "exceptionName", exception);

    if (status == HTTP_SERVICE_UNAVAILABLE) {
        apr_table_setn(r->headers_out, "Retry-After", BBT_RETRY_AFTER);
    }
    return bbt_rest_send(r, status, e);
}

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

json_t *bbt_rest_json_body(request_rec *r, int *rc)
{
    json_error_t err;
    json_t *j;
    char *body;
    apr_size_t len;
    int st;

    *rc = OK;
    if (!bbt_rest_is_json(apr_table_get(r->headers_in, "Content-Type"))) {
        *rc = bbt_rest_error(r, HTTP_UNSUPPORTED_MEDIA_TYPE, BBT_REST_EX_MEDIA,
                             "the request body must be application/json");
        return NULL;
    }
    if ((st = bbt_rest_body(r, &body, &len)) != OK) {
        *rc = st == HTTP_REQUEST_ENTITY_TOO_LARGE
                  ? bbt_rest_error(r, st, BBT_REST_EX_TOO_LARGE,
                                   "the request body is too large")
                  : st;
        return NULL;
    }
    j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        *rc = bbt_rest_error(
            r, HTTP_BAD_REQUEST, BBT_REST_EX_ARG,
            apr_psprintf(r->pool, "the request body is not a JSON object%s%s",
                         j ? "" : ": ", j ? "" : err.text));
        return NULL;
    }
    return j;
}
