/*
 * A WebDAV LOCK in a section of AuthType BBToken lasts at most
 * BBT_LOCKTIME_MAX seconds (bbt_locktime.h says why): its Timeout header
 * is rewritten before mod_dav's handler reads it.  mod_dav answers with the
 * timeout it granted, and a client refreshes a lock it still needs.
 *
 * Only where the URL maps to a file (mod_dav_fs, git http-push's tree):
 * mod_dav_svn maps none, and its locks are Subversion's, which any writer
 * may break (svn unlock --force) and which are meant to last.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"

#include "bbt_davlock.h"
#include "bbt_locktime.h"
#include "bbt_request.h"

static int bbt_davlock_fixups(request_rec *r)
{
    const char *asked;
    long secs;

    if (r->main || r->method_number != M_LOCK || !r->filename ||
        r->filename[0] != '/' || !bbt_request_ours(r, bbt_req(r))) {
        return DECLINED;
    }
    asked = apr_table_get(r->headers_in, "Timeout");
    secs = bbt_locktime(asked, BBT_LOCKTIME_MAX);
    apr_table_setn(r->headers_in, "Timeout",
                   apr_psprintf(r->pool, "Second-%ld", secs));
    return DECLINED;
}

void bbt_davlock_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_fixups(bbt_davlock_fixups, NULL, NULL, APR_HOOK_MIDDLE);
}
