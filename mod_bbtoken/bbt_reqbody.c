/*
 * The request body a route reads, read in the auth phase and kept for the
 * handler (bbt_reqbody.h).
 *
 * The bytes are read once, from the request's input filters as they are
 * when authentication runs (httpd's HTTP_IN: the body de-chunked, within
 * LimitRequestBody), into the request's pool.  The handler reads them again
 * through BBTOKEN_BODY, an input filter just above HTTP_IN: filters a
 * handler adds later (mod_deflate's, mod_request's) stay above it and see
 * what they would have seen.  An internal redirect drops request-level
 * filters, so the filter goes in from insert_filter, for whichever request
 * runs a handler, and the position the handler has read to is shared.
 * Content-Length becomes the body's length (and Transfer-Encoding goes), as
 * mod_request does, so that a CGI is told how much to read.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"
#include "apr_buckets.h"
#include "apr_strings.h"

#include <string.h>

#include "bbt_body.h"
#include "bbt_bodyread.h"
#include "bbt_overglue.h"
#include "bbt_reqbody.h"
#include "bbt_request.h"
#include "bbt_rest_refuse.h"

APLOG_USE_MODULE(bbtoken);

struct bbt_kept {
    char *data;
    apr_size_t len;
    apr_size_t off; /* how far the handler has read */
    bbt_body_t *body;
};

static ap_filter_rec_t *bbt_reqbody_filter;

static apr_status_t bbt_reqbody_cleanup(void *data)
{
    bbt_body_free(data);
    return APR_SUCCESS;
}

/* The body an earlier request of this HTTP request kept: r's own, or an
 * internal redirect's original's. */
static struct bbt_kept *bbt_reqbody_kept(const request_rec *r)
{
    struct bbt_kept *k;

    for (; r; r = r->prev) {
        if ((k = bbt_request_kept(r)) != NULL) {
            return k;
        }
    }
    return NULL;
}

/* note for httpd's page; on the bitbucket-rest set the envelope's fixed
 * words take its place (bbt_rest_refuse.c). */
static int bbt_reqbody_refuse(request_rec *r, int status, const char *note)
{
    apr_table_setn(r->notes, "error-notes", note);
    apr_table_setn(r->notes, BBT_REST_REFUSE_BODY, "1");
    return status;
}

/* A body not to be read as the bytes of a UTF-8 JSON text (why): 415.
 * Accept-Encoding names the one coding the module reads (RFC 9110 15.5.16:
 * a client that compressed the body learns to send it as it is). */
static int bbt_reqbody_undecidable(request_rec *r, int unread, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "BBT825: the request body of %s %s is refused%s: %s (415)",
                  r->method, r->uri, unread ? " unread" : "", why);
    apr_table_setn(r->err_headers_out, "Accept-Encoding", "identity");
    return bbt_reqbody_refuse(
        r, HTTP_UNSUPPORTED_MEDIA_TYPE,
        "The request body must be JSON (Content-Type: application/json), "
        "UTF-8, with no Content-Encoding.");
}

/* Read the whole body into k: OK, or the status that refuses it. */
static int bbt_reqbody_read(request_rec *r, struct bbt_kept *k)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_status_t rv = APR_SUCCESS;
    apr_off_t want;
    int status;

    /* Said to be too large: refused before a byte is read (and before any
     * "100 Continue" invites it). */
    if (cl && ap_parse_strict_length(&want, cl) && want > BBT_BODY_MAX) {
        status = HTTP_REQUEST_ENTITY_TOO_LARGE;
    } else {
        k->data = apr_palloc(r->pool, BBT_BODY_MAX + 1);
        status = bbt_bodyread(r, k->data, BBT_BODY_MAX, &k->len, &rv);
    }
    if (status == HTTP_REQUEST_ENTITY_TOO_LARGE) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "BBT450: the request body of %s %s is over %d bytes, "
                      "which its route reads",
                      r->method, r->uri, BBT_BODY_MAX);
        return bbt_reqbody_refuse(r, status,
                                  "The request body is too large for the "
                                  "access decision (64 KiB at most).");
    }
    if (status != OK) {
        /* AP_FILTER_ERROR: httpd's own refusal (LimitRequestBody, a broken
         * chunked encoding), answered already. */
        ap_log_rerror(APLOG_MARK, APLOG_INFO,
                      status == AP_FILTER_ERROR ? APR_SUCCESS : rv, r,
                      "BBT451: the request body of %s %s could not be read: "
                      "%s",
                      r->method, r->uri,
                      status == AP_FILTER_ERROR
                          ? "httpd refused it, and answered"
                          : apr_psprintf(r->pool, "answered %d", status));
        return bbt_reqbody_refuse(r, status,
                                  "The request body could not be read.");
    }
    return OK;
}

