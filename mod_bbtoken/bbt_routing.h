/*
 * Routing: which route decides a request (and, for COPY and MOVE, its
 * Destination), and the project key rewritten to its canonical spelling
 * before httpd maps the URL to a file.
 */
#ifndef BBT_ROUTING_H
#define BBT_ROUTING_H

#include "httpd.h"

#include "bbt_config.h"
#include "bbt_request.h"

/* Register the translate_name hook (from the module's register_hooks). */
void bbt_routing_register_hooks(apr_pool_t *p);

/* Whether r is mod_dav's look-up of a COPY's or MOVE's Destination: a
 * sub-request with the same method, routed as a destination. */
int bbt_routing_is_dest_lookup(const request_rec *r);

/* Route r with the section's routes: rq->routed, rq->route and the targets
 * in rq->access (the Destination's too, for COPY and MOVE).  Unrouted,
 * rq->access.target.why says why.  A route that decides by the body
 * (json=) has it read, when the request carries credentials to decide for
 * (bbt_reqbody.h).  OK, or the status that refuses a body that cannot be
 * read or is not one the routes can decide by (400, 408, 413). */
int bbt_routing_route(request_rec *r, const bbt_dir_conf_t *conf,
                      bbt_req_t *rq);

/* For a project's or a repository's token, once it is verified: whether
 * the repositories the route's query-repo= and body-repo= find in the
 * request lie inside its scope, and its body-project= object holds no id,
 * into rq->access.named_outside and .named
 * (bbt_decide refuses what does not).  The body is read for it only then:
 * a personal token or a password user is decided on the path alone, as the
 * backend decides the other repository for that person.  OK, or the
 * status that refuses a body that cannot be read (bbt_reqbody.h). */
int bbt_routing_named(request_rec *r, bbt_req_t *rq);

/* Tell the backend which route decided, for what: BBTOKEN_ROUTE,
 * BBTOKEN_PERMISSION, BBTOKEN_TARGET.  Added to r->subprocess_env, which
 * must hold none of them (check_authn takes them away first). */
void bbt_routing_env(request_rec *r, const bbt_req_t *rq);

#endif
