/*
 * A request body read whole, up to a bound (bbt_bodyread.h).
 */
#include "httpd.h"
#include "http_protocol.h"
#include "util_filter.h"
#include "apr_buckets.h"

#include "bbt_bodyread.h"

int bbt_bodyread(request_rec *r, char *buf, apr_size_t max, apr_size_t *len,
                 apr_status_t *rv)
{
    apr_bucket_brigade *bb =
        apr_brigade_create(r->pool, r->connection->bucket_alloc);
    apr_bucket *e;
    apr_off_t got;
    apr_size_t n;
    int eos = 0, status = OK;

    *len = 0;
    *rv = APR_SUCCESS;
    while (!eos && status == OK) {
        /* One byte more than room is left for: a body that fills the
         * bound exactly is told from one that is over it. */
        *rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES,
                             APR_BLOCK_READ, max + 1 - *len);
        if (*rv != APR_SUCCESS) {
            status = ap_map_http_request_error(*rv, HTTP_BAD_REQUEST);
            break;
        }
        for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb);
             e = APR_BUCKET_NEXT(e)) {
            eos |= APR_BUCKET_IS_EOS(e);
        }
        if (apr_brigade_length(bb, 1, &got) != APR_SUCCESS || got < 0) {
            status = HTTP_BAD_REQUEST;
        } else if ((apr_size_t)got > max - *len) {
            status = HTTP_REQUEST_ENTITY_TOO_LARGE;
        } else {
            n = (apr_size_t)got;
            if (apr_brigade_flatten(bb, buf + *len, &n) != APR_SUCCESS) {
                status = HTTP_BAD_REQUEST;
            }
            *len += n;
        }
        apr_brigade_cleanup(bb);
    }
    apr_brigade_destroy(bb);
    buf[*len] = '\0';
    return status;
}
