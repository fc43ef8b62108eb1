/*
 * JSON in and out for the access-tokens REST API (bbt_rest_json.h).
 */
#include "httpd.h"
#include "http_log.h"
#include "http_protocol.h"
#include "util_filter.h"
#include "apr_buckets.h"
#include "apr_strings.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "bbt_body.h"
#include "bbt_bodyread.h"
#include "bbt_input.h"
#include "bbt_jshape.h"
#include "bbt_jwipe.h"
#include "bbt_rest_json.h"
#include "bbt_rest_req.h"

APLOG_USE_MODULE(bbtoken);

/* An answer made while the handler holds a pooled connection: a client
 * that reads slowly would hold the connection for as long as it reads,
 * so the answer waits here until the connection is given back.  Kept in
 * the request pool's user data, which dies with the request. */
#define BBT_REST_HELD_KEY "bbtoken-rest-held"

typedef struct {
    apr_array_header_t *parts; /* of char *, from bbt_jwipe_dump */
} bbt_rest_held_t;

static bbt_rest_held_t *bbt_rest_held(request_rec *r)
{
    void *held = NULL;

    apr_pool_userdata_get(&held, BBT_REST_HELD_KEY, r->pool);
    return held;
}

static apr_status_t bbt_rest_held_free(void *data)
{
    bbt_rest_held_t *h = data;
    int i;

    /* Any may hold a minted token: each is wiped (a few kB at most). */
    for (i = 0; i < h->parts->nelts; i++) {
        bbt_jwipe_free(APR_ARRAY_IDX(h->parts, i, char *));
    }
    h->parts->nelts = 0;
    return APR_SUCCESS;
}

void bbt_rest_hold(request_rec *r)
{
    bbt_rest_held_t *h = apr_pcalloc(r->pool, sizeof(*h));

    h->parts = apr_array_make(r->pool, 1, sizeof(char *));
    apr_pool_userdata_setn(h, BBT_REST_HELD_KEY, bbt_rest_held_free, r->pool);
}

void bbt_rest_release(request_rec *r)
{
    bbt_rest_held_t *h = bbt_rest_held(r);
    int i;

    if (!h) {
        return;
    }
    apr_pool_userdata_setn(NULL, BBT_REST_HELD_KEY, NULL, r->pool);
    for (i = 0; i < h->parts->nelts; i++) {
        ap_rputs(APR_ARRAY_IDX(h->parts, i, char *), r);
    }
    bbt_rest_held_free(h);
}

void bbt_rest_json_headers(request_rec *r)
{
    ap_set_content_type(r, BBT_REST_JSON_TYPE);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
}

void bbt_rest_no_ranges(request_rec *r)
{
    /* A JSON document is whole or useless: a client that asks for a byte
     * range (a download manager resuming, a proxy) would be given a
     * slice it cannot parse.  httpd's byte-range filter cuts any 200 a
     * Range asks of, whatever Accept-Ranges says (ap_set_byterange reads
     * only Range, the status, Content-Range and If-Range), so it is taken
     * out of the request's filters; Accept-Ranges says so to the client
     * (RFC 9110 14.3). */
    apr_table_setn(r->headers_out, "Accept-Ranges", "none");
    ap_remove_output_filter_byhandle(r->output_filters, "BYTERANGE");
}

int bbt_rest_send(request_rec *r, int status, json_t *json)
{
    char *out = bbt_jwipe_dump(json, JSON_COMPACT);
    /* A created or rotated token's answer: its only showing. */
    int secret = bbt_jwipe_member(json, "token");
    bbt_rest_held_t *h;

    json_decref(json);
    if (!out) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    r->status = status;
    bbt_rest_json_headers(r);
    bbt_rest_no_ranges(r);
    if ((h = bbt_rest_held(r)) != NULL) {
        APR_ARRAY_PUSH(h->parts, char *) = out;
        return OK;
    }
    ap_rputs(out, r);
    if (secret) {
        bbt_jwipe_free(out);
    } else {
        free(out);
    }
    return OK;
}

json_t *bbt_rest_envelope(const char *exception, const char *message)
{
    return json_pack("{s:[{s:n, s:s, s:s}]}", "errors", "context", "message",
                     message, "exceptionName", exception);
}

int bbt_rest_error(request_rec *r, int status, const char *exception,
                   const char *message)
{
    json_t *e = bbt_rest_envelope(exception, message);

    if (status == HTTP_SERVICE_UNAVAILABLE) {
        apr_table_setn(r->headers_out, "Retry-After", BBT_RETRY_AFTER);
    }
    return bbt_rest_send(r, status, e);
}

/* httpd's HTTP input filter answers a body it refuses (over
 * LimitRequestBody, a broken chunk) itself: it sends an error bucket down
 * the output filters, which httpd turns into its HTML error page.  While
 * the handler reads a body, this filter stands first in line and keeps
 * the status instead, so that the answer is the API's JSON.  Its context
 * is where the status goes; without one (someone configured it by name)
 * it lets everything through. */
