/*
 * What the backend gets, and what it answers, once the module has
 * authenticated a request.
 *
 * The backend (a CGI, a proxy) has no use for the credentials: the fixups
 * hook removes the Authorization header before the handler runs, even with
 * CGIPassAuth On.  So by the time the response is written the request no
 * longer looks authenticated:
 * mod_cache's save filter, which refuses to store a response to a request
 * with Authorization, would store this one.  git-http-backend also marks
 * loose objects and packs "Cache-Control: public, max-age=31536000", which
 * invites shared caches downstream to keep them for anyone.  So:
 * r->no_cache for mod_cache, and a filter that turns the response's
 * Cache-Control private before the headers go out.
 *
 * What the routes serve is the users' content: a page uploaded over WebDAV,
 * a ref named x.html read over dumb HTTP.  Run as this site's origin, its
 * script could drive the access-tokens API with the browser's login of
 * whoever opens it.  So those responses carry Content-Security-Policy:
 * sandbox (a unique origin, no scripts) and X-Content-Type-Options:
 * nosniff (no guessing HTML out of something else): BBTokenSandbox.
 *
 * An h2c upgrade (Upgrade: h2c, RFC 7540 3.2) is answered by core's
 * upgrade handler, which runs as the first handler, after the fixups: it
 * sends 101 and hands the connection to mod_http2, which replays this
 * request, headers and all, as stream 1 of the new session.  That stream
 * is a request of its own and is authenticated anew; without the header
 * it would get 401, and git would erase its stored token.  So the header
 * the fixups took away is put back at the switch itself (protocol_switch,
 * before mod_http2's), when no handler or fixup of this request will run
 * any more, and taken away again before the request is logged: to a
 * request the module authenticated, whose stream 1 it authenticates
 * again.  Requests that are not upgraded (mod_http2 declines any with a
 * body) never see it again.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"

#include <string.h>

#include "bbt_cachectl.h"
#include "bbt_config.h"
#include "bbt_cred.h"
#include "bbt_private.h"
#include "bbt_request.h"

static const char bbt_private_filter_name[] = "BBTOKEN_PRIVATE";
/* Registered once; added by its handle, not looked up by name each time. */
static ap_filter_rec_t *bbt_private_filter_handle;

/* What bbt_cachectl_private makes of value, in r's pool. */
static const char *bbt_private_cache_control(request_rec *r, const char *value)
{
    size_t n = bbt_cachectl_private_size(value);

    return bbt_cachectl_private(value, apr_palloc(r->pool, n), n);
}

