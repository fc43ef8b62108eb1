/*
 * Configuration: the directives' table, AuthBBTokenProvider,
 * BBTokenLastUseInterval, BBTokenCache, BBTokenCacheSize, the
 * BBTokenThrottle directives, and how sections merge.  BBTokenRoutes and
 * BBTokenRoute are read in bbt_confroutes.c, BBTokenDAVLockMaxTimeout in
 * bbt_davlock.c, beside the value's one reader.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_request.h"
#include "ap_provider.h"
#include "apr_lib.h"
#include "apr_strings.h"

#include <string.h>

#include "bbt_config.h"
#include "bbt_confroutes.h"
#include "bbt_davlock.h"
#include "bbt_request.h"
#include "bbt_rules.h"
#include "bbt_throttle.h"

APLOG_USE_MODULE(bbtoken);

/* Server-wide settings (server config, virtual host). */
typedef struct {
    int last_use_interval;     /* seconds; -1: not set here */
    int db_wait;               /* seconds; -1: not set here */
    int cache;                 /* BBTokenCache: 1 on, 0 off, -1 not set here */
    apr_int64_t cache_size;    /* BBTokenCacheSize (main server); -1 not set */
    apr_int64_t throttle_size; /* BBTokenThrottleSize (main server); -1 */
    int throttle;              /* BBTokenThrottle: 1 on, 0 off, -1 not set */
    /* The main server's alone, -1 not set: BBTokenThrottleFailures,
     * BBTokenThrottleWindow (seconds), BBTokenThrottleTokens (1 refuse). */
    int throttle_failures;
    int throttle_window;
    int throttle_tokens;
} bbt_srv_conf_t;

#define BBT_LAST_USE_DEFAULT 60
#define BBT_LAST_USE_MAX 86400
#define BBT_DB_WAIT_DEFAULT 5
#define BBT_DB_WAIT_MAX 300
/* shmcb takes 8 KiB to just under 64 MiB; below 64 KiB it would hold too
 * few entries to be worth its lock. */
#define BBT_CACHE_SIZE_DEFAULT (4 * 1024 * 1024)
#define BBT_CACHE_SIZE_MIN (64 * 1024)
#define BBT_CACHE_SIZE_MAX (64 * 1024 * 1024 - 1)
/* The throttle's table, in the same bounds: an address takes one entry
 * of 24 bytes, so 1 MiB holds over forty thousand. */
#define BBT_THROTTLE_SIZE_DEFAULT (1024 * 1024)
/* A few dozen a minute: more than anyone mistypes, few enough that a
 * guesser gets nowhere. */
#define BBT_THROTTLE_FAILURES_DEFAULT 30
#define BBT_THROTTLE_FAILURES_MAX 100000
#define BBT_THROTTLE_WINDOW_DEFAULT 60

void *bbt_config_create_dir(apr_pool_t *p, char *dir)
{
    bbt_dir_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    (void)dir;
    conf->sandbox = -1;
    return conf;
}

void *bbt_config_merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    bbt_dir_conf_t *base = basev, *add = addv;
    bbt_dir_conf_t *conf = apr_palloc(p, sizeof(*conf));

    /* Replace, never append: a section's routes are read alone, so a
     * broader route merged before them never wins over its own.  Which is
     * merged last is httpd's order, not the paths' (the last <Location>
     * written): BBT362 says where that leaves a narrower section's out. */
    conf->rules = add->rules ? add->rules : base->rules;
    conf->routes_none = add->rules ? add->routes_none : base->routes_none;
    conf->routes_section =
        add->rules ? add->routes_section : base->routes_section;
    conf->authn = add->authn ? add->authn : base->authn;
    conf->sandbox = add->sandbox != -1 ? add->sandbox : base->sandbox;
    conf->lock_max = add->lock_max ? add->lock_max : base->lock_max;
    conf->require_bbtoken = base->require_bbtoken || add->require_bbtoken;
    return conf;
}

