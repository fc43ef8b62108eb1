/*
 * Access decided again where httpd would take it over unasked.
 *
 * httpd runs no access, authentication or authorization hook for an
 * internal redirect or a sub-request whose configuration is the very one
 * of the request before it (the same URI in the same sections): it copies
 * that request's user and goes on to the handler.  A route depends on the
 * method and the query string as well, which such a request may change: a
 * CGI's local Location to its own path with another query string (a read
 * turned into git's push advertisement), a per-directory RewriteRule that
 * rewrites only the query, a sub-request for the same URI with another
 * method.  Nor was an error page at the URL of the request it reports
 * ever allowed.  And even the very same request again (a CGI's Location
 * to its own URL) is the token's only through its own decision: that is
 * what gives the backend BBTOKEN_* (httpd renamed the first request's
 * REDIRECT_BBTOKEN_*) and keeps the answer private, since the first
 * request's output filters are not the redirect's.  So whenever the
 * module decided the request before, the hooks httpd skipped are run
 * here, first thing in the fixups, as httpd would have run them.
 *
 * A fixup may also change the query string of the request itself, after
 * the decision and with no new request to decide: a per-directory
 * RewriteRule whose result is the same file with another query string
 * (mod_rewrite then skips its internal redirect, "initial URL equal
 * rewritten URL").  Last thing in the fixups, such a request is refused.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_request.h"

#include <string.h>

#include "bbt_authn.h"
#include "bbt_inherit.h"
#include "bbt_private.h"
#include "bbt_request.h"

APLOG_USE_MODULE(bbtoken);

/* The request r took its user from when httpd skipped its checks: the one
 * before it with the same configuration, as ap_process_request_internal
 * picks it; NULL when the checks ran for r. */
static const request_rec *bbt_inherit_source(const request_rec *r)
{
    if (r->prev && r->prev->per_dir_config == r->per_dir_config) {
        return r->prev;
    }
    if (r->main && r->main->per_dir_config == r->per_dir_config) {
        return r->main;
    }
    return NULL;
}

static int bbt_inherit_same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Whether r was let through on a decision of the module's that is not
 * r's: a request r inherited from (the nearest the module decided) was
 * decided by the module, allowed or not, for the same request or
 * another. */
static int bbt_inherit_undecided(const request_rec *r)
{
    const request_rec *o = r;
    const bbt_req_t *rq = NULL;

    while ((o = bbt_inherit_source(o)) != NULL && !(rq = bbt_req(o))) {
    }
    return rq != NULL;
}

/* The checks ap_process_request_internal skipped, in its order, on r as
 * it is now: OK, or the status that refuses it. */
static int bbt_inherit_check(request_rec *r)
{
    int status;

    r->user = NULL;
    r->ap_auth_type = NULL;
    if (ap_satisfies(r) == SATISFY_ANY) {
        if (ap_run_access_checker(r) == OK) {
            return OK;
        }
    } else if ((status = ap_run_access_checker(r)) != OK) {
        return status;
    }
    status = ap_run_access_checker_ex(r);
    /* Let in unasked, unless a module insists on a login all the same
     * (the force_authn hook), as httpd decides. */
    if (status == OK && ap_run_force_authn(r) != OK) {
        return OK;
    }
    if (status != OK && status != DECLINED) {
        return status;
    }
    if ((status = ap_run_check_user_id(r)) != OK) {
        return status == DECLINED ? HTTP_INTERNAL_SERVER_ERROR : status;
    }
    if (!r->user) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    status = ap_run_auth_checker(r);
    return status == DECLINED ? HTTP_INTERNAL_SERVER_ERROR : status;
}

static int bbt_inherit_fixups(request_rec *r)
{
    int status;

    if ((!r->prev && !r->main) || bbt_req(r) || !bbt_inherit_undecided(r)) {
        return DECLINED;
    }
    /* Not the query string: the URI alone, as the module's other lines. */
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "BBT782: %s %s inherited a decision made for another "
                  "request: decided again",
                  r->method, r->uri);
    status = bbt_inherit_check(r);
    return status == OK ? DECLINED : status;
}

/* r, promoted into another section, decided again there as it now is (its
 * method, URI and section), with the credentials it came with: those the
 * fixups took away are where check_authn reads them.  Let in without the
 * module (a section that lets it in without a login, or none of the
 * module's), r is told of no decision of the module's; its record stays,
 * as the credentials it proved for this HTTP request (an h2c upgrade
 * replays the URL they were proved for). */
