/*
 * A request body read whole, up to a bound, into a buffer of the caller's:
 * the one reader behind the bodies routes decide on (bbt_reqbody.c) and
 * the access-tokens API's (bbt_rest_json.c).
 */
#ifndef BBT_BODYREAD_H
#define BBT_BODYREAD_H

#include "httpd.h"

/* Read r's body (as its input filters give it: de-chunked, within
 * LimitRequestBody) into buf, which holds max + 1 bytes; *len is how many
 * were read and buf[*len] is a NUL.  OK; HTTP_REQUEST_ENTITY_TOO_LARGE for
 * a body over max bytes, found by asking for one byte more and before
 * anything past the bound is kept; HTTP_BAD_REQUEST for a brigade that
 * cannot be measured or flattened; or the input filters' refusal
 * (ap_map_http_request_error: AP_FILTER_ERROR when httpd has answered it
 * already), *rv its reason.  *rv is APR_SUCCESS unless a read failed. */
int bbt_bodyread(request_rec *r, char *buf, apr_size_t max, apr_size_t *len,
                 apr_status_t *rv);

#endif