void *bbt_config_create_srv(apr_pool_t *p, server_rec *s)
{
    bbt_srv_conf_t *sc = apr_palloc(p, sizeof(*sc));

    (void)s;
    sc->last_use_interval = -1;
    sc->db_wait = -1;
    sc->cache = -1;
    sc->cache_size = -1;
    sc->throttle_size = -1;
    sc->throttle = -1;
    sc->throttle_failures = -1;
    sc->throttle_window = -1;
    sc->throttle_tokens = -1;
    return sc;
}

void *bbt_config_merge_srv(apr_pool_t *p, void *basev, void *addv)
{
    bbt_srv_conf_t *base = basev, *add = addv;
    bbt_srv_conf_t *sc = apr_palloc(p, sizeof(*sc));

    sc->last_use_interval = add->last_use_interval != -1
                                ? add->last_use_interval
                                : base->last_use_interval;
    sc->db_wait = add->db_wait != -1 ? add->db_wait : base->db_wait;
    sc->cache = add->cache != -1 ? add->cache : base->cache;
    sc->cache_size = base->cache_size; /* the main server's alone */
    sc->throttle_size = base->throttle_size;
    sc->throttle = add->throttle != -1 ? add->throttle : base->throttle;
    sc->throttle_failures = base->throttle_failures;
    sc->throttle_window = base->throttle_window;
    sc->throttle_tokens = base->throttle_tokens;
    return sc;
}

const bbt_dir_conf_t *bbt_config_dir(const request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &bbtoken_module);
}

int bbt_config_htaccess_read(const request_rec *r)
{
    const struct htaccess_result *h;

    for (h = r->htaccess; h; h = h->next) {
        if (h->htaccess) {
            return 1;
        }
    }
    return 0;
}

/* Whether r's AuthType is BBToken as the server's configuration, its
 * <Location>s and their <If>s say, where no .htaccess file reaches: a
 * <Location> is merged after the directory walk, but an <If> of a
 * .htaccess after every <Location>. */
static int bbt_config_ours_by_location(request_rec *r)
{
    struct ap_conf_vector_t *before = r->per_dir_config;
    int ours;

    r->per_dir_config = r->server->lookup_defaults;
    ours = ap_location_walk(r) == OK && ap_if_walk(r) == OK &&
           bbt_request_is_ours(r);
    /* As it was: the walks keep their results, and merge them onto it
     * again when asked. */
    r->per_dir_config = before;
    return ours;
}

int bbt_config_governs(request_rec *r, const bbt_dir_conf_t *conf)
{
    if (!conf || !conf->rules) {
        return 0;
    }
    if (conf->routes_section || bbt_request_is_ours(r)) {
        return 1;
    }
    return bbt_config_htaccess_read(r) && bbt_config_ours_by_location(r);
}

int bbt_config_sandbox(const bbt_dir_conf_t *conf, int ours)
{
    if (!conf || conf->sandbox == 0) {
        return 0;
    }
    return conf->sandbox == 1 ||
           (ours && conf->rules && bbt_rules_count(conf->rules) > 0);
}

int bbt_config_last_use_interval(const server_rec *s)
{
    const bbt_srv_conf_t *sc =
        ap_get_module_config(s->module_config, &bbtoken_module);

    return sc && sc->last_use_interval != -1 ? sc->last_use_interval
                                             : BBT_LAST_USE_DEFAULT;
}

int bbt_config_db_wait(const server_rec *s)
{
    const bbt_srv_conf_t *sc =
        ap_get_module_config(s->module_config, &bbtoken_module);

    return sc && sc->db_wait != -1 ? sc->db_wait : BBT_DB_WAIT_DEFAULT;
}

int bbt_config_cache(const server_rec *s)
{
    const bbt_srv_conf_t *sc =
        ap_get_module_config(s->module_config, &bbtoken_module);

    return !sc || sc->cache != 0;
}

apr_size_t bbt_config_cache_size(const server_rec *s)
{
    const bbt_srv_conf_t *sc =
        ap_get_module_config(s->module_config, &bbtoken_module);

    return sc && sc->cache_size != -1 ? (apr_size_t)sc->cache_size
                                      : BBT_CACHE_SIZE_DEFAULT;
}

static const bbt_srv_conf_t *bbt_srv(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &bbtoken_module);
}

