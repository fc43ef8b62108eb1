/*
 * Responses to token-authenticated requests are private.
 *
 * The module removes the Authorization header before the handler runs, so
 * by the time the response is written it no longer looks authenticated:
 * mod_cache's save filter, which refuses to store a response to a request
 * with Authorization, would store this one.  git-http-backend also marks
 * loose objects and packs "Cache-Control: public, max-age=31536000", which
 * invites shared caches downstream to keep them for anyone.  So:
 * r->no_cache for mod_cache, and a filter that turns the response's
 * Cache-Control private before the headers go out.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "util_filter.h"

#include "bbt_cachectl.h"
#include "bbt_private.h"

static const char bbt_private_filter_name[] = "BBTOKEN_PRIVATE";

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

void bbt_private_response(request_rec *r)
{
    r->no_cache = 1;
    ap_add_output_filter(bbt_private_filter_name, NULL, r, r->connection);
}

void bbt_private_register_hooks(apr_pool_t *p)
{
    (void)p;
    /* Any type before the protocol filters that write the headers will do;
     * mod_cache is kept away by r->no_cache, not by this filter. */
    ap_register_output_filter(bbt_private_filter_name, bbt_private_filter, NULL,
                              AP_FTYPE_CONTENT_SET);
}
