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
#include "apr_strings.h"

#include <string.h>

#include "bbt_private.h"

static const char bbt_private_filter_name[] = "BBTOKEN_PRIVATE";

static int bbt_private_directive(const char *d, const char *name)
{
    size_t n = strlen(name);

    return strncasecmp(d, name, n) == 0 && (d[n] == '\0' || d[n] == '=');
}

const char *bbt_private_cache_control(apr_pool_t *p, const char *value)
{
    char *copy, *d, *state = NULL;
    const char *out = NULL;
    int no_store = 0;

    if (!value) {
        return "private";
    }
    copy = apr_pstrdup(p, value);
    for (d = apr_strtok(copy, ",", &state); d;
         d = apr_strtok(NULL, ",", &state)) {
        char *end;

        while (*d == ' ' || *d == '\t') {
            d++;
        }
        end = d + strlen(d);
        while (end > d && (end[-1] == ' ' || end[-1] == '\t')) {
            *--end = '\0';
        }
        if (!*d || bbt_private_directive(d, "public") ||
            bbt_private_directive(d, "s-maxage") ||
            bbt_private_directive(d, "private")) {
            continue;
        }
        no_store |= bbt_private_directive(d, "no-store");
        out = out ? apr_pstrcat(p, out, ", ", d, NULL) : d;
    }
    if (no_store) {
        return out;
    }
    return out ? apr_pstrcat(p, "private, ", out, NULL) : "private";
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
                       bbt_private_cache_control(r->pool, cc));
    }
    if (ecc) {
        apr_table_setn(r->err_headers_out, "Cache-Control",
                       bbt_private_cache_control(r->pool, ecc));
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