int bbt_config_throttle(const server_rec *s)
{
    return bbt_srv(s)->throttle != 0;
}

apr_size_t bbt_config_throttle_size(const server_rec *s)
{
    apr_int64_t n = bbt_srv(s)->throttle_size;

    return n != -1 ? (apr_size_t)n : BBT_THROTTLE_SIZE_DEFAULT;
}

int bbt_config_throttle_failures(const server_rec *s)
{
    int n = bbt_srv(s)->throttle_failures;

    return n != -1 ? n : BBT_THROTTLE_FAILURES_DEFAULT;
}

int bbt_config_throttle_window(const server_rec *s)
{
    int n = bbt_srv(s)->throttle_window;

    return n != -1 ? n : BBT_THROTTLE_WINDOW_DEFAULT;
}

int bbt_config_throttle_tokens(const server_rec *s)
{
    return bbt_srv(s)->throttle_tokens == 1;
}

/* Who gets in, and whether what is served may run as the site, are the
 * site's to say: never a .htaccess file's, even where AllowOverrideList
 * names the directive (httpd then lets in whatever it names).  Nor a
 * <Limit>'s or <LimitExcept>'s: httpd takes these directives there, but
 * they hold for every method of the section, so that a route written for
 * GET alone would serve a PUT too. */
const char *bbt_config_not_htaccess(cmd_parms *cmd)
{
    return ap_check_cmd_context(cmd, NOT_IN_HTACCESS | NOT_IN_LIMIT);
}

/* AuthBBTokenProvider NAME...|none: authn providers for ordinary
 * passwords.  "none" is an empty list, so that a nested section can take
 * away its parent's providers (bbt_config_merge_dir keeps any list a
 * section set); it stands alone in its section. */
static const char *bbt_set_authn(cmd_parms *cmd, void *dconf, const char *arg)
{
    bbt_dir_conf_t *conf = dconf;
    bbt_authn_t *a;
    const authn_provider *prov;
    const char *e = bbt_config_not_htaccess(cmd);

    if (e) {
        return e;
    }
    if (conf->authn && (conf->authn->nelts == 0 || !strcmp(arg, "none"))) {
        return "AuthBBTokenProvider: 'none' stands alone: a section that "
               "says it names no provider";
    }
    if (!strcmp(arg, "none")) {
        conf->authn = apr_array_make(cmd->pool, 1, sizeof(bbt_authn_t));
        return NULL;
    }
    prov =
        ap_lookup_provider(AUTHN_PROVIDER_GROUP, arg, AUTHN_PROVIDER_VERSION);
    if (!prov) {
        return apr_psprintf(cmd->pool,
                            "AuthBBTokenProvider: unknown authn provider "
                            "'%s' (is mod_authn_%s loaded?)",
                            arg, arg);
    }
    if (!prov->check_password) {
        return apr_psprintf(cmd->pool,
                            "AuthBBTokenProvider: provider '%s' cannot check "
                            "passwords",
                            arg);
    }
    if (!conf->authn) {
        conf->authn = apr_array_make(cmd->pool, 2, sizeof(bbt_authn_t));
    }
    a = apr_array_push(conf->authn);
    a->name = apr_pstrdup(cmd->pool, arg);
    a->provider = prov;
    return NULL;
}

static const char *bbt_set_sandbox(cmd_parms *cmd, void *dconf, int on)
{
    const char *e = bbt_config_not_htaccess(cmd);

    if (e) {
        return e;
    }
    ((bbt_dir_conf_t *)dconf)->sandbox = on;
    return NULL;
}

/* Seconds from 0 to max: digits only, so " 5", "+5" and "5s" are
 * refused, not guessed.  -1 if arg is not one. */
static int bbt_seconds(const char *arg, int max)
{
    size_t n = strspn(arg, "0123456789");
    apr_int64_t secs = apr_atoi64(arg);

    return n == 0 || n > 6 || arg[n] != '\0' || secs > max ? -1 : (int)secs;
}

