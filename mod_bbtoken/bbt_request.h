/*
 * What the module learned about a request, for the phases after
 * authentication and for the handlers (the REST API) that must know how a
 * request was authenticated.
 */
#ifndef BBT_REQUEST_H
#define BBT_REQUEST_H

#include "httpd.h"

#include "bbt_centry.h"
#include "bbt_decide.h"
#include "bbt_namedrepo.h"
#include "bbt_token.h"

#define BBT_AUTH_TYPE "BBToken"

/* What authn learned about a request, for authz and fixups. */
typedef struct {
    /* The configuration under which check_authn found the AuthType to be
     * BBToken: with the same one, it still is (bbt_request_ours). */
    const struct ap_conf_vector_t *dir;
    /* The method, URI and query string check_authn decided (r's own, not
     * copies: httpd replaces them, never writes into them), for a request
     * httpd lets through on this decision (bbt_inherit.c). */
    const char *method, *uri, *args;
    int verified; /* the credentials were proven for this HTTP request */
    /* Credentials were presented, a token or a Basic password: a refusal
     * counts for the throttle, and, unless they were verified, challenges
     * with invalid_token. */
    int presented;
    /* Those credentials were refused (401), not merely left undecided by
     * an outage (503), the throttle (429) or a provider's failure (500):
     * its error page does not read them again (bbt_request_refused_before). */
    int refused;
    /* Authorized, and not refused since by a fixup of the module's: what
     * bbt_inherit.c's last fixup checks.  Whether the request went on to
     * its handler is bbt_request_handled's to say. */
    int allowed;
    /* Its method overrides were checked (bbt_overglue.c), in check_authn:
     * the fixups need not check them again. */
    int override_checked;
    /* The gate found access allowed (bbt_decide), so Require bbtoken need
     * not decide the same access again. */
    int gate_allowed;
    /* The password user's name (access.password). */
    const char *user;
    char token_id[BBT_TOKEN_ID_LEN + 1];
    /* The key of the token's cache entry (it reveals nothing of the
     * token), for the internal requests after this one. */
    unsigned char cache_key[BBT_CKEY_LEN];
    int cache_keyed;
    int routed;
    const char *route; /* the route that decided, "file:line" */
    /* Its query-repo= and body-repo=, or NULL; and its body-project=
     * object when that holds an id (bbt_match_t.into_id), or NULL: what
     * bbt_routing_named decides. */
    const bbt_namedrepo_t *named;
    const char *into_id;
    /* What the route asks for and what the token and its owner hold:
     * levels, targets, and whether a password rather than a token. */
    bbt_access_t access;
    /* The Authorization header the fixups took away, for an HTTP/2
     * upgrade that replays the request (bbt_private.c); never passed on. */
    const char *authorization;
} bbt_req_t;

/* A fresh record for r (check_authn). */
bbt_req_t *bbt_request_new(request_rec *r);

/* A refusal of r made before check_authn made its record (a header,
 * TRACE, a .htaccess, a ranged PUT, a missing AuthName): a record, unless r has
 * one, so that the metrics count it under its status as check_authn's, and the
 * requests that follow it (its error page) are decided again rather than let
 * through on it: it is not verified, nor allowed.  Returns status. */
int bbt_request_refused_early(request_rec *r, int status);

/* r's record, or NULL when the module did not authenticate r. */
bbt_req_t *bbt_req(const request_rec *r);

/* What translate_name left for the later phases of r (bbt_routing.c), or
 * NULL; an internal redirect or a sub-request starts without. */
void *bbt_request_memo(const request_rec *r);
void bbt_request_set_memo(request_rec *r, void *memo);

/* The body a route read for r, kept for the handler (bbt_reqbody.c): the
 * request's, whichever of its decisions read it; NULL when none. */
struct bbt_kept *bbt_request_kept(const request_rec *r);
void bbt_request_set_kept(request_rec *r, struct bbt_kept *kept);

/* r's section when httpd had just found it (post_perdir_config), if it
 * was one of the module's; NULL otherwise (bbt_inherit.c). */
void bbt_request_note_section(request_rec *r);
const struct ap_conf_vector_t *bbt_request_section(const request_rec *r);

/* r passed authorization, the module's (its record allowed) or httpd's
 * alone in a section of the module's (let in without a login: Require all
 * granted, Require ip in a <RequireAny>), and every fixup after it: r
 * went on to its handler, and the metrics count it as allowed.  Set only
 * on a request that has its slot already (a record, or a section). */
void bbt_request_set_handled(request_rec *r);
int bbt_request_handled(const request_rec *r);

/* The fixups took r's Authorization header away, unread: r was let into
 * a section of the module's without a login (bbt_private.c). */
void bbt_request_set_taken(request_rec *r, const char *authorization);

/* The Authorization header as the client sent it: r's own, or the one the
 * fixups took away unread from r or from an earlier request of this HTTP
 * request (an internal redirect's original, a sub-request's parent), which
 * a request that does ask for a login reads instead; NULL when none. */
const char *bbt_request_authorization(const request_rec *r);

/* The Authorization header of a request after one the module verified:
 * as bbt_request_authorization, or the one the fixups of a verified
 * earlier request took away (bbt_req_t.authorization); NULL when none. */
const char *bbt_request_verified_authorization(const request_rec *r);

/* The nearest earlier request of this same HTTP request (internal redirect
 * or parent of a sub-request) whose credentials were verified, or NULL. */
const bbt_req_t *bbt_request_prior(const request_rec *r);

/* 1 if an earlier request of this same HTTP request read credentials and
 * refused them (401): r (its error page) has the same ones.  One stopped
 * by an outage, the throttle or a provider's failure did not refuse
 * them. */
int bbt_request_refused_before(const request_rec *r);

/* The level a refusal of r's credentials is logged at: error for the
 * first of the HTTP request the client sent, debug for any later one of
 * its internal requests.  Sub-requests share the client's Authorization
 * header (a listing's, mod_dir's index probes, each a section of the
 * module's), and each refuses it again: one bad password is one line for
 * fail2ban, as it is one failure.  Call it once per line, before
 * ap_log_rerror, which evaluates its level more than once. */
int bbt_request_refusal_level(request_rec *r);

/* 1 the first time a failure of the credentials of the HTTP request the
 * client sent is to be counted (the throttle), by whichever of its
 * internal requests; 0 after: its sub-requests, each refusing the same
 * header, count once between them. */
int bbt_request_failure_first(request_rec *r);

/* The personal project of whoever asks, where a route's second target is
 * it (body-project-absent=personal): ~ and the slug of name into a's
 * second target, left without a key (refused) if the name could not be
 * one.  The name is the password user's, or the one a personal token's
 * owner was read with (the one the backend is told). */
void bbt_request_dest_own(request_rec *r, bbt_access_t *a, const char *name);

/* 1 if r's AuthType is BBToken: evaluated once per request_rec and
 * r->per_dir_config, as a function of that configuration alone. */
int bbt_request_is_ours(request_rec *r);

/* The same as bbt_request_is_ours(r), answered from rq (r's record, or
 * NULL) without looking again where check_authn already looked. */
int bbt_request_ours(request_rec *r, const bbt_req_t *rq);

/* 1 if this request (or an earlier one of the same HTTP request: an
 * internal redirect's original, a sub-request's parent) was authenticated
 * by a token rather than a password. */
int bbt_request_used_token(request_rec *r);

#endif