static ap_filter_rec_t *bbt_rest_catcher;

static apr_status_t bbt_rest_catch(ap_filter_t *f, apr_bucket_brigade *bb)
{
    int *status = f->ctx;
    apr_bucket *e;

    if (status) {
        for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb);
             e = APR_BUCKET_NEXT(e)) {
            if (AP_BUCKET_IS_ERROR(e) && !*status) {
                *status = ((ap_bucket_error *)e->data)->status;
            }
        }
        if (*status) {
            /* The error and the EOS after it: neither may reach the
             * client, or httpd would answer for us. */
            apr_brigade_cleanup(bb);
            return AP_FILTER_ERROR;
        }
    }
    return ap_pass_brigade(f->next, bb);
}

/* Read the body into buf (BBT_REST_MAX_BODY + 1 bytes), NUL-terminated.
 * OK and *len, or the HTTP status that refuses it (*rv the reason, when
 * the input filters gave one). */
static int bbt_rest_read(request_rec *r, char *buf, apr_size_t *len,
                         apr_status_t *rv)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_off_t want;

    /* Said to be too large to a client that waits to be asked for it:
     * refused rather than invited ("100 Continue") and cut off.  Not
     * otherwise: the client sends it anyway, and an HTTP/2 client that is
     * answered before it has sent it may never read the answer. */
    if (r->expecting_100 && cl && ap_parse_strict_length(&want, cl) &&
        want > BBT_REST_MAX_BODY) {
        *len = 0;
        *rv = APR_SUCCESS;
        buf[0] = '\0';
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    }
    return bbt_bodyread(r, buf, BBT_REST_MAX_BODY, len, rv);
}

/* The request's and its internal redirects' "EOS sent" marks, to save
 * (restore 0) or put back (restore 1).  ap_pass_brigade sets them when a
 * brigade ending in EOS passes, before any filter sees it: the EOS the
 * catcher swallows never left, and with the marks set httpd would not
 * send the answer. */
static void bbt_rest_eos_marks(request_rec *r, apr_array_header_t *marks,
                               int restore)
{
    int i = 0;

    for (; r; r = r->prev, i++) {
        if (!restore) {
            APR_ARRAY_PUSH(marks, int) = r->eos_sent;
        } else if (i < marks->nelts) {
            r->eos_sent = APR_ARRAY_IDX(marks, i, int);
        }
    }
}

/* The body (NUL-terminated) into *out.  OK, or the HTTP status that
 * refuses it, httpd's own refusals included. */
static int bbt_rest_body(request_rec *r, char **out, apr_size_t *outlen)
{
    apr_array_header_t *marks = apr_array_make(r->pool, 2, sizeof(int));
    int *caught = apr_pcalloc(r->pool, sizeof(*caught));
    ap_filter_t *catcher;
    apr_status_t rv;
    int status;

    bbt_rest_eos_marks(r, marks, 0);
    catcher =
        ap_add_output_filter_handle(bbt_rest_catcher, caught, r, r->connection);
    *out = apr_palloc(r->pool, BBT_REST_MAX_BODY + 1);
    status = bbt_rest_read(r, *out, outlen, &rv);
    if (catcher) {
        ap_remove_output_filter(catcher);
    }
    if (*caught) {
        bbt_rest_eos_marks(r, marks, 1);
        status = *caught;
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "BBT205: access-tokens API: httpd refused the request "
                      "body (%d): answered in JSON",
                      status);
    } else if (status == HTTP_REQUEST_ENTITY_TOO_LARGE && rv == APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "BBT203: access-tokens API: the request body is over "
                      "%d bytes",
                      BBT_REST_MAX_BODY);
    } else if (status != OK) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r,
                      "BBT204: access-tokens API: the request body could not "
                      "be read (%d)",
                      status);
    }
    return status;
}

/* jansson's reason, as the envelope may carry it (UTF-8 alone): its quote
 * of where it stopped can end inside a character (after a backslash it
 * quotes a character's first byte alone), and is then left out. */
static const char *bbt_rest_json_why(apr_pool_t *p, const json_error_t *err)
{
    size_t n;

    if (bbt_input_utf8(err->text)) {
        return err->text;
    }
    n = bbt_jshape_reason_len(err);
    return n < strlen(err->text) ? apr_pstrmemdup(p, err->text, n)
                                 : "malformed";
}

/* The shape of the largest body an endpoint reads (bbt_jshape.h), so
 * that a body no endpoint could use costs one pass over its bytes and
 * nothing more.  An object (create, update): four members, the longest
 * array allowedAddresses' BBT_NETS_MAX (permissions: 8), two deep, some
 * 30 values; members it does not read are ignored, and the bound leaves
 * them room (a token sent back as the API answers it is 5 deep and some
 * 60 values), and an array just over its limit (17 networks) the
 * endpoint's own reason.  An array (revoke-by-value): 1 to 100 strings.
 * No member name in two cases ("Name" beside "name"): the API reads the
 * one spelled as documented, and a proxy or client that matches names
 * regardless of case could read the other. */