static const char *bbt_set_last_use(cmd_parms *cmd, void *dconf,
                                    const char *arg)
{
    bbt_srv_conf_t *sc =
        ap_get_module_config(cmd->server->module_config, &bbtoken_module);

    (void)dconf;
    if ((sc->last_use_interval = bbt_seconds(arg, BBT_LAST_USE_MAX)) < 0) {
        return apr_psprintf(cmd->pool,
                            "BBTokenLastUseInterval: '%s' is not a number of "
                            "seconds from 0 to %d",
                            arg, BBT_LAST_USE_MAX);
    }
    return NULL;
}

static const char *bbt_set_db_wait(cmd_parms *cmd, void *dconf, const char *arg)
{
    bbt_srv_conf_t *sc =
        ap_get_module_config(cmd->server->module_config, &bbtoken_module);

    (void)dconf;
    if ((sc->db_wait = bbt_seconds(arg, BBT_DB_WAIT_MAX)) < 0) {
        return apr_psprintf(cmd->pool,
                            "BBTokenDBWait: '%s' is not a number of seconds "
                            "from 0 to %d",
                            arg, BBT_DB_WAIT_MAX);
    }
    return NULL;
}

static const char *bbt_set_cache(cmd_parms *cmd, void *dconf, int on)
{
    bbt_srv_conf_t *sc =
        ap_get_module_config(cmd->server->module_config, &bbtoken_module);

    (void)dconf;
    sc->cache = on;
    return NULL;
}

/* BBTokenCacheSize and BBTokenThrottleSize (cmd->info says which): one
 * shared memory segment each for the whole server, the main server's. */
static const char *bbt_set_shm_size(cmd_parms *cmd, void *dconf,
                                    const char *arg)
{
    bbt_srv_conf_t *sc =
        ap_get_module_config(cmd->server->module_config, &bbtoken_module);
    const char *e = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    size_t n = strspn(arg, "0123456789");
    apr_int64_t bytes = apr_atoi64(arg);

    (void)dconf;
    if (e) {
        return e;
    }
    if (n == 0 || n > 9 || arg[n] != '\0' || bytes < BBT_CACHE_SIZE_MIN ||
        bytes > BBT_CACHE_SIZE_MAX) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a number of bytes from %d to %d",
                            cmd->directive->directive, arg, BBT_CACHE_SIZE_MIN,
                            BBT_CACHE_SIZE_MAX);
    }
    *(cmd->info ? &sc->throttle_size : &sc->cache_size) = bytes;
    return NULL;
}

static const char *bbt_set_throttle(cmd_parms *cmd, void *dconf, int on)
{
    bbt_srv_conf_t *sc =
        ap_get_module_config(cmd->server->module_config, &bbtoken_module);

    (void)dconf;
    sc->throttle = on;
    return NULL;
}

/* One throttle for the whole server: the main server's numbers. */
static const char *bbt_set_throttle_num(cmd_parms *cmd, void *dconf,
                                        const char *arg)
{
    bbt_srv_conf_t *sc =
        ap_get_module_config(cmd->server->module_config, &bbtoken_module);
    const char *e = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    int failures = cmd->info != NULL;
    int max = failures ? BBT_THROTTLE_FAILURES_MAX : BBT_THROTTLE_WINDOW_MAX;
    int n;

    (void)dconf;
    if (e) {
        return e;
    }
    if ((n = bbt_seconds(arg, max)) < 1) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a number from 1 to %d",
                            cmd->cmd->name, arg, max);
    }
    *(failures ? &sc->throttle_failures : &sc->throttle_window) = n;
    return NULL;
}

static const char *bbt_set_throttle_tokens(cmd_parms *cmd, void *dconf,
                                           const char *arg)
{
    bbt_srv_conf_t *sc =
        ap_get_module_config(cmd->server->module_config, &bbtoken_module);
    const char *e = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)dconf;
    if (e) {
        return e;
    }
    if (strcmp(arg, "verify") != 0 && strcmp(arg, "refuse") != 0) {
        return apr_psprintf(cmd->pool,
                            "BBTokenThrottleTokens: '%s' is neither verify "
                            "nor refuse",
                            arg);
    }
    sc->throttle_tokens = arg[0] == 'r';
    return NULL;
}

