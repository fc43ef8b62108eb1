/*
 * A WebDAV LOCK in a section of AuthType BBToken lasts at most the
 * section's BBTokenDAVLockMaxTimeout, BBT_LOCKTIME_DEFAULT seconds unless
 * it says (bbt_locktime.h says why): its Timeout header is rewritten
 * before mod_dav's handler reads it.  mod_dav answers with the
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

#include "bbt_config.h"
#include "bbt_davlock.h"
#include "bbt_locktime.h"
#include "bbt_request.h"

static int bbt_davlock_fixups(request_rec *r)
{
    const bbt_dir_conf_t *conf;
    const char *asked;
    long secs;

    if (r->main || r->method_number != M_LOCK || !r->filename ||
        r->filename[0] != '/' || !bbt_request_ours(r, bbt_req(r))) {
        return DECLINED;
    }
    conf = bbt_config_dir(r);
    asked = apr_table_get(r->headers_in, "Timeout");
    secs = bbt_locktime(asked, conf && conf->lock_max ? conf->lock_max
                                                      : BBT_LOCKTIME_DEFAULT);
    apr_table_setn(r->headers_in, "Timeout",
                   apr_psprintf(r->pool, "Second-%ld", secs));
    return DECLINED;
}

/* Digits only, 1 to a week (bbt_locktime_cap).  A nested section that does
 * not say keeps its parent's value (bbt_config_merge_dir). */
const char *bbt_davlock_set_max(cmd_parms *cmd, void *dconf, const char *arg)
{
    const char *e = bbt_config_not_htaccess(cmd);
    long secs;

    if (e) {
        return e;
    }
    if ((secs = bbt_locktime_cap(arg)) < 0) {
        return apr_psprintf(cmd->pool,
                            "BBTokenDAVLockMaxTimeout: '%s' is not a number "
                            "of seconds from 1 to %ld",
                            arg, BBT_LOCKTIME_CAP_MAX);
    }
    ((bbt_dir_conf_t *)dconf)->lock_max = secs;
    return NULL;
}

void bbt_davlock_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_fixups(bbt_davlock_fixups, NULL, NULL, APR_HOOK_MIDDLE);
}
