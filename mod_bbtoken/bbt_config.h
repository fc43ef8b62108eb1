/*
 * The module's configuration: per-section (routes, password providers) and
 * per-server (the last-use interval, the cache) settings, and the
 * directives that set them.  Route text is compiled here, at configuration
 * time.
 */
#ifndef BBT_CONFIG_H
#define BBT_CONFIG_H

#include "httpd.h"
#include "http_config.h"
#include "mod_auth.h"

#include "bbt_rules.h"

/* An authn provider that checks ordinary passwords beside tokens. */
typedef struct {
    const char *name;
    const authn_provider *provider;
} bbt_authn_t;

typedef struct {
    /* The routes of this section; NULL: none set here (inherit).  A
     * section that sets any route replaces its parent's list. */
    bbt_rules_t *rules;
    /* BBTokenRoutes none was said in this section, which then may set no
     * route (read only while the section's directives are). */
    int routes_none;
    /* The routes were set in a section (<Location>, <Directory>, <Files>,
     * <If>), not at server or virtual-host level: such routes make the
     * section the module's, whatever its AuthType (bbt_config_governs). */
    int routes_section;
    /* AuthBBTokenProvider, bbt_authn_t in order; NULL: not set here
     * (inherit). */
    apr_array_header_t *authn;
    /* BBTokenSandbox: 1 On, 0 Off, -1 not set here (inherit; default on
     * where there are routes). */
    int sandbox;
    /* BBTokenDAVLockMaxTimeout, in seconds (bbt_davlock.c); 0: not set
     * here (inherit; BBT_LOCKTIME_DEFAULT where no section says). */
    long lock_max;
    /* A Require bbtoken was read in this section or one it merges with
     * (bbt_authz.c): only then are a password user's own grants read, as
     * nothing else decides by them.  Any section's counts, whatever
     * AuthMerging says: one too many is a lookup Require valid-user does
     * not need, never one missing. */
    int require_bbtoken;
} bbt_dir_conf_t;

/* The module record's configuration entries (mod_bbtoken.c). */
void *bbt_config_create_dir(apr_pool_t *p, char *dir);
void *bbt_config_merge_dir(apr_pool_t *p, void *basev, void *addv);
void *bbt_config_create_srv(apr_pool_t *p, server_rec *s);
void *bbt_config_merge_srv(apr_pool_t *p, void *basev, void *addv);
extern const command_rec bbt_config_cmds[];

/* NULL if the directive being read may set who gets in, and what is
 * served runs as: not in .htaccess, not in <Limit> (the message if not). */
const char *bbt_config_not_htaccess(cmd_parms *cmd);

/* The section's settings for r. */
const bbt_dir_conf_t *bbt_config_dir(const request_rec *r);

/* 1 if a .htaccess file was read for r (or the request before it): what
 * r->per_dir_config says may then be a file's that a writer of the tree
 * wrote, not the server's. */
int bbt_config_htaccess_read(const request_rec *r);

/* 1 if the module governs r, whose section's configuration is conf, so
 * that its refusals of what it cannot route safely (a .htaccess, TRACE, a
 * Destination's checks) hold: conf has routes (BBTokenRoutes none too),
 * and a section set them or r's AuthType is BBToken.  Routes given at
 * server or virtual-host level are the defaults of the module's sections
 * and govern nothing else of the server.  Where a .htaccess file was read
 * for r, whose <If> may have taken the AuthType away, the AuthType that
 * the server's configuration and its <Location>s give r counts too. */
int bbt_config_governs(request_rec *r, const bbt_dir_conf_t *conf);

/* 1 if what this section serves must not run as the site's origin
 * (BBTokenSandbox): On, or not set where the section has routes and is
 * ours (AuthType BBToken). */
int bbt_config_sandbox(const bbt_dir_conf_t *conf, int ours);

/* BBTokenLastUseInterval of server s, in seconds. */
int bbt_config_last_use_interval(const server_rec *s);

/* BBTokenDBWait of server s, in seconds. */
int bbt_config_db_wait(const server_rec *s);
/* BBTokenCache of server s: 1 unless it says off. */
int bbt_config_cache(const server_rec *s);

/* BBTokenCacheSize (of the main server s), in bytes. */
apr_size_t bbt_config_cache_size(const server_rec *s);

/* BBTokenThrottle of server s: 1 unless it says off. */
int bbt_config_throttle(const server_rec *s);

/* The main server's BBTokenThrottleFailures, BBTokenThrottleWindow (in
 * seconds) and BBTokenThrottleTokens (1: refuse). */
/* BBTokenThrottleSize: the throttle's shared memory, in bytes (the main
 * server's). */
apr_size_t bbt_config_throttle_size(const server_rec *s);
int bbt_config_throttle_failures(const server_rec *s);
int bbt_config_throttle_window(const server_rec *s);
int bbt_config_throttle_tokens(const server_rec *s);

#endif
