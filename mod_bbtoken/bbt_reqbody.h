/*
 * The request body a route reads (json=, bbt_body.h), read in the auth
 * phase and kept for the handler: an input filter gives the backend the
 * same bytes, as mod_request's KeptBodyInput does for sub-requests.
 */
#ifndef BBT_REQBODY_H
#define BBT_REQBODY_H

#include "httpd.h"

#include "bbt_body.h"

/* Register the filter that gives the handler the body back, and the hook
 * that puts it in place (from the module's register_hooks). */
void bbt_reqbody_register_hooks(apr_pool_t *p);

/* r's body as the routes read it: read now (at most BBT_BODY_MAX bytes),
 * or the one an earlier request of this HTTP request read (an internal
 * redirect's original).  OK and *body, which lives as long as r's pool; or
 * the status that refuses the request, logged (413 over the limit; 400 not
 * a JSON object or not readable; 408 late; AP_FILTER_ERROR when httpd has
 * answered already), with error-notes saying why; DECLINED for a
 * sub-request, which has no body of its own. */
int bbt_reqbody_get(request_rec *r, const bbt_body_t **body);

#endif