int bbt_reqbody_get(request_rec *r, const bbt_body_t **body)
{
    struct bbt_kept *k = bbt_reqbody_kept(r);
    const char *why, *ct;
    char err[160];
    int status;

    *body = NULL;
    if (!k && r->main) {
        return DECLINED;
    }
    if (!k) {
        ct = apr_table_get(r->headers_in, "Content-Type");
        why = bbt_body_undecidable(
            apr_table_get(r->headers_in, "Content-Encoding"), ct);
        if (!why) {
            why = bbt_body_not_json(ct);
        }
        if (why) {
            return bbt_reqbody_undecidable(r, 1, why);
        }
        k = apr_pcalloc(r->pool, sizeof(*k));
        if ((status = bbt_reqbody_read(r, k)) != OK) {
            return status;
        }
        /* A chunked body's trailer fields come with its end, after the
         * headers were looked at, and under MergeTrailers On httpd adds
         * them to headers_in: the handler, a CGI or a proxied backend,
         * would be given a coding or a charset the client declared late,
         * or a second Content-Type to take instead.  Neither belongs in a
         * trailer (RFC 9110 6.5.1): refused, whatever MergeTrailers says. */
        if (r->trailers_in &&
            (apr_table_get(r->trailers_in, "Content-Encoding") ||
             apr_table_get(r->trailers_in, "Content-Type"))) {
            return bbt_reqbody_undecidable(
                r, 0,
                "its trailer declares a Content-Encoding or a "
                "Content-Type, which httpd may add to its headers after "
                "the module decided");
        }
        if ((status = bbt_overglue_trailers(r)) != OK) {
            return status;
        }
        why = bbt_body_parse(k->data, k->len, &k->body, err, sizeof(err));
        if (why) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          "BBT452: the request body of %s %s is refused: "
                          "%s%s%s",
                          r->method, r->uri, why, err[0] ? ": " : "", err);
            return bbt_reqbody_refuse(
                r, HTTP_BAD_REQUEST,
                apr_pstrcat(r->pool, "The request body is refused: ", why, ".",
                            NULL));
        }
        apr_pool_cleanup_register(r->pool, k->body, bbt_reqbody_cleanup,
                                  apr_pool_cleanup_null);
        /* What the handler will read is what was read here, whole. */
        apr_table_unset(r->headers_in, "Transfer-Encoding");
        apr_table_setn(r->headers_in, "Content-Length",
                       apr_psprintf(r->pool, "%" APR_SIZE_T_FMT, k->len));
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "BBT454: read the request body of %s %s for its route "
                      "(%" APR_SIZE_T_FMT " bytes), kept for the handler",
                      r->method, r->uri, k->len);
    }
    bbt_request_set_kept(r, k);
    *body = k->body;
    return OK;
}

/* The kept bytes, then EOS, whatever HTTP_IN below would say (it has
 * given its EOS already). */
static apr_status_t bbt_reqbody_replay(ap_filter_t *f, apr_bucket_brigade *bb,
                                       ap_input_mode_t mode,
                                       apr_read_type_e block,
                                       apr_off_t readbytes)
{
    struct bbt_kept *k = f->ctx;
    apr_size_t n, left = k->len - k->off;
    const char *nl;

    if (mode == AP_MODE_INIT || mode == AP_MODE_EATCRLF) {
        return ap_get_brigade(f->next, bb, mode, block, readbytes);
    }
    if (left == 0) {
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(f->c->bucket_alloc));
        return APR_SUCCESS;
    }
    n = left;
    if ((mode == AP_MODE_READBYTES || mode == AP_MODE_SPECULATIVE) &&
        readbytes > 0 && (apr_uint64_t)readbytes < n) {
        n = (apr_size_t)readbytes;
    } else if (mode == AP_MODE_GETLINE &&
               (nl = memchr(k->data + k->off, '\n', left)) != NULL) {
        n = (apr_size_t)(nl - (k->data + k->off)) + 1;
    }
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_transient_create(
                                    k->data + k->off, n, f->c->bucket_alloc));
    if (mode != AP_MODE_SPECULATIVE) {
        k->off += n;
        if (k->off == k->len) {
            APR_BRIGADE_INSERT_TAIL(bb,
                                    apr_bucket_eos_create(f->c->bucket_alloc));
        }
    }
    return APR_SUCCESS;
}

/* Before the handler runs: a kept body goes back in front of it.  Not for
 * a sub-request, whose body is its main request's. */
static void bbt_reqbody_insert(request_rec *r)
{
    struct bbt_kept *k;
    ap_filter_t *f;

    if (r->main || !(k = bbt_reqbody_kept(r))) {
        return;
    }
    for (f = r->input_filters; f; f = f->next) {
        if (f->frec == bbt_reqbody_filter) {
            return;
        }
    }
    ap_add_input_filter_handle(bbt_reqbody_filter, k, r, r->connection);
}

void bbt_reqbody_register_hooks(apr_pool_t *p)
{
    (void)p;
    /* Between the content filters and HTTP_IN (AP_FTYPE_PROTOCOL): below
     * what a handler adds, above what read the body. */
    bbt_reqbody_filter = ap_register_input_filter(
        "BBTOKEN_BODY", bbt_reqbody_replay, NULL, AP_FTYPE_PROTOCOL - 1);
    ap_hook_insert_filter(bbt_reqbody_insert, NULL, NULL, APR_HOOK_FIRST);
}
