/*
 * What configtest must refuse (see bbt_configtest.h).  check_config runs
 * for `httpd -t` and at every start and restart, after the whole
 * configuration is read and before post_config:
 *
 *   - mod_dbd not loaded.  post_config would stop httpd (BBT001), but -t
 *     never runs post_config, so configtest said "Syntax OK" and the
 *     restart that followed brought the server down.
 *   - AuthType BBToken (or SetHandler bbtoken-rest) in a server, main or
 *     virtual host, whose DBDriver is unset or not pgsql: every token
 *     request would be answered 503.  mod_dbd keeps DBDriver to itself, so
 *     the configuration tree is read instead: a virtual host's own
 *     DBDriver, else the main server's, as mod_dbd merges them; and the
 *     main server's sections are every virtual host's too.
 *   - a route whose method httpd does not know: no request could ever
 *     match it (lower case is refused when the route is read).
 *
 * AuthType in .htaccess files is out of reach here: such a location with
 * no database is still answered 503.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_dbd.h"
#include "apr_hash.h"
#include "apr_optional.h"
#include "apr_strings.h"
#include "mod_dbd.h"

#include <string.h>
#include <strings.h>

#include "bbt_configtest.h"

APLOG_USE_MODULE(bbtoken);

/* A route's method httpd did not know when the route was read. */
typedef struct {
    const char *method;
    const char *origin;
} bbt_unknown_method_t;

static const char bbt_unknown_key[] = "bbtoken-configtest-methods";

void bbt_configtest_methods(cmd_parms *cmd, const bbt_rules_t *rules,
                            size_t from)
{
    apr_array_header_t *unknown = NULL;
    size_t i, k, n = bbt_rules_count(rules);
    const char *m;

    for (i = from; i < n; i++) {
        for (k = 0; (m = bbt_rules_method_at(rules, i, k)) != NULL; k++) {
            bbt_unknown_method_t *u;

            if (ap_method_number_of(m) != M_INVALID) {
                continue;
            }
            /* Kept in the configuration's pool: gone with it at restart. */
            if (!unknown) {
                void *v = NULL;

                apr_pool_userdata_get(&v, bbt_unknown_key, cmd->pool);
                unknown = v;
                if (!unknown) {
                    unknown = apr_array_make(cmd->pool, 4, sizeof(*u));
                    apr_pool_userdata_setn(unknown, bbt_unknown_key, NULL,
                                           cmd->pool);
                }
            }
            u = apr_array_push(unknown);
            u->method = apr_pstrdup(cmd->pool, m);
            u->origin = apr_pstrdup(cmd->pool, bbt_rules_origin_at(rules, i));
        }
    }
}

/* Routes whose method httpd still does not know, now that every
 * RegisterHttpMethod has been read.  Returns how many. */
static int bbt_configtest_unknown_methods(apr_pool_t *pconf, apr_pool_t *ptemp)
{
    apr_hash_t *said = apr_hash_make(ptemp);
    const apr_array_header_t *unknown;
    void *v = NULL;
    int i, errors = 0;

    apr_pool_userdata_get(&v, bbt_unknown_key, pconf);
    unknown = v;
    for (i = 0; unknown && i < unknown->nelts; i++) {
        const bbt_unknown_method_t *u =
            &APR_ARRAY_IDX(unknown, i, bbt_unknown_method_t);
        const char *k = apr_pstrcat(ptemp, u->origin, " ", u->method, NULL);

        /* A route file used by several sections is read once per section:
         * one line for each of its mistakes. */
        if (ap_method_number_of(u->method) != M_INVALID ||
            apr_hash_get(said, k, APR_HASH_KEY_STRING)) {
            continue;
        }
        apr_hash_set(said, k, APR_HASH_KEY_STRING, k);
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, NULL,
                     "BBT403: %s: BBTokenRoute with the method '%s', which "
                     "httpd does not know, so no request could ever match "
                     "it: correct its spelling or, for an extension method, "
                     "register it in the main server's configuration with "
                     "\"RegisterHttpMethod %s\"",
                     u->origin, u->method, u->method);
        errors++;
    }
    return errors;
}

/* A server (the main one, or a virtual host) and what the tree says of it. */
typedef struct {
    const ap_directive_t *vhost;  /* NULL: the main server */
    const ap_directive_t *driver; /* its own last DBDriver, or NULL */
    const ap_directive_t *use;    /* its first use of the module */
    const char *use_text;
    int uses;
} bbt_ct_server_t;

static const char *bbt_first_arg(apr_pool_t *p, const ap_directive_t *d)
{
    const char *args = d->args;

    return ap_getword_conf(p, &args);
}

/* "AuthType BBToken" or "SetHandler bbtoken-rest": the module in use,
 * which needs the database. */
static const char *bbt_configtest_use(apr_pool_t *p, const ap_directive_t *d)
{
    if (strcasecmp(d->directive, "AuthType") == 0 &&
        strcasecmp(bbt_first_arg(p, d), "BBToken") == 0) {
        return "AuthType BBToken";
    }
    if (strcasecmp(d->directive, "SetHandler") == 0 &&
        strcasecmp(bbt_first_arg(p, d), "bbtoken-rest") == 0) {
        return "SetHandler bbtoken-rest";
    }
    return NULL;
}

/* Walk one level of the tree and everything under it.  <IfModule>,
 * <IfDefine> and Include leave no node of their own: what they hold sits
 * in the tree where they stood. */
