/*
 * mod_bbtoken: Bitbucket Data Center personal access tokens for httpd.
 *
 * This file is the module record and nothing more.  Where things happen:
 *
 *   bbt_config.c    directives, sections, route files; bbt_confcheck.c
 *                   warns at startup of routes without AuthType BBToken
 *                   and the other way round; bbt_confreq.c of Require
 *                   lines httpd merges all inside <Limit>
 *   bbt_routing.c   which route decides a request (and its Destination);
 *                   project keys mapped before httpd maps the URL
 *   bbt_reqbody.c   a body a route reads, kept for the handler
 *   bbt_authn.c     reading credentials, password providers, verifying a
 *                   token (check_authn, AuthType BBToken); bbt_throttle.c
 *                   answers 429 to an address after too many failures
 *   bbt_authz.c     the 403 gate, Require bbtoken, the 401 challenges
 *   bbt_private.c   what the backend gets and answers: no credentials, a
 *                   private response; the credentials given back to an
 *                   h2c upgrade's stream 1
 *   bbt_request.c   what one request learned, for the phases after authn
 *   bbt_verify.c    a token's verdict: from the cache or the database
 *   bbt_cache.c     the cache's socache and shared memory; bbt_listen.c
 *                   its listener (PostgreSQL's notifications, through
 *                   mod_watchdog; bbt_wdcall.c keeps its calls off the
 *                   child's exit); bbt_cseg.c its shmcb segments (the
 *                   refusals' apart), bbt_socache.c a shared socache
 *   bbt_db.c        mod_dbd, the prepared statements;
 *                   bbt_dblookup.c the statements a verification runs;
 *                   bbt_dbwrite.c the throttled writes (last use);
 *                   bbt_dbgate.c bounds the wait for one of its
 *                   connections; bbt_dbsession.c runs DBDInitSQL again
 *                   on a reconnected one; bbt_logguard.c keeps httpd's
 *                   logs free of credentials; bbt_rest.c the access-tokens
 *                   REST API
 *   bbt_configtest.c  the mistakes configtest refuses (check_config)
 *   bbt_metrics.c   counting requests, the bbtoken-metrics handler,
 *                   mod_status's section (bbt_stats.c: the counters)
 *
 * The decisions live in the core (bbt_token, bbt_cred, bbt_rules,
 * bbt_perm, bbt_decide, bbt_verdict, bbt_centry), which knows nothing of
 * request_rec.
 *
 * All of it runs per URI, not per configuration section: an internal
 * redirect or sub-request to another URI in the same <Location> is decided
 * again for the URI it really serves.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_core.h"

#include "bbt_authn.h"
#include "bbt_authz.h"
#include "bbt_cache.h"
#include "bbt_config.h"
#include "bbt_confcheck.h"
#include "bbt_configtest.h"
#include "bbt_db.h"
#include "bbt_davlock.h"
#include "bbt_dbgate.h"
#include "bbt_destcheck.h"
#include "bbt_dbsession.h"
#include "bbt_htaccess.h"
#include "bbt_inherit.h"
#include "bbt_listen.h"
#include "bbt_logguard.h"
#include "bbt_metrics.h"
#include "bbt_overglue.h"
#include "bbt_private.h"
#include "bbt_reqbody.h"
#include "bbt_rest.h"
#include "bbt_rest_refuse.h"
#include "bbt_routing.h"
#include "bbt_throttle.h"
#include "bbt_verify.h"

/* Built with -fvisibility=hidden: httpd finds the module by this one
 * symbol, and nothing else of the module is anyone else's to see. */
#if defined(__GNUC__)
__attribute__((visibility("default")))
#endif
module AP_MODULE_DECLARE_DATA bbtoken_module;

static int bbt_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp)
{
    (void)plog;
    (void)ptemp;
    bbt_cache_pre_config(pconf);
    bbt_throttle_pre_config(pconf);
    return OK;
}

static int bbt_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s)
{
    (void)plog;
    if (bbt_db_init() != 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "BBT001: mod_dbd is not loaded: mod_bbtoken needs it "
                     "(LoadModule dbd_module ...)");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    bbt_logguard_post_config(pconf, s);
    /* Once per start or restart: not for the first pass, a dry run. */
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     "BBT404: mod_bbtoken " BBT_VERSION " started");
    }
    bbt_verify_post_config(pconf, s);
    if (bbt_throttle_post_config(pconf, ptemp, s) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return bbt_cache_post_config(
        pconf, ptemp, s, bbt_listen_available() ? bbt_listen_register : NULL);
}

static void bbt_child_init(apr_pool_t *pchild, server_rec *s)
{
    bbt_cache_child_init(pchild, s);
    bbt_listen_child_init(pchild, s);
    /* After the listener's: pchild's pre-cleanups run last registered
     * first.  A prefork request's connection goes back before the child
     * waits for the listener's call, which may itself be waiting in
     * mod_dbd's pool (no time limit) for that connection when all DBDMax
     * are out: the other way round the child would wait its 5 s, and the
     * connection given back after would let that call run on as the
     * child's pool goes. */
    bbt_db_child_init(pchild);
    bbt_throttle_child_init(pchild, s);
}

static void bbt_register_hooks(apr_pool_t *p)
{
    /* The cache registers its listener with mod_watchdog, and opens its
     * mutex in each child before the listener's thread starts. */
    static const char *const watchdog[] = {"mod_watchdog.c", NULL};

    ap_hook_pre_config(bbt_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(bbt_post_config, NULL, watchdog, APR_HOOK_MIDDLE);
    ap_hook_child_init(bbt_child_init, NULL, watchdog, APR_HOOK_MIDDLE);
    bbt_configtest_register_hooks(p);
    /* Its fixups first: the others act on the decision it may make. */
    bbt_inherit_register_hooks(p);
    bbt_htaccess_register_hooks(p);
    bbt_metrics_register_hooks(p);
    bbt_logguard_register_hooks(p);
    bbt_routing_register_hooks(p);
    bbt_destcheck_register_hooks(p);
    bbt_reqbody_register_hooks(p);
    bbt_authn_register_hooks(p);
    bbt_overglue_register_hooks(p);
    bbt_authz_register_hooks(p);
    bbt_private_register_hooks(p);
    bbt_davlock_register_hooks(p);
    bbt_rest_register_hooks(p);
    bbt_rest_refuse_register_hooks(p);
    bbt_dbgate_register_hooks(p);
    bbt_dbsession_register_hooks(p);
    bbt_confcheck_register_hooks(p);
}

AP_DECLARE_MODULE(bbtoken) = {
    STANDARD20_MODULE_STUFF, bbt_config_create_dir, /* per-directory config */
    bbt_config_merge_dir,  /* merge per-directory config */
    bbt_config_create_srv, /* per-server config */
    bbt_config_merge_srv,  /* merge per-server config */
    bbt_config_cmds,       /* directives */
    bbt_register_hooks,    /* hooks */
    AP_MODULE_FLAG_NONE,
};