static int bbt_inherit_promoted(request_rec *r, const bbt_req_t *rq)
{
    bbt_req_t *now;
    int status;

    if (rq && rq->authorization) {
        bbt_request_set_taken(r, rq->authorization);
    }
    /* Not the query string: the URI alone, as the module's other lines. */
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "BBT784: %s %s was handed to %s in another section "
                  "(DirectoryIndex, FallbackResource or MultiViews): "
                  "decided again",
                  r->method, rq ? rq->uri : "(not decided by the module)",
                  r->uri);
    if ((status = bbt_inherit_check(r)) != OK) {
        /* Refused by the section's own Require, before any record of its
         * own: not what was decided before. */
        if ((now = bbt_req(r)) != NULL) {
            now->allowed = 0;
        }
        return status;
    }
    if ((now = bbt_req(r)) == rq) {
        bbt_authn_env_clear(r);
    } else if (now->verified) {
        /* Authorization passed: as bbt_metrics.c's fixups say of a request
         * decided before them. */
        now->allowed = 1;
    }
    bbt_private_promoted(r);
    return DECLINED;
}

/* Last in the fixups, after whatever changed the request in place.
 *
 * A request the module allowed whose method, URI or query string a fixup
 * changed in the configuration it was decided in: its handler would serve
 * what nobody decided.  Not one a fixup hands to an internal redirect
 * (mod_rewrite's redirect-handler), which is decided again.
 *
 * mod_dir (DirectoryIndex, FallbackResource) and mod_negotiation
 * (MultiViews) change the configuration too: they look a URI up in a GET
 * sub-request and promote it into the request (ap_internal_fast_redirect),
 * which keeps its own method and headers, and the variables of the
 * decision made before.  A request that ends in a section of the module
 * other than the one it was decided in (or in one, not decided by the
 * module at all) is decided again, as it now is, as httpd would decide an
 * internal redirect: a POST to a directory whose index is a script of
 * another repository needs what a POST to that script needs; one that
 * ends in a section that lets it in without a login keeps no word of the
 * decision made before.  Out of the module's sections, a request the
 * module allowed is decided again too, as any request there would be (a
 * backend there that trusts REMOTE_USER would take the module's decision
 * for its own), at a URL: not at a file a type map names outside its own
 * directory, which httpd looks up with no URL at all, outside every
 * <Location>. */
static int bbt_inherit_changed_fixups(request_rec *r)
{
    bbt_req_t *rq = bbt_req(r);
    int here = rq && rq->dir == r->per_dir_config;

    if (r->handler && strcmp(r->handler, "redirect-handler") == 0) {
        return DECLINED;
    }
    /* The section r was decided in, or, let in without the module, the one
     * httpd found for it: another one now is the module's to decide. */
    if (r->per_dir_config != (rq ? rq->dir : bbt_request_section(r)) &&
        bbt_request_is_ours(r)) {
        return bbt_inherit_promoted(r, rq);
    }
    if (!rq || !rq->allowed) {
        return DECLINED;
    }
    if (!here) {
        if (r->uri[0] != '/') {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "BBT785: %s %s was handed to the file %s, which "
                          "has no URL (a type map naming a file outside its "
                          "directory?): refused",
                          rq->method, rq->uri, r->filename);
            rq->allowed = 0;
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        return bbt_inherit_promoted(r, rq);
    }
    if (bbt_inherit_same(rq->method, r->method) &&
        bbt_inherit_same(rq->uri, r->uri) &&
        bbt_inherit_same(rq->args, r->args)) {
        return DECLINED;
    }
    /* Not the query strings: the URIs alone, as the module's other lines. */
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  "BBT783: %s %s was decided, then a fixup changed it in "
                  "place to %s %s with no new request to decide (a "
                  "per-directory RewriteRule to the same file with another "
                  "query string?): refused",
                  rq->method, rq->uri, r->method, r->uri);
    rq->allowed = 0;
    return HTTP_INTERNAL_SERVER_ERROR;
}

/* The section httpd found for r, when it is one of the module's: a request
 * it lets in without a login has no record to say so. */
static int bbt_inherit_section(request_rec *r)
{
    if (bbt_request_is_ours(r)) {
        bbt_request_note_section(r);
    }
    return OK;
}

void bbt_inherit_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_post_perdir_config(bbt_inherit_section, NULL, NULL,
                               APR_HOOK_MIDDLE);
    /* Before the module's other fixups, which act on the decision: they
     * are APR_HOOK_REALLY_FIRST too, and hooks of one order are not kept
     * in the order they were registered. */
    ap_hook_fixups(bbt_inherit_fixups, NULL, NULL, APR_HOOK_REALLY_FIRST - 1);
    /* After every other fixup, whichever changed the request. */
    ap_hook_fixups(bbt_inherit_changed_fixups, NULL, NULL,
                   APR_HOOK_REALLY_LAST + 1);
}