static const bbt_jshape_t bbt_rest_object_shape = {6, 2 * BBT_NETS_MAX, 128, 1};
static const bbt_jshape_t bbt_rest_array_shape = {1, BBT_LEAK_TOKENS_MAX,
                                                  BBT_LEAK_TOKENS_MAX + 1, 1};

json_t *bbt_rest_json_body(request_rec *r, int array, int *rc)
{
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    const char *ce;
    bbt_jshape_rc_t shape;
    json_error_t err;
    const char *why;
    json_t *j;
    char *body;
    apr_size_t len;
    int st;

    *rc = OK;
    if (!bbt_rest_is_json(ct)) {
        *rc = bbt_rest_error(r, HTTP_UNSUPPORTED_MEDIA_TYPE, BBT_REST_EX_MEDIA,
                             "the request body must be application/json");
        return NULL;
    }
    /* The API decodes no content coding: a compressed body is refused for
     * what it is, unread, as the routes refuse one, not as malformed JSON.
     * Its charset is not asked about: the API is the body's only reader,
     * and reads it as UTF-8 whatever it is labelled (an ASCII body a Java
     * client calls ISO-8859-1 is read as Bitbucket would read it).  An
     * empty field is an empty list, no coding (RFC 9110 5.6.1), and with
     * no other reader nothing decodes the body by it: a client that sends
     * one is served, as before the API asked about codings. */
    ce = apr_table_get(r->headers_in, "Content-Encoding");
    if (ce && ce[strspn(ce, " \t")] && (why = bbt_body_undecidable(ce, NULL))) {
        apr_table_setn(r->err_headers_out, "Accept-Encoding", "identity");
        *rc = bbt_rest_error(
            r, HTTP_UNSUPPORTED_MEDIA_TYPE, BBT_REST_EX_MEDIA,
            apr_pstrcat(r->pool, "the request body is refused: ", why, NULL));
        return NULL;
    }
    if ((st = bbt_rest_body(r, &body, &len)) == AP_FILTER_ERROR) {
        *rc = st; /* another filter has answered */
        return NULL;
    }
    if (st != OK) {
        *rc = st == HTTP_REQUEST_ENTITY_TOO_LARGE
                  ? bbt_rest_error(r, st, BBT_REST_EX_TOO_LARGE,
                                   "the request body is too large")
                  : bbt_rest_error(r, st, BBT_REST_EX_ARG,
                                   "the request body could not be read");
        return NULL;
    }
    shape = bbt_jshape_load(
        body, len, array ? &bbt_rest_array_shape : &bbt_rest_object_shape, &j,
        &err);
    /* A leak report's body is tokens: read, it is wiped, not left in the
     * request's pool (jansson's copies are its own). */
    OPENSSL_cleanse(body, len);
    if (shape == BBT_JSHAPE_TWIN) {
        *rc = bbt_rest_error(
            r, HTTP_BAD_REQUEST, BBT_REST_EX_ARG,
            apr_pstrcat(r->pool, "the request body is refused: ", err.text,
                        NULL));
        return NULL;
    }
    if (shape != BBT_JSHAPE_OK && shape != BBT_JSHAPE_MALFORMED) {
        *rc = bbt_rest_error(
            r, HTTP_BAD_REQUEST, BBT_REST_EX_ARG,
            apr_pstrcat(r->pool,
                        "the request body holds more than this call reads: ",
                        err.text, NULL));
        return NULL;
    }
    if (!j || (array ? !json_is_array(j) : !json_is_object(j))) {
        json_decref(j);
        *rc = bbt_rest_error(
            r, HTTP_BAD_REQUEST, BBT_REST_EX_ARG,
            apr_psprintf(r->pool, "the request body is not a JSON %s%s%s",
                         array ? "array" : "object", j ? "" : ": ",
                         j ? "" : bbt_rest_json_why(r->pool, &err)));
        return NULL;
    }
    return j;
}

void bbt_rest_json_register(void)
{
    bbt_rest_catcher = ap_register_output_filter(
        "BBTOKEN_REST_BODY", bbt_rest_catch, NULL, AP_FTYPE_RESOURCE);
}

json_t *bbt_rest_page_json(json_t *values, long start, long limit, int last)
{
    size_t n = json_array_size(values);
    json_t *page =
        json_pack("{s:I, s:I, s:I, s:b, s:o}", "size", (json_int_t)n, "limit",
                  (json_int_t)limit, "start", (json_int_t)start, "isLastPage",
                  last, "values", values);

    if (page && !last &&
        json_object_set_new(page, "nextPageStart",
                            json_integer((json_int_t)start + (json_int_t)n)) !=
            0) {
        json_decref(page);
        page = NULL;
    }
    return page;
}
