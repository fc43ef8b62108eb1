/*
 * JSON in and out for the access-tokens REST API (internal to the
 * bbt_rest_* files): reading a request's body as a JSON object, and
 * answering with JSON or Bitbucket's error envelope
 *
 *     {"errors": [{"context": null, "message": "...",
 *                  "exceptionName": "..."}]}
 */
#ifndef BBT_REST_JSON_H
#define BBT_REST_JSON_H

#include "httpd.h"

#include <jansson.h>

/* Bitbucket's exception names, for the envelope. */
#define BBT_REST_EX_AUTH "com.atlassian.bitbucket.AuthorisationException"
#define BBT_REST_EX_ARG                                                        \
    "com.atlassian.bitbucket.validation.ArgumentValidationException"
#define BBT_REST_EX_NO_USER "com.atlassian.bitbucket.user.NoSuchUserException"
#define BBT_REST_EX_NO_TOKEN                                                   \
    "com.atlassian.bitbucket.auth.NoSuchAccessTokenException"
#define BBT_REST_EX_NOT_FOUND "com.atlassian.bitbucket.rest.NotFoundException"
#define BBT_REST_EX_METHOD                                                     \
    "com.atlassian.bitbucket.rest.MethodNotAllowedException"
#define BBT_REST_EX_MEDIA                                                      \
    "com.atlassian.bitbucket.rest.UnsupportedMediaTypeException"
#define BBT_REST_EX_XSRF "com.atlassian.bitbucket.rest.XsrfCheckFailedException"
#define BBT_REST_EX_DB "com.atlassian.bitbucket.ServiceUnavailableException"
#define BBT_REST_EX_SERVER "com.atlassian.bitbucket.ServiceException"
#define BBT_REST_EX_TOO_LARGE                                                  \
    "com.atlassian.bitbucket.rest.RequestTooLargeException"
#define BBT_REST_EX_RATE                                                       \
    "com.atlassian.bitbucket.ratelimit.RateLimitedException"

/* What a 503 says, the handler's and the login's alike. */
#define BBT_REST_MSG_DB "The token database is unavailable; try again later."

/* The media type of every JSON answer. */
#define BBT_REST_JSON_TYPE "application/json;charset=UTF-8"

/* The largest body read. */
#define BBT_REST_MAX_BODY (64 * 1024)

/* The headers of every JSON answer of the API, the handler's and the
 * envelopes of its early refusals: the JSON type, no browser guessing HTML
 * out of the body (nosniff), no cache keeping it (no-store). */
void bbt_rest_json_headers(request_rec *r);

/* No byte ranges of the access-tokens API's answers: Accept-Ranges: none,
 * and a Range header not honoured (httpd's byte-range filter taken out).
 * Not for the bitbucket-rest set's envelopes: whether Bitbucket's
 * resource serves ranges is not the module's to say. */
void bbt_rest_no_ranges(request_rec *r);

/* Answer json (stolen; NULL after a failed json_pack) with status, never
 * to be cached.  The handler's return value: OK, or 500 if json is NULL
 * or cannot be written. */
int bbt_rest_send(request_rec *r, int status, json_t *json);

/* From bbt_rest_hold until bbt_rest_release, bbt_rest_send keeps what it
 * answers instead of writing it; bbt_rest_release writes it.  The handler
 * holds the answer while it holds a pooled connection, so that a client
 * reading slowly holds a worker, never the connection.  Not written at
 * all if the request ends first. */
void bbt_rest_hold(request_rec *r);
void bbt_rest_release(request_rec *r);

/* Bitbucket's paged answer around values (stolen): this page's items of
 * a listing from start of at most limit; last says no item follows.  NULL
 * when out of memory. */
json_t *bbt_rest_page_json(json_t *values, long start, long limit, int last);

/* The error envelope around message (NULL when out of memory).  The one
 * home of its shape: the handler's errors and the refusals made before it
 * runs (bbt_rest_refuse.c) both come from here. */
json_t *bbt_rest_envelope(const char *exception, const char *message);

/* Answer the error envelope; a 503 carries Retry-After.  The handler's
 * return value. */
int bbt_rest_error(request_rec *r, int status, const char *exception,
                   const char *message);

/* The body of a PUT or POST as a JSON object, or with array non-zero a
 * JSON array (the caller owns it), read by bbt_jshape_load.  NULL when the
 * body is not declared JSON, cannot be read, is too large, is larger in
 * shape than any endpoint's body of that kind, or is not what was asked
 * for: then the answer is given and *rc is the handler's return value. */
json_t *bbt_rest_json_body(request_rec *r, int array, int *rc);

/* Register the filter that keeps httpd's own refusals of a body for the
 * API to answer (from bbt_rest_register_hooks). */
void bbt_rest_json_register(void);

#endif
