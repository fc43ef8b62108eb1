/*
 * What the module counts, and where it shows: the handler bbtoken-metrics
 * (Prometheus's text format) and a section of mod_status's page.
 *
 * Requests are counted once per HTTP request, when it is logged, by what
 * was decided for the response the client got: the last request of its
 * internal redirects in a section of AuthType BBToken, an error page
 * (ErrorDocument) aside, which is only the body of the refusal before it.
 * "allowed" means authorization passed and the request went on to its
 * handler (whatever the handler then answered); otherwise the request's
 * status is the refusal, a fixup's too (after authorization, before the
 * handler: a RewriteRule [F] in a <Directory>).  That holds for the requests
 * httpd decides without the module too, in its sections: one let in without a
 * login is allowed, one refused before authentication (Require ip in a
 * <RequireAll>) counts by its status, or an alert on the 403s would miss
 * it.  Sub-requests are not counted: their answers are not responses, and
 * neither is the 101 of an h2c upgrade, whose stream 1 is.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_status.h"

#include <string.h>

#include "bbt_cache.h"
#include "bbt_expo.h"
#include "bbt_metrics.h"
#include "bbt_request.h"
#include "bbt_schema.h"
#include "bbt_stats.h"
#include "bbt_throttle.h"

#define BBT_METRICS_HANDLER "bbtoken-metrics"

static void bbt_metrics_emit(void *ctx, const char *text, size_t len)
{
    ap_rwrite(text, (int)len, ctx);
}

static int bbt_metrics_handler(request_rec *r)
{
    bbt_stats_snap_t snap;

    if (!r->handler || strcmp(r->handler, BBT_METRICS_HANDLER) != 0) {
        return DECLINED;
    }
    /* Read-only: the Allow header of a 405 says so. */
    ap_allow_methods(r, REPLACE_ALLOW, "GET", "HEAD", NULL);
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    bbt_throttle_gauge();
    bbt_cache_gauge();
    if (bbt_stats_snapshot(&snap) != 0) {
        /* BBT405 said why at startup. */
        return HTTP_SERVICE_UNAVAILABLE;
    }
    ap_set_content_type(r, BBT_EXPO_CONTENT_TYPE);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only) {
        bbt_expo_prometheus(&snap, BBT_VERSION, bbt_metrics_emit, r);
    }
    return OK;
}

static int bbt_metrics_status(request_rec *r, int flags)
{
    bbt_stats_snap_t snap;

    bbt_throttle_gauge();
    bbt_cache_gauge();
    if (bbt_stats_snapshot(&snap) == 0) {
        bbt_expo_status(&snap, !(flags & AP_STATUS_SHORT), bbt_metrics_emit, r);
    }
    bbt_cache_status(r, flags);
    return OK;
}

/* Authorization passed: the module's fixups act on the request as
 * allowed (bbt_inherit.c checks one a fixup changed in place).  That is
 * not yet what the metrics count: a fixup after this one may still refuse
 * it (a RewriteRule [F] in a <Directory>, a sub-request's 401 mod_dir
 * passes back). */
static int bbt_metrics_fixups(request_rec *r)
{
    bbt_req_t *rq = bbt_req(r);

    if (rq && rq->verified) {
        rq->allowed = 1;
    }
    return DECLINED;
}

/* Every fixup passed, the handler is next: a request the module allowed,
 * or one of its sections that check_authn never saw (httpd let it in
 * without a login), counts as allowed, whatever the handler answers.
 * Nothing is allocated: a request with either has its slot already. */
static void bbt_metrics_insert(request_rec *r)
{
    const bbt_req_t *rq = bbt_req(r);

    if (rq ? rq->allowed : bbt_request_section(r) != NULL) {
        bbt_request_set_handled(r);
    }
}

static bbt_stat_t bbt_metrics_outcome(int status, int allowed)
{
    if (allowed) {
        return BBT_STAT_ALLOWED;
    }
    switch (status) {
    case HTTP_BAD_REQUEST:
        return BBT_STAT_REFUSED_400;
    case HTTP_UNAUTHORIZED:
        return BBT_STAT_REFUSED_401;
    case HTTP_FORBIDDEN:
        return BBT_STAT_REFUSED_403;
    case HTTP_TOO_MANY_REQUESTS:
        return BBT_STAT_REFUSED_429;
    case HTTP_INTERNAL_SERVER_ERROR:
        return BBT_STAT_REFUSED_500;
    case HTTP_SERVICE_UNAVAILABLE:
        return BBT_STAT_REFUSED_503;
    default:
        return BBT_STAT_REFUSED_OTHER;
    }
}

/* The request an h2c upgrade switched its connection with: core's upgrade
 * handler answered it 101 once authorized, and mod_http2 replayed it as
 * stream 1 of the HTTP/2 session, authenticated again and answered: the
 * response the client got, and counted there.  A handler's own 101 (a
 * proxied WebSocket's) switches nothing and is the response. */
static int bbt_metrics_replayed(const request_rec *r)
{
    const char *protocol;

    if (r->status != HTTP_SWITCHING_PROTOCOLS || r->connection->master) {
        return 0;
    }
    protocol = ap_get_protocol(r->connection);
    return strcmp(protocol, "h2c") == 0 || strcmp(protocol, "h2") == 0;
}

/* Only what the earlier phases left in each request's slot: every
 * request of the server passes here. */
static int bbt_metrics_log(request_rec *r)
{
    const request_rec *o = r;

    /* From the response sent back to the request that asked. */
    while (o->next) {
        o = o->next;
    }
    for (; o; o = o->prev) {
        /* An error page (ap_die's internal redirect, the only one made
         * from a request that ended in an error) is not the response,
         * whatever its own section made of it: the refusal before it
         * is. */
        if (o->prev && ap_is_HTTP_ERROR(o->prev->status)) {
            continue;
        }
        /* Decided by the module, or, in a section of the module's, by
         * httpd alone: let in without a login, or refused before
         * authentication.  A request refused before httpd found its
         * section (a malformed one, a server-wide Redirect) is no
         * section's. */
        if (bbt_req(o) || bbt_request_section(o)) {
            if (!bbt_metrics_replayed(o)) {
                bbt_stats_count(
                    bbt_metrics_outcome(o->status, bbt_request_handled(o)));
            }
            break;
        }
    }
    return DECLINED;
}

static int bbt_metrics_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                                   apr_pool_t *ptemp, server_rec *s)
{
    (void)pconf;
    (void)plog;
    (void)ptemp;
    if (bbt_stats_init(s) == 0) {
        bbt_schema_post_config();
    }
    return OK;
}

void bbt_metrics_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_post_config(bbt_metrics_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(bbt_metrics_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_fixups(bbt_metrics_fixups, NULL, NULL, APR_HOOK_REALLY_FIRST);
    /* In ap_invoke_handler, after the last fixup, before the handler. */
    ap_hook_insert_filter(bbt_metrics_insert, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_log_transaction(bbt_metrics_log, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, bbt_metrics_status, NULL, NULL,
                      APR_HOOK_MIDDLE);
}
