/*
 * Method overrides (bbt_override.h) held against each request of a section
 * of AuthType BBToken: in check_authn for a request that logs in, and in
 * the fixups for one that httpd let in without a login.
 */
#ifndef BBT_OVERGLUE_H
#define BBT_OVERGLUE_H

#include "httpd.h"

#include "bbt_request.h"

/* OK if r carries no method override naming another method than r's own
 * (and rq, r's record, is marked as checked: the fixups leave r alone);
 * otherwise 400, logged (BBT043) and explained in r's error-notes. */
int bbt_overglue_check(request_rec *r, bbt_req_t *rq);

/* After r's body was read, whole: OK if its trailer (a chunked body's
 * fields after it) carries no method override naming another method than
 * r's own; otherwise refused as bbt_overglue_check refuses.  httpd adds
 * the trailer to headers_in under MergeTrailers On, after check_authn
 * looked at them, and so to what a backend is given. */
int bbt_overglue_trailers(request_rec *r);

/* Register the fixups hook (from the module's register_hooks). */
void bbt_overglue_register_hooks(apr_pool_t *p);

#endif