static apr_status_t bbt_private_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    const char *cc = apr_table_get(r->headers_out, "Cache-Control");
    const char *ecc = apr_table_get(r->err_headers_out, "Cache-Control");

    /* Once, before the first body bytes: the headers go out with them.
     * A CGI's own headers may sit in either table. */
    if (cc || !ecc) {
        apr_table_setn(r->headers_out, "Cache-Control",
                       bbt_private_cache_control(r, cc));
    }
    if (ecc) {
        apr_table_setn(r->err_headers_out, "Cache-Control",
                       bbt_private_cache_control(r, ecc));
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

/* Whether a request before r in this HTTP request was ours: its
 * Authorization header, which r shares (an internal redirect) or copied
 * (a sub-request), was read by the module, or was sent into a section of
 * the module's and refused there before any authentication hook ran (a
 * Require ip in a <RequireAll>, Require not, Deny from, a RewriteRule's
 * [F]): the module never saw that request, and its error page is r. */
static int bbt_private_ours_before(const request_rec *r)
{
    request_rec *o;

    for (o = r->prev ? r->prev : r->main; o; o = o->prev ? o->prev : o->main) {
        if (bbt_req(o) || bbt_request_is_ours(o)) {
            return 1;
        }
    }
    return 0;
}

/* Whether a request before r in this HTTP request ended in an error: r
 * is its error page (ap_die's internal redirect), or a sub-request of
 * that page.  Only a request that has one pays for the walk. */
static int bbt_private_after_error(const request_rec *r)
{
    const request_rec *o;

    for (o = r->prev ? r->prev : r->main; o; o = o->prev ? o->prev : o->main) {
        if (ap_is_HTTP_ERROR(o->status)) {
            return 1;
        }
    }
    return 0;
}

/* Proxy-Authorization is read by no one at this hop unless httpd is the
 * client's forward proxy (mod_auth_basic and mod_authz_svn read it only
 * then), yet CGIPassAuth On hands it to a CGI and mod_proxy forwards it
 * from a request with no user (an error page).  A token in it (git told
 * this server is its proxy, with the token as the proxy's password) is
 * taken away, wherever the module is loaded. */
static void bbt_private_proxy_authorization(request_rec *r)
{
    const char *pa;

    if (r->proxyreq != PROXYREQ_PROXY &&
        (pa = apr_table_get(r->headers_in, "Proxy-Authorization")) &&
        bbt_cred_holds_token(pa)) {
        apr_table_unset(r->headers_in, "Proxy-Authorization");
    }
}

/* The backend (a CGI, a proxy) has no use for the token: take it away.
 * What it answers was for the token's holder only: keep it out of caches.
 * A refused request never gets here, but its error page does (an
 * ErrorDocument is an internal redirect), in a section that may not be
 * ours: the credentials it was refused with, a right token short of
 * permission, a password nearly right, a token httpd's own access checks
 * turned away before the module read it, are not that page's either.  Nor
 * are the credentials of a request in our section that httpd let in
 * without asking for a login (Require ip in a <RequireAny>, Require all
 * granted): nobody read them, and the backend still must not see them.
 * Nor, wherever the module is loaded, are credentials shaped like a token
 * that httpd refused before it knew the request's section, so that nothing
 * marks the request as ours: a %2F under AllowEncodedSlashes Off (404), a
 * malformed request (400), a symlink Options refuses (403), a broken
 * .htaccess (500).  A password, or another scheme's credential, is left
 * to that page: it may be some other module's to read. */
/* BBTokenSandbox.  Before the section's access checks, so that a refusal
 * served here (401, 403: its body may be an ErrorDocument or a module's
 * page) is sandboxed as the content is.  In err_headers_out, which an
 * internal redirect shares and an error page keeps; a sandbox the backend
 * set too only narrows it.  httpd runs this hook for no sub-request. */
static void bbt_private_sandbox_set(request_rec *r, int ours)
{
    if (!r->main && bbt_config_sandbox(bbt_config_dir(r), ours)) {
        bbt_private_sandbox_always(r);
    }
}

void bbt_private_sandbox_always(request_rec *r)
{
    apr_table_setn(r->err_headers_out, "Content-Security-Policy", "sandbox");
    apr_table_setn(r->err_headers_out, "X-Content-Type-Options", "nosniff");
}

static int bbt_private_sandbox(request_rec *r)
{
    bbt_private_sandbox_set(r, bbt_request_ours(r, bbt_req(r)));
    return DECLINED;
}

/* What the fixups do, for r as it is now; promoted: r was decided again
 * after they ran (bbt_inherit.c), and any filter of r's is in its chain
 * already. */
static void bbt_private_take(request_rec *r, int promoted)
{
    bbt_req_t *rq = bbt_req(r);
    ap_filter_t *f;

    /* The error page of a request of the module's keeps its status:
     * core's upgrade handler would switch an "Upgrade: h2c" request to
     * HTTP/2 at the page and answer its URL again as a new request, 200,
     * without the refusal's challenge or its sandbox (git would not ask
     * for a login).  Its internal redirects share one headers_in. */
    if (r->prev && bbt_private_after_error(r) && bbt_private_ours_before(r)) {
        apr_table_unset(r->headers_in, "Upgrade");
    }

    if (rq && rq->verified) {
        const char *auth = bbt_request_authorization(r);

        if (auth) {
            rq->authorization = auth;
        }
        apr_table_unset(r->headers_in, "Authorization");
        r->no_cache = 1;
        for (f = promoted ? r->output_filters : NULL; f; f = f->next) {
            if (f->frec == bbt_private_filter_handle) {
                break;
            }
        }
        if (!f) {
            ap_add_output_filter_handle(bbt_private_filter_handle, NULL, r,
                                        r->connection);
        }
    } else if (bbt_request_ours(r, rq)) {
        /* Kept for a later request of this one that asks for a login (an
         * internal redirect into a guarded section), as the header would
         * have been; and mod_cache, which stores no answer to a request
         * with credentials, is told so without it. */
        const char *auth = apr_table_get(r->headers_in, "Authorization");

        if (auth) {
            bbt_request_set_taken(r, auth);
            apr_table_unset(r->headers_in, "Authorization");
            r->no_cache = 1;
        }
    } else if (bbt_private_ours_before(r)) {
        apr_table_unset(r->headers_in, "Authorization");
    } else if ((r->prev || r->main) && bbt_private_after_error(r)) {
        const char *auth = apr_table_get(r->headers_in, "Authorization");

        if (auth && bbt_cred_holds_token(auth)) {
            apr_table_unset(r->headers_in, "Authorization");
        }
    }
    bbt_private_proxy_authorization(r);
}

static int bbt_private_fixups(request_rec *r)
{
    bbt_private_take(r, 0);
    return DECLINED;
}

void bbt_private_promoted(request_rec *r)
{
    bbt_private_sandbox_set(r, bbt_request_ours(r, bbt_req(r)));
    bbt_private_take(r, 1);
}

/* The header the fixups took from this HTTP request (its internal
 * redirects share one headers_in), or NULL. */
static const char *bbt_private_taken(const request_rec *r)
{
    while (r->prev) {
        r = r->prev;
    }
    for (; r; r = r->next) {
        const bbt_req_t *rq = bbt_req(r);

        if (rq && rq->authorization) {
            return rq->authorization;
        }
    }
    return NULL;
}

/* The request becomes stream 1 of an HTTP/2 session, which mod_http2
 * builds from its headers: give the credentials back to it alone.  The
 * stream is authenticated again, and its own fixups take them away.  Only
 * when the module authenticated this very request: the one upgraded may
 * be an internal redirect of the one that was (a POST is not upgraded,
 * the GET its CGI's local Location makes is) into a section the module
 * does not guard, whose backend would be handed the token. */
static int bbt_private_protocol_switch(conn_rec *c, request_rec *r,
                                       server_rec *s, const char *protocol)
{
    const bbt_req_t *rq;
    const char *auth;

    (void)c;
    (void)s;
    if (!r || r->main ||
        (strcmp(protocol, "h2c") != 0 && strcmp(protocol, "h2") != 0) ||
        !(rq = bbt_req(r)) || !rq->verified) {
        return DECLINED;
    }
    if ((auth = bbt_private_taken(r)) != NULL) {
        apr_table_setn(r->headers_in, "Authorization", auth);
    }
    return DECLINED;
}

/* After a switch the upgraded request is only logged: not with the
 * credentials (a LogFormat with %{Authorization}i). */
static int bbt_private_log(request_rec *r)
{
    if (bbt_private_taken(r)) {
        apr_table_unset(r->headers_in, "Authorization");
    }
    return DECLINED;
}

void bbt_private_register_hooks(apr_pool_t *p)
{
    static const char *const http2[] = {"mod_http2.c", NULL};

    (void)p;
    ap_hook_header_parser(bbt_private_sandbox, NULL, NULL,
                          APR_HOOK_REALLY_FIRST);
    ap_hook_fixups(bbt_private_fixups, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_protocol_switch(bbt_private_protocol_switch, NULL, http2,
                            APR_HOOK_REALLY_FIRST);
    ap_hook_log_transaction(bbt_private_log, NULL, NULL, APR_HOOK_REALLY_FIRST);
    /* Any type before the protocol filters that write the headers will do;
     * mod_cache is kept away by r->no_cache, not by this filter. */
    bbt_private_filter_handle =
        ap_register_output_filter(bbt_private_filter_name, bbt_private_filter,
                                  NULL, AP_FTYPE_CONTENT_SET);
}
