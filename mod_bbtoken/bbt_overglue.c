/*
 * Method overrides held against the requests of the module's sections
 * (bbt_overglue.h).
 *
 * A request that logs in is checked in check_authn, before its
 * credentials are read.  But a section of AuthType BBToken may let some
 * requests in without a login: <RequireAny> with Require method GET HEAD
 * (anonymous reads), Require ip, Require all granted in a section below.
 * httpd decides those on the request line's method and never runs
 * check_authn, and a backend behind them that honours an override would
 * run the DELETE a GET was let in as.  So whatever reaches the fixups in
 * such a section without check_authn having checked it is checked there:
 * internal redirects and sub-requests too, each held to its own method.
 * There is no 401 to keep for a request without credentials: it was let
 * in, and the override is refused as it would be after a login.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_request.h"
#include "apr_strings.h"

#include "bbt_overglue.h"
#include "bbt_override.h"
#include "bbt_request.h"
#include "bbt_rest_refuse.h"

APLOG_USE_MODULE(bbtoken);

/* The name of a field of t that is a method override naming another
 * method than r's own, or NULL.  Every field is looked at, not the first
 * of each name: a table may hold a name twice, or in other cases, or with
 * "_" for "-". */
static const char *bbt_overglue_field(const request_rec *r,
                                      const apr_table_t *t)
{
    const apr_array_header_t *arr = apr_table_elts(t);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    int i;

    for (i = 0; i < arr->nelts; i++) {
        if (e[i].key && bbt_override_header(e[i].key) &&
            !bbt_override_value_ok(r->method, e[i].val ? e[i].val : "")) {
            return e[i].key;
        }
    }
    return NULL;
}

/* The name of r's method override that names another method than r's
 * own (a header's, or "_method"), or NULL. */
static const char *bbt_overglue_find(const request_rec *r)
{
    const char *what = bbt_overglue_field(r, r->headers_in);

    if (what) {
        return what;
    }
    return bbt_override_query_ok(r->method, r->args) ? NULL : "_method";
}

/* Refused: 400, the client's mistake, never a failed login. */
static int bbt_overglue_refuse(request_rec *r, const char *what)
{
    /* The name, not the value: the value is the client's text. */
    ap_log_rerror(APLOG_MARK, r->main ? APLOG_DEBUG : APLOG_INFO, 0, r,
                  "BBT043: %s %s refused: its %s names another method; a "
                  "backend that honours it would run what no route decided",
                  r->method, r->uri, ap_escape_logitem(r->pool, what));
    apr_table_setn(r->notes, "error-notes",
                   apr_pstrcat(r->pool,
                               "A method override (X-HTTP-Method-Override, "
                               "X-HTTP-Method, X-Method-Override or a _method "
                               "parameter) must name the request's own "
                               "method, ",
                               ap_escape_html(r->pool, r->method), ".", NULL));
    apr_table_setn(r->notes, BBT_REST_REFUSE_OVERRIDE, "1");
    return HTTP_BAD_REQUEST;
}

/* Before any credential or body is read. */
int bbt_overglue_check(request_rec *r, bbt_req_t *rq)
{
    const char *what = bbt_overglue_find(r);

    if (what) {
        return bbt_overglue_refuse(r, what);
    }
    if (rq) {
        rq->override_checked = 1;
    }
    return OK;
}

int bbt_overglue_trailers(request_rec *r)
{
    const char *what =
        r->trailers_in ? bbt_overglue_field(r, r->trailers_in) : NULL;

    return what ? bbt_overglue_refuse(
                      r, apr_pstrcat(r->pool, "trailer field ", what, NULL))
                : OK;
}

/* A request of a section of ours that check_authn did not check: let in
 * without a login, or let through on a decision httpd copied from the
 * request before it (bbt_inherit.c re-runs check_authn only when that
 * decision was for another method, URI or query string). */
static int bbt_overglue_fixups(request_rec *r)
{
    bbt_req_t *rq = bbt_req(r);
    const char *what;
    int status;

    /* The headers before the section: every request of the server passes
     * here, and looking for an override costs less than the AuthType's
     * expression that tells whether the section is ours. */
    if ((rq && rq->override_checked) || !(what = bbt_overglue_find(r)) ||
        !bbt_request_ours(r, rq)) {
        return DECLINED;
    }
    status = bbt_request_refused_early(r, bbt_overglue_refuse(r, what));
    return bbt_rest_refuse(r, status);
}

void bbt_overglue_register_hooks(apr_pool_t *p)
{
    (void)p;
    /* After bbt_inherit.c's fixups (APR_HOOK_REALLY_FIRST - 1), which may
     * run check_authn, and so check, again; before anything that acts on
     * the request (mod_rewrite's per-directory rules, the handler).  Among
     * the module's fixups of this same order (bbt_private.c's,
     * bbt_metrics.c's) which runs first does not matter: they change
     * nothing for a request without a verified record, and after a
     * refusal here none of them runs. */
    ap_hook_fixups(bbt_overglue_fixups, NULL, NULL, APR_HOOK_REALLY_FIRST);
}