const command_rec bbt_config_cmds[] = {
    AP_INIT_FLAG("BBTokenThrottle", bbt_set_throttle, NULL, RSRC_CONF,
                 "BBTokenThrottle on|off: answer 429 to an address after "
                 "too many failed logins; default on"),
    AP_INIT_TAKE1("BBTokenThrottleFailures", bbt_set_throttle_num, "",
                  RSRC_CONF,
                  "BBTokenThrottleFailures N: failed logins from one address "
                  "in a window before it is throttled, server-wide; "
                  "default 30"),
    AP_INIT_TAKE1("BBTokenThrottleWindow", bbt_set_throttle_num, NULL,
                  RSRC_CONF,
                  "BBTokenThrottleWindow seconds: the window failures are "
                  "counted in, and the throttle lasts to its end, "
                  "server-wide; default 60"),
    AP_INIT_TAKE1("BBTokenThrottleTokens", bbt_set_throttle_tokens, NULL,
                  RSRC_CONF,
                  "BBTokenThrottleTokens verify|refuse: whether a token from "
                  "a throttled address is still verified; default verify"),
    AP_INIT_TAKE1("BBTokenThrottleSize", bbt_set_shm_size, (void *)1, RSRC_CONF,
                  "BBTokenThrottleSize bytes: the failed-login throttle's "
                  "shared memory, server-wide; default 1048576"),
    AP_INIT_TAKE1("BBTokenDBWait", bbt_set_db_wait, NULL, RSRC_CONF,
                  "BBTokenDBWait seconds: how long a request waits for one "
                  "of mod_dbd's pooled connections (DBDMax) before it is "
                  "answered 503; default 5"),
    AP_INIT_FLAG("BBTokenCache", bbt_set_cache, NULL, RSRC_CONF,
                 "BBTokenCache on|off: answer repeated tokens from memory, "
                 "kept true by PostgreSQL's notifications; default on"),
    AP_INIT_TAKE1("BBTokenCacheSize", bbt_set_shm_size, NULL, RSRC_CONF,
                  "BBTokenCacheSize bytes: the cache's shared memory, "
                  "server-wide; default 4194304"),
    AP_INIT_TAKE1("BBTokenLastUseInterval", bbt_set_last_use, NULL, RSRC_CONF,
                  "BBTokenLastUseInterval seconds: write a token's last use "
                  "(and audit an expired token's refusal) at most once per "
                  "interval per token; default 60, 0 on every request"),
    /* Not in .htaccess (bbt_config_not_htaccess): a repository's owner must not
     * rewrite who gets in. */
    AP_INIT_TAKE12("BBTokenRoutes", bbt_confroutes_set_routes, NULL,
                   RSRC_CONF | ACCESS_CONF,
                   "BBTokenRoutes NAME|FILE|none [URL-prefix]: append a route "
                   "set (git, dav, bitbucket-rest, or a route file)"),
    AP_INIT_RAW_ARGS("BBTokenRoute", bbt_confroutes_set_route, NULL,
                     RSRC_CONF | ACCESS_CONF,
                     "BBTokenRoute METHODS PATTERN PERMISSION [OPTION]...: "
                     "append one route"),
    /* Not in .htaccess: a repository's owner must not let its files run
     * as the site. */
    AP_INIT_FLAG("BBTokenSandbox", bbt_set_sandbox, NULL,
                 RSRC_CONF | ACCESS_CONF,
                 "BBTokenSandbox On|Off: serve with Content-Security-Policy: "
                 "sandbox and X-Content-Type-Options: nosniff; default on "
                 "where AuthType BBToken has routes"),
    /* Not in .htaccess: a writer must not make their own locks last. */
    AP_INIT_TAKE1("BBTokenDAVLockMaxTimeout", bbt_davlock_set_max, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "BBTokenDAVLockMaxTimeout seconds: the longest WebDAV lock "
                  "granted, 1 to 604800; default 3600"),
    AP_INIT_ITERATE("AuthBBTokenProvider", bbt_set_authn, NULL,
                    RSRC_CONF | ACCESS_CONF,
                    "authn providers (file, dbm, dbd, ldap...) that check "
                    "ordinary passwords beside tokens, or none"),
    {NULL}};
