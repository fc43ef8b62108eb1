/*
 * What the module learned about a request, for the phases after
 * authentication and for the handlers (the REST API) that must know how a
 * request was authenticated.
 */
#ifndef BBT_REQUEST_H
#define BBT_REQUEST_H

#include "httpd.h"

/* 1 if this request (or an earlier one of the same HTTP request: an
 * internal redirect's original, a sub-request's parent) was authenticated
 * by a token rather than a password. */
int bbt_request_used_token(request_rec *r);

#endif