static void bbt_configtest_walk(apr_pool_t *p, const ap_directive_t *d,
                                apr_array_header_t *scopes, int cur, int top)
{
    for (; d; d = d->next) {
        bbt_ct_server_t *sc = &APR_ARRAY_IDX(scopes, cur, bbt_ct_server_t);
        const char *use;

        if (top && strcasecmp(d->directive, "DBDriver") == 0) {
            sc->driver = d;
        } else if ((use = bbt_configtest_use(p, d)) != NULL) {
            if (sc->uses++ == 0) {
                sc->use = d;
                sc->use_text = use;
            }
        }
        if (d->first_child) {
            if (strcasecmp(d->directive, "<VirtualHost") == 0) {
                bbt_ct_server_t *vh = apr_array_push(scopes);

                vh->vhost = d;
                bbt_configtest_walk(p, d->first_child, scopes,
                                    scopes->nelts - 1, 1);
            } else {
                bbt_configtest_walk(p, d->first_child, scopes, cur, 0);
            }
        }
    }
}

static const char *bbt_scope_name(apr_pool_t *p, const bbt_ct_server_t *sc)
{
    const char *args;
    size_t n;

    if (!sc->vhost) {
        return "the main server";
    }
    /* A section's arguments end with its closing '>'. */
    args = sc->vhost->args;
    n = strlen(args);
    if (n > 0 && args[n - 1] == '>') {
        n--;
    }
    return apr_psprintf(p, "the <VirtualHost %.*s> at %s:%d", (int)n, args,
                        sc->vhost->filename, sc->vhost->line_num);
}

/* The use in scope `in` of the module, served by `server` with driver drv
 * (its own DBDriver or the main server's): 1, logged, if it cannot work. */
static int bbt_configtest_driver(apr_pool_t *p, const bbt_ct_server_t *in,
                                 const bbt_ct_server_t *server,
                                 const ap_directive_t *drv)
{
    const char *more =
        in->uses > 1
            ? apr_psprintf(p, " (the first of %d such lines)", in->uses)
            : "";
    const char *name;

    /* A section of the main server's is every virtual host's too. */
    if (in != server) {
        more = apr_pstrcat(p, more,
                           ", in the main server's configuration and so in "
                           "every virtual host's",
                           NULL);
    }
    if (!drv) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, NULL,
                     "BBT401: %s:%d: %s%s, but %s has no DBDriver: "
                     "mod_bbtoken reads its tokens through mod_dbd, so every "
                     "token request would be answered 503.  Add \"DBDriver "
                     "pgsql\" and DBDParams to %s (a2enmod bbtoken does, with "
                     "the package's bbtoken.conf)",
                     in->use->filename, in->use->line_num, in->use_text, more,
                     bbt_scope_name(p, server), bbt_scope_name(p, server));
        return 1;
    }
    name = bbt_first_arg(p, drv);
    if (strcmp(name, "pgsql") != 0) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, NULL,
                     "BBT402: %s:%d: %s%s, but the DBDriver of %s is '%s' "
                     "(%s:%d): mod_bbtoken's tables are PostgreSQL's, so "
                     "every token request would be answered 503.  Use "
                     "\"DBDriver pgsql\" there, or give the module's "
                     "locations a virtual host of their own with DBDriver "
                     "pgsql",
                     in->use->filename, in->use->line_num, in->use_text, more,
                     bbt_scope_name(p, server), name, drv->filename,
                     drv->line_num);
        return 1;
    }
    return 0;
}

/* Every server that uses the module has DBDriver pgsql.  Returns how many
 * do not. */
static int bbt_configtest_drivers(apr_pool_t *ptemp)
{
    apr_array_header_t *scopes =
        apr_array_make(ptemp, 8, sizeof(bbt_ct_server_t));
    const bbt_ct_server_t *main_server;
    int i, errors = 0;

    apr_array_push(scopes);
    memset(scopes->elts, 0, sizeof(bbt_ct_server_t));
    bbt_configtest_walk(ptemp, ap_conftree, scopes, 0, 1);
    main_server = &APR_ARRAY_IDX(scopes, 0, bbt_ct_server_t);
    for (i = 0; i < scopes->nelts; i++) {
        const bbt_ct_server_t *sc = &APR_ARRAY_IDX(scopes, i, bbt_ct_server_t);
        const ap_directive_t *drv =
            sc->driver ? sc->driver : main_server->driver;

        if (sc->use) {
            errors += bbt_configtest_driver(ptemp, sc, sc, drv);
        } else if (i > 0 && sc->driver && main_server->use) {
            /* A virtual host of its own driver, reached by the main
             * server's sections (one that inherits the driver fails or
             * passes with the main server). */
            errors += bbt_configtest_driver(ptemp, main_server, sc, drv);
        }
    }
    return errors;
}

static int bbt_configtest(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *s)
{
    int errors = 0;

    (void)plog;
    (void)s;
    if (!APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open)) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, NULL,
                     "BBT400: mod_bbtoken needs mod_dbd, which is not "
                     "loaded: load it before httpd starts (a2enmod dbd, or "
                     "LoadModule dbd_module modules/mod_dbd.so)");
        errors++;
    } else {
        errors += bbt_configtest_drivers(ptemp);
    }
    errors += bbt_configtest_unknown_methods(pconf, ptemp);
    return errors ? HTTP_INTERNAL_SERVER_ERROR : OK;
}

void bbt_configtest_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_check_config(bbt_configtest, NULL, NULL, APR_HOOK_MIDDLE);
}
