/*
 * mod_bbtoken: Bitbucket Data Center personal access tokens for httpd.
 *
 * This file is the httpd glue.  The decisions live in the core (bbt_token,
 * bbt_cred, bbt_route, bbt_perm), which knows nothing of request_rec; the
 * database lives behind bbt_db.
 *
 * The phases:
 *   check_authn  (AuthType BBToken) reads Basic or Bearer credentials,
 *                checks the token's shape and checksum, then in one query
 *                loads the token, its owner and the owner's live level on the
 *                repository this URI maps to.  Bad credentials are 401, a
 *                malformed header 400, an unreachable database 503.
 *   check_authz  a gate hook that runs before mod_authz_core: too little
 *                permission is 403 whatever the Require lines say, so a
 *                token never exceeds its scope even under "Require
 *                valid-user", and git credential helpers (which erase a
 *                stored password on 401) keep the token.
 *   Require bbtoken  grants exactly when the gate found the request allowed.
 *
 * All of it runs per URI, not per configuration section: an internal
 * redirect or sub-request to another URI in the same <Location> is decided
 * again for the URI it really serves.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_auth.h"
#include "ap_provider.h"
#include "apr_uri.h"
#include "apr_strings.h"

#include <string.h>

#include <openssl/crypto.h>

#include "bbt_cred.h"
#include "bbt_db.h"
#include "bbt_input.h"
#include "bbt_logguard.h"
#include "bbt_perm.h"
#include "bbt_private.h"
#include "bbt_request.h"
#include "bbt_rest.h"
#include "bbt_route.h"
#include "bbt_rules.h"
#include "bbt_token.h"

module AP_MODULE_DECLARE_DATA bbtoken_module;

#define BBT_AUTH_TYPE "BBToken"
/* Seconds a client should wait after a 503 for an unreachable database. */
#define BBT_RETRY_AFTER "10"

/* An authn provider that checks ordinary passwords beside tokens. */
typedef struct {
    const char *name;
    const authn_provider *provider;
} bbt_authn_t;

typedef struct {
    /* The routes of this section; NULL: none set here (inherit).  A
     * section that sets any route replaces its parent's list. */
    bbt_rules_t *rules;
    /* AuthBBTokenProvider; NULL: not set here (inherit). */
    apr_array_header_t *authn;
} bbt_dir_conf_t;

/* What authn learned about a request, for authz and fixups. */
typedef struct {
    int verified;     /* the credentials were proven for this HTTP request */
    int presented;    /* a token was presented: challenge with invalid_token */
    int password;     /* verified by a user's password, not a token */
    const char *user; /* the password user's name */
    /* The AuthBBTokenProvider list that accepted the password. */
    const apr_array_header_t *authn;
    char token_id[BBT_TOKEN_ID_LEN + 1];
    bbt_level_t tok_project;
    bbt_level_t tok_repo;
    bbt_level_t owner;
    int routed;
    bbt_target_t target;
    bbt_perm_t token_need; /* the route's token= minimum, or level NONE */
    const char *route;     /* the route that decided, "file:line" */
    int has_dest;          /* COPY/MOVE: the Destination is a second target */
    bbt_target_t dest;
    bbt_level_t dest_owner;
} bbt_req_t;

/* A salt and hash of the right shape that no token matches, so an unknown
 * id costs the same hashing work as a known one. */
static const char bbt_dummy_salt[] = "00000000000000000000000000000000";
static const char bbt_dummy_hash[] =
    "0000000000000000000000000000000000000000000000000000000000000000";

static void *bbt_create_dir_conf(apr_pool_t *p, char *dir)
{
    (void)dir;
    return apr_pcalloc(p, sizeof(bbt_dir_conf_t));
}

static void *bbt_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    bbt_dir_conf_t *base = basev, *add = addv;
    bbt_dir_conf_t *conf = apr_palloc(p, sizeof(*conf));

    /* Replace, never append: a nested section's routes are read alone, so
     * a parent's broader route can never win over the section's own. */
    conf->rules = add->rules ? add->rules : base->rules;
    conf->authn = add->authn ? add->authn : base->authn;
    return conf;
}

static apr_status_t bbt_rules_cleanup(void *data)
{
    bbt_rules_free(data);
    return APR_SUCCESS;
}

/* This section's own route list, created on its first route. */
static const char *bbt_section_rules(cmd_parms *cmd, bbt_dir_conf_t *conf)
{
    if (!conf->rules) {
        conf->rules = bbt_rules_new();
        if (!conf->rules) {
            return "out of memory";
        }
        apr_pool_cleanup_register(cmd->pool, conf->rules, bbt_rules_cleanup,
                                  apr_pool_cleanup_null);
    }
    return NULL;
}

static const char *bbt_where(cmd_parms *cmd)
{
    return cmd->directive
               ? apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename,
                              cmd->directive->line_num)
               : "BBTokenRoute";
}

/* BBTokenRoute METHODS PATTERN PERMISSION [OPTION]... */
static const char *bbt_set_route(cmd_parms *cmd, void *dconf, const char *args)
{
    bbt_dir_conf_t *conf = dconf;
    apr_array_header_t *w = apr_array_make(cmd->temp_pool, 8, sizeof(char *));
    char err[BBT_RULES_ERR_MAX];
    const char *e;

    while (*args) {
        char *word = ap_getword_conf(cmd->temp_pool, &args);

        if (!*word && !*args) {
            break;
        }
        APR_ARRAY_PUSH(w, char *) = word;
    }
    if (w->nelts < 3) {
        return apr_psprintf(cmd->pool,
                            "BBTokenRoute: %s: needs METHODS PATTERN "
                            "PERMISSION [OPTION]...",
                            bbt_where(cmd));
    }
    if ((e = bbt_section_rules(cmd, conf)) != NULL) {
        return e;
    }
    if (bbt_rules_add(conf->rules, APR_ARRAY_IDX(w, 0, char *),
                      APR_ARRAY_IDX(w, 1, char *), APR_ARRAY_IDX(w, 2, char *),
                      (const char *const *)w->elts + 3, (size_t)w->nelts - 3,
                      bbt_where(cmd), err, sizeof(err)) != 0) {
        return apr_pstrcat(cmd->pool, "BBTokenRoute: ", err, NULL);
    }
    return NULL;
}

/* BBTokenRoutes NAME|FILE|none [PREFIX] */
static const char *bbt_set_routes(cmd_parms *cmd, void *dconf, const char *name,
                                  const char *prefix)
{
    bbt_dir_conf_t *conf = dconf;
    const char *text, *deflt = NULL, *origin, *e;
    char err[BBT_RULES_ERR_MAX];
    size_t len;

    if ((e = bbt_section_rules(cmd, conf)) != NULL) {
        return e;
    }
    if (strcmp(name, "none") == 0 && !prefix) {
        return NULL; /* an empty list: nothing is open to tokens here */
    }
    text = bbt_rules_builtin(name, &deflt);
    if (text) {
        /* Messages then name the shipped file's own line. */
        origin = apr_psprintf(cmd->pool, "routes/%s.conf", name);
        if (!prefix) {
            prefix = deflt;
        }
    } else if (strchr(name, '/')) {
        const char *path = ap_server_root_relative(cmd->temp_pool, name);
        apr_file_t *f;
        apr_finfo_t fi;
        apr_size_t got;
        char *buf;

        if (!path || apr_file_open(&f, path, APR_FOPEN_READ, APR_OS_DEFAULT,
                                   cmd->temp_pool) != APR_SUCCESS) {
            return apr_psprintf(cmd->pool, "BBTokenRoutes: %s: cannot open %s",
                                bbt_where(cmd), name);
        }
        if (apr_file_info_get(&fi, APR_FINFO_SIZE, f) != APR_SUCCESS ||
            fi.size > 1024 * 1024) {
            apr_file_close(f);
            return apr_psprintf(cmd->pool,
                                "BBTokenRoutes: %s: cannot read %s (or it is "
                                "over 1 MB)",
                                bbt_where(cmd), name);
        }
        buf = apr_palloc(cmd->temp_pool, (apr_size_t)fi.size + 1);
        if (apr_file_read_full(f, buf, (apr_size_t)fi.size, &got) !=
                APR_SUCCESS ||
            got != (apr_size_t)fi.size) {
            apr_file_close(f);
            return apr_psprintf(cmd->pool, "BBTokenRoutes: %s: cannot read %s",
                                bbt_where(cmd), name);
        }
        apr_file_close(f);
        buf[got] = '\0';
        if (strlen(buf) != got) {
            return apr_psprintf(cmd->pool, "BBTokenRoutes: %s contains a NUL",
                                name);
        }
        text = buf;
        origin = path;
    } else {
        return apr_psprintf(cmd->pool,
                            "BBTokenRoutes: %s: unknown route set '%s' (known: "
                            "%s, none, or a file path containing '/')",
                            bbt_where(cmd), name, bbt_rules_builtin_names());
    }
    if (prefix) {
        /* The routes take the prefix without its trailing slash. */
        len = strlen(prefix);
        while (len > 0 && prefix[len - 1] == '/') {
            len--;
        }
        prefix = apr_pstrmemdup(cmd->temp_pool, prefix, len);
    }
    if (bbt_rules_load(conf->rules, text, prefix, origin, err, sizeof(err)) !=
        0) {
        return apr_pstrcat(cmd->pool, "BBTokenRoutes: ", err, NULL);
    }
    return NULL;
}

/* AuthBBTokenProvider NAME...: authn providers for ordinary passwords. */
static const char *bbt_set_authn(cmd_parms *cmd, void *dconf, const char *arg)
{
    bbt_dir_conf_t *conf = dconf;
    bbt_authn_t *a;
    const authn_provider *prov;

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

/* Server-wide settings (server config, virtual host). */
typedef struct {
    int last_use_interval; /* seconds; -1: not set here */
} bbt_srv_conf_t;

#define BBT_LAST_USE_DEFAULT 60
#define BBT_LAST_USE_MAX 86400

static void *bbt_create_srv_conf(apr_pool_t *p, server_rec *s)
{
    bbt_srv_conf_t *sc = apr_palloc(p, sizeof(*sc));

    (void)s;
    sc->last_use_interval = -1;
    return sc;
}

static void *bbt_merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
{
    bbt_srv_conf_t *base = basev, *add = addv;
    bbt_srv_conf_t *sc = apr_palloc(p, sizeof(*sc));

    sc->last_use_interval = add->last_use_interval != -1
                                ? add->last_use_interval
                                : base->last_use_interval;
    return sc;
}

static int bbt_last_use_interval(const server_rec *s)
{
    const bbt_srv_conf_t *sc =
        ap_get_module_config(s->module_config, &bbtoken_module);

    return sc && sc->last_use_interval != -1 ? sc->last_use_interval
                                             : BBT_LAST_USE_DEFAULT;
}

static const char *bbt_set_last_use(cmd_parms *cmd, void *dconf,
                                    const char *arg)
{
    bbt_srv_conf_t *sc =
        ap_get_module_config(cmd->server->module_config, &bbtoken_module);
    size_t n = strspn(arg, "0123456789");
    apr_int64_t secs = apr_atoi64(arg);

    (void)dconf;
    /* Digits only, so " 60", "+60" and "60s" are refused, not guessed. */
    if (n == 0 || n > 6 || arg[n] != '\0' || secs > BBT_LAST_USE_MAX) {
        return apr_psprintf(cmd->pool,
                            "BBTokenLastUseInterval: '%s' is not a number of "
                            "seconds from 0 to %d",
                            arg, BBT_LAST_USE_MAX);
    }
    sc->last_use_interval = (int)secs;
    return NULL;
}

static const command_rec bbt_cmds[] = {
    AP_INIT_TAKE1("BBTokenLastUseInterval", bbt_set_last_use, NULL, RSRC_CONF,
                  "BBTokenLastUseInterval seconds: write a token's last use "
                  "(and audit an expired token's refusal) at most once per "
                  "interval per token; default 60, 0 on every request"),
    /* Not in .htaccess: a repository's owner must not rewrite who gets in. */
    AP_INIT_TAKE12("BBTokenRoutes", bbt_set_routes, NULL,
                   RSRC_CONF | ACCESS_CONF,
                   "BBTokenRoutes NAME|FILE|none [URL-prefix]: append a route "
                   "set (git, dav, bitbucket-rest, or a route file)"),
    AP_INIT_RAW_ARGS("BBTokenRoute", bbt_set_route, NULL,
                     RSRC_CONF | ACCESS_CONF,
                     "BBTokenRoute METHODS PATTERN PERMISSION [OPTION]...: "
                     "append one route"),
    AP_INIT_ITERATE("AuthBBTokenProvider", bbt_set_authn, NULL,
                    RSRC_CONF | ACCESS_CONF,
                    "authn providers (file, dbm, dbd, ldap...) that check "
                    "ordinary passwords beside tokens"),
    {NULL}};

static int bbt_is_ours(request_rec *r)
{
    const char *type = ap_auth_type(r);

    return type && strcasecmp(type, BBT_AUTH_TYPE) == 0;
}

static bbt_req_t *bbt_req(const request_rec *r)
{
    return ap_get_module_config(r->request_config, &bbtoken_module);
}

/* The nearest earlier request of this same HTTP request (internal redirect
 * or parent of a sub-request) whose credentials we verified.  The fixups
 * hook strips the Authorization header, so a later internal request must
 * inherit the identity from here rather than read it again. */
static const bbt_req_t *bbt_prior(const request_rec *r)
{
    const request_rec *o;

    for (o = r->prev ? r->prev : r->main; o; o = o->prev ? o->prev : o->main) {
        const bbt_req_t *rq = bbt_req(o);

        if (rq && rq->verified) {
            return rq;
        }
    }
    return NULL;
}

/* bbt_request.h: 1 if this request, or an earlier one of
 * the same HTTP request, was authenticated by a token. */
int bbt_request_used_token(request_rec *r)
{
    const bbt_req_t *rq = bbt_req(r);

    if (!rq || !rq->verified) {
        rq = bbt_prior(r);
    }
    return rq && rq->verified && !rq->password;
}

/* A Basic user name as it may appear in the log.  People paste a token or
 * a password into the wrong field: a name that is not shaped like a user
 * name, or that is shaped like a token, is not written out. */
static const char *bbt_loggable(request_rec *r, const char *user)
{
    bbt_token_t tok;
    size_t len = strlen(user);

    if (!bbt_input_user_name(user, len)) {
        return "(not a user name)";
    }
    if (bbt_token_parse(user, len, &tok) == BBT_TOKEN_OK) {
        bbt_token_wipe(&tok);
        return "(a token)";
    }
    return apr_pstrdup(r->pool, user);
}

static int bbt_unauthorized(request_rec *r)
{
    ap_note_auth_failure(r);
    return HTTP_UNAUTHORIZED;
}

static int bbt_unavailable(request_rec *r)
{
    apr_table_setn(r->err_headers_out, "Retry-After", BBT_RETRY_AFTER);
    return HTTP_SERVICE_UNAVAILABLE;
}

/* Check a Basic password that is not a token with the configured authn
 * providers, as mod_auth_basic does.  The password is never logged. */
static int bbt_check_password(request_rec *r, const bbt_dir_conf_t *conf,
                              const char *user, const char *password)
{
    authn_status st = AUTH_USER_NOT_FOUND;
    int i;

    for (i = 0; i < conf->authn->nelts; i++) {
        const bbt_authn_t *a = &APR_ARRAY_IDX(conf->authn, i, bbt_authn_t);

        apr_table_setn(r->notes, AUTHN_PROVIDER_NAME_NOTE, a->name);
        st = a->provider->check_password(r, user, password);
        apr_table_unset(r->notes, AUTHN_PROVIDER_NAME_NOTE);
        if (st != AUTH_USER_NOT_FOUND) {
            break;
        }
    }
    switch (st) {
    case AUTH_GRANTED:
        return OK;
    case AUTH_GENERAL_ERROR:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "password check for user %s failed in its provider",
                      bbt_loggable(r, user));
        return HTTP_INTERNAL_SERVER_ERROR;
    default:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "password refused for user %s: %s", bbt_loggable(r, user),
                      st == AUTH_USER_NOT_FOUND ? "unknown user"
                                                : "wrong password");
        return bbt_unauthorized(r);
    }
}

/* Read and check the credentials.  On OK, either *tok holds the token (wipe
 * it) and *user the Basic user name or NULL for Bearer, or *password is set:
 * the Basic password was not a token and an AuthBBTokenProvider accepted it
 * for *user. */
static int bbt_read_credentials(request_rec *r, const bbt_dir_conf_t *conf,
                                bbt_req_t *rq, bbt_token_t *tok,
                                const char **user, int *password)
{
    const char *hdr = apr_table_get(r->headers_in, "Authorization");
    char *buf = apr_palloc(r->pool, BBT_CRED_MAX_HEADER + 1);
    bbt_token_status_t ts;
    bbt_cred_t cred;
    int status = OK;

    *password = 0;
    switch (bbt_cred_parse(hdr, buf, BBT_CRED_MAX_HEADER + 1, &cred)) {
    case BBT_CRED_NONE:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "no credentials for %s",
                      r->uri);
        status = bbt_unauthorized(r);
        break;
    case BBT_CRED_OTHER:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "unsupported authorization scheme for %s", r->uri);
        status = bbt_unauthorized(r);
        break;
    case BBT_CRED_MALFORMED:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "malformed Authorization header: %s", cred.why);
        apr_table_setn(r->notes, "error-notes",
                       apr_pstrcat(r->pool, "Malformed Authorization header: ",
                                   cred.why, ".", NULL));
        status = HTTP_BAD_REQUEST;
        break;
    case BBT_CRED_BASIC:
    case BBT_CRED_BEARER:
        rq->presented = 1;
        ts = bbt_token_parse(cred.secret, cred.secret_len, tok);
        if (ts != BBT_TOKEN_OK && cred.kind == BBT_CRED_BASIC && conf->authn &&
            conf->authn->nelts > 0 &&
            !(cred.secret_len >= BBT_TOKEN_PREFIX_LEN &&
              memcmp(cred.secret, BBT_TOKEN_PREFIX, BBT_TOKEN_PREFIX_LEN) ==
                  0)) {
            /* Not a token: an ordinary password, for the providers.  A
             * mistyped token (it has the prefix) is never sent to them: it
             * would reach an LDAP server's logs. */
            *user = apr_pstrmemdup(r->pool, cred.user, cred.user_len);
            status = bbt_check_password(r, conf, *user, cred.secret);
            *password = status == OK;
            break;
        }
        if (ts != BBT_TOKEN_OK) {
            /* Not even a token: say why, never what was sent. */
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "credentials refused: %s", bbt_token_status_str(ts));
            status = bbt_unauthorized(r);
            break;
        }
        *user = cred.kind == BBT_CRED_BASIC
                    ? apr_pstrmemdup(r->pool, cred.user, cred.user_len)
                    : NULL;
        break;
    }
    /* buf held the decoded Basic password. */
    OPENSSL_cleanse(buf, BBT_CRED_MAX_HEADER + 1);
    return status;
}

/* Load the token and the owner's level on the target, verify, and set the
 * request's identity.  tok is NULL when a prior request of this HTTP request
 * verified the same token: the row is loaded again all the same, so the
 * target's level is the new URI's and a token revoked meanwhile stops. */
static int bbt_load(request_rec *r, bbt_req_t *rq, bbt_token_t *tok,
                    const char *user)
{
    const char *key = rq->routed ? rq->target.key : NULL;
    const char *slug =
        rq->routed && rq->target.slug[0] ? rq->target.slug : NULL;
    bbt_db_token_t row;
    bbt_db_status_t st;
    bbt_db_conn_t *c;
    const char *refusal = NULL;
    int interval = bbt_last_use_interval(r->server), expired = 0;

    memset(&row, 0, sizeof(row));
    c = bbt_db_open(r->pool, r->server);
    if (!c) {
        return bbt_unavailable(r);
    }
    st = bbt_db_lookup(c, rq->token_id, key, slug, interval, &row);
    if (st == BBT_DB_UNAVAILABLE) {
        bbt_db_close(c);
        return bbt_unavailable(r);
    }
    if (st == BBT_DB_NOT_FOUND) {
        if (tok) {
            bbt_token_verify(bbt_dummy_salt, bbt_dummy_hash, tok);
        }
        refusal = "unknown token";
    } else if (tok && !bbt_token_verify(row.salt, row.hash, tok)) {
        /* Checked before anything else, so a guess learns nothing about
         * the state of a token it does not hold. */
        refusal = "wrong secret";
    } else if (row.revoked) {
        refusal = "token revoked";
    } else if (row.expired) {
        refusal = "token expired";
        expired = tok != NULL;
    } else if (!row.user_active) {
        refusal = "owner disabled";
    } else if (user && strcasecmp(user, row.user_name) != 0) {
        refusal = "user name is not the token's owner";
    } else if (row.tok_project == BBT_LEVEL_NONE ||
               row.tok_repo == BBT_LEVEL_NONE) {
        /* The schema's CHECKs make this impossible.  A broken row is the
         * server's fault, not the client's: 401 would make git erase a
         * good stored token. */
        bbt_db_close(c);
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "token %s has no valid permissions in the database",
                      rq->token_id);
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    /* Only a request that proved the secret counts, and only once per
     * interval (an internal request, tok NULL, was counted already). */
    if (!refusal && tok && row.stale) {
        bbt_db_touch(c, rq->token_id, r->useragent_ip, interval);
    } else if (expired && row.refusal_due) {
        bbt_db_note_expired(c, rq->token_id, r->useragent_ip, interval);
    }
    bbt_db_close(c);
    memset(row.salt, 0, sizeof(row.salt));
    memset(row.hash, 0, sizeof(row.hash));

    if (refusal) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "token %s refused%s%s: %s",
                      rq->token_id, user ? " for user " : "",
                      user ? bbt_loggable(r, user) : "", refusal);
        return bbt_unauthorized(r);
    }

    rq->verified = 1;
    rq->tok_project = row.tok_project;
    rq->tok_repo = row.tok_repo;
    rq->owner = row.owner;
    r->user = (char *)row.user_name;
    r->ap_auth_type = (char *)BBT_AUTH_TYPE;
    apr_table_setn(r->subprocess_env, "BBTOKEN_ID",
                   apr_pstrdup(r->pool, rq->token_id));
    apr_table_setn(r->subprocess_env, "BBTOKEN_NAME", row.token_name);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "token %s of %s authenticated for %s", rq->token_id,
                  row.user_name, r->uri);
    return OK;
}

static int bbt_is_copymove(const char *method)
{
    return strcmp(method, "COPY") == 0 || strcmp(method, "MOVE") == 0;
}

/* mod_dav looks the Destination of a COPY or MOVE up as a sub-request with
 * the same method: that sub-request is routed as a destination. */
static int bbt_is_dest_lookup(const request_rec *r)
{
    return r->main && bbt_is_copymove(r->method);
}

/* The Destination header of r as a decoded, normalized path, or NULL when
 * it is absent or anything but a plain URL (a query, a fragment, an encoded
 * slash or NUL).  mod_dav's own sub-request for it is routed too; this is
 * the check that holds even where that sub-request is not ours. */
static const char *bbt_dest_path(request_rec *r)
{
    const char *dest = apr_table_get(r->headers_in, "Destination");
    apr_uri_t u;
    char *path;

    if (!dest || apr_uri_parse(r->pool, dest, &u) != APR_SUCCESS || !u.path ||
        u.path[0] != '/' || u.query || u.fragment) {
        return NULL;
    }
    path = apr_pstrdup(r->pool, u.path);
    if (ap_unescape_url(path) != OK) {
        return NULL;
    }
    ap_getparents(path);
    ap_no2slash(path);
    return path;
}

static void bbt_no_route(bbt_req_t *rq, const char *why)
{
    memset(&rq->target, 0, sizeof(rq->target));
    rq->target.need.scope = BBT_SCOPE_REPO;
    rq->target.why = why;
    rq->routed = 0;
    rq->has_dest = 0;
}

/* Map the request to its permission (and, for COPY and MOVE, its
 * Destination's).  A key not spelled canonically was not mapped by
 * bbt_translate (routes in a <Directory>, or a sub-request's Destination):
 * refused, so that what is decided is what the filesystem serves. */
static void bbt_route_request(request_rec *r, const bbt_dir_conf_t *conf,
                              bbt_req_t *rq)
{
    bbt_match_t m;
    const char *dpath;
    int dest_lookup = bbt_is_dest_lookup(r);

    if (!conf->rules) {
        bbt_no_route(rq, "no BBTokenRoutes apply here");
        return;
    }
    rq->routed = bbt_rules_match(conf->rules, r->method, r->uri, r->args,
                                 dest_lookup, &m) == BBT_ROUTE_MATCH;
    rq->target = m.target;
    rq->route = bbt_rule_origin(m.rule);
    if (!rq->routed) {
        return;
    }
    if (!m.key_exact) {
        bbt_no_route(rq, "project key not spelled canonically");
        return;
    }
    rq->token_need = m.token_need;
    if (dest_lookup || !bbt_is_copymove(r->method)) {
        return;
    }
    dpath = bbt_dest_path(r);
    if (!dpath) {
        bbt_no_route(rq, "Destination missing or not a plain URL");
        return;
    }
    if (bbt_rules_match(conf->rules, r->method, dpath, NULL, 1, &m) !=
        BBT_ROUTE_MATCH) {
        bbt_no_route(rq, "no route covers the Destination");
        return;
    }
    if (!m.key_exact) {
        bbt_no_route(rq, "Destination's project key not spelled canonically");
        return;
    }
    rq->has_dest = 1;
    rq->dest = m.target;
}

/* Levels of the user named user on the target and the Destination: for a
 * password user, and for a token's Destination (the owner's level on the
 * target came with the token). */
static int bbt_user_levels(request_rec *r, bbt_req_t *rq, const char *user,
                           int target)
{
    bbt_db_conn_t *c;
    bbt_db_status_t st = BBT_DB_OK;

    if (!(target && rq->routed) && !rq->has_dest) {
        return OK;
    }
    c = bbt_db_open(r->pool, r->server);
    if (!c) {
        return bbt_unavailable(r);
    }
    if (target && rq->routed) {
        st = bbt_db_user_level(c, user, rq->target.key,
                               rq->target.slug[0] ? rq->target.slug : NULL,
                               &rq->owner);
    }
    if (st == BBT_DB_OK && rq->has_dest) {
        st = bbt_db_user_level(c, user, rq->dest.key,
                               rq->dest.slug[0] ? rq->dest.slug : NULL,
                               &rq->dest_owner);
    }
    bbt_db_close(c);
    return st == BBT_DB_OK ? OK : bbt_unavailable(r);
}

/* A user's password was accepted (now or by an earlier request of this
 * HTTP request): the identity, and the user's own grants on the target. */
static int bbt_password_user(request_rec *r, bbt_req_t *rq, const char *user)
{
    int status = bbt_user_levels(r, rq, user, 1);

    if (status != OK) {
        return status;
    }
    rq->verified = 1;
    rq->password = 1;
    rq->user = user;
    r->user = (char *)user;
    r->ap_auth_type = (char *)BBT_AUTH_TYPE;
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "user %s authenticated by password for %s",
                  bbt_loggable(r, user), r->uri);
    return OK;
}

/* What the backend may learn about the route: which one, for what. */
static void bbt_route_env(request_rec *r, const bbt_req_t *rq)
{
    if (!rq->routed) {
        return;
    }
    apr_table_setn(r->subprocess_env, "BBTOKEN_ROUTE", rq->route);
    apr_table_setn(r->subprocess_env, "BBTOKEN_PERMISSION",
                   bbt_perm_name(rq->target.need.scope, rq->target.need.level));
    apr_table_setn(r->subprocess_env, "BBTOKEN_TARGET",
                   apr_pstrcat(r->pool, rq->target.key,
                               rq->target.slug[0] ? "/" : "", rq->target.slug,
                               NULL));
}

static int bbt_check_authn(request_rec *r)
{
    bbt_dir_conf_t *conf;
    const bbt_req_t *prior;
    bbt_req_t *rq;
    bbt_token_t tok;
    const char *user = NULL;
    int status, password = 0;

    if (!bbt_is_ours(r)) {
        return DECLINED;
    }
    if (!ap_auth_name(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "AuthType %s needs an AuthName", BBT_AUTH_TYPE);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* Whatever a client or an earlier module put here is not ours. */
    apr_table_unset(r->subprocess_env, "BBTOKEN_ID");
    apr_table_unset(r->subprocess_env, "BBTOKEN_NAME");
    apr_table_unset(r->subprocess_env, "BBTOKEN_ROUTE");
    apr_table_unset(r->subprocess_env, "BBTOKEN_PERMISSION");
    apr_table_unset(r->subprocess_env, "BBTOKEN_TARGET");

    conf = ap_get_module_config(r->per_dir_config, &bbtoken_module);
    rq = apr_pcalloc(r->pool, sizeof(*rq));
    ap_set_module_config(r->request_config, &bbtoken_module, rq);
    bbt_route_request(r, conf, rq);

    prior = bbt_prior(r);
    if (prior && prior->password) {
        /* Carried only where the same providers would have checked it: a
         * section that takes no passwords, or other ones, must not accept
         * a user someone else's provider let in. */
        if (!conf->authn || conf->authn->nelts == 0 ||
            conf->authn != prior->authn) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "user %s authenticated by password elsewhere; "
                          "%s does not take that password",
                          bbt_loggable(r, prior->user), r->uri);
            return bbt_unauthorized(r);
        }
        status = bbt_password_user(r, rq, prior->user);
        rq->authn = prior->authn;
    } else if (prior) {
        memcpy(rq->token_id, prior->token_id, sizeof(rq->token_id));
        rq->presented = 1;
        status = bbt_load(r, rq, NULL, NULL);
        if (status == OK) {
            status = bbt_user_levels(r, rq, r->user, 0);
        }
    } else {
        status = bbt_read_credentials(r, conf, rq, &tok, &user, &password);
        if (status != OK) {
            return status;
        }
        if (password) {
            status = bbt_password_user(r, rq, user);
            rq->authn = conf->authn;
        } else {
            memcpy(rq->token_id, tok.id, sizeof(rq->token_id));
            status = bbt_load(r, rq, &tok, user);
            bbt_token_wipe(&tok);
            if (status == OK) {
                status = bbt_user_levels(r, rq, r->user, 0);
            }
        }
    }
    if (status == OK) {
        bbt_route_env(r, rq);
    }
    return status;
}

/* Decide a verified request: the target, the token's own minimum (token=),
 * and the Destination of COPY and MOVE must all be allowed.  A password user
 * has no token to cap them: only the user's grants count.  *what says which
 * permission failed. */
static bbt_decision_t bbt_decide(const bbt_req_t *rq, const bbt_target_t **on,
                                 bbt_perm_t *what)
{
    bbt_level_t tp = rq->password ? BBT_LEVEL_ADMIN : rq->tok_project;
    bbt_level_t tr = rq->password ? BBT_LEVEL_ADMIN : rq->tok_repo;
    bbt_decision_t d;

    *on = &rq->target;
    *what = rq->target.need;
    d = bbt_perm_decide(rq->target.need, tp, tr, rq->owner);
    if (d == BBT_DECIDE_ALLOW && !rq->password &&
        rq->token_need.level != BBT_LEVEL_NONE) {
        *what = rq->token_need;
        d = bbt_perm_decide(rq->token_need, tp, tr, BBT_LEVEL_ADMIN);
    }
    if (d == BBT_DECIDE_ALLOW && rq->has_dest) {
        *on = &rq->dest;
        *what = rq->dest.need;
        d = bbt_perm_decide(rq->dest.need, tp, tr, rq->dest_owner);
    }
    return d;
}

/* The gate: runs before mod_authz_core, so too little permission is 403
 * regardless of Require and of AuthzSendForbiddenOnFailure.  For tokens
 * only: what a password user may do is the Require lines' business
 * (Require bbtoken holds them to their grants). */
static int bbt_authz_gate(request_rec *r)
{
    bbt_req_t *rq;
    const char *need, *msg;
    const bbt_target_t *on;
    bbt_perm_t what;
    bbt_decision_t d;

    if (!bbt_is_ours(r) || !(rq = bbt_req(r)) || !rq->verified ||
        rq->password) {
        return DECLINED;
    }
    if (!rq->routed) {
        /* A sub-request is often a lookup (mod_cgid's PATH_TRANSLATED) whose
         * answer nobody sends: not worth an error line. */
        ap_log_rerror(APLOG_MARK, r->main ? APLOG_DEBUG : APLOG_ERR, 0, r,
                      "token %s of %s: no route for %s %s: %s%s%s",
                      rq->token_id, r->user, r->method, r->uri, rq->target.why,
                      rq->route ? " at " : "", rq->route ? rq->route : "");
        msg = "This URL or method is not open to access tokens.";
    } else if ((d = bbt_decide(rq, &on, &what)) == BBT_DECIDE_ALLOW) {
        return DECLINED;
    } else {
        need = bbt_perm_name(what.scope, what.level);
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "token %s of %s: %s %s needs %s on %s%s%s (route %s): %s",
                      rq->token_id, r->user, r->method, r->uri, need, on->key,
                      on->slug[0] ? "/" : "", on->slug, rq->route,
                      d == BBT_DECIDE_OWNER ? "the owner lacks it"
                                            : "the token lacks it");
        msg = apr_pstrcat(r->pool,
                          d == BBT_DECIDE_OWNER
                              ? "The token's owner does not have "
                              : "The access token does not have ",
                          need, " permission for this request.", NULL);
    }
    apr_table_setn(r->notes, "error-notes", msg);
    apr_table_add(r->err_headers_out, "WWW-Authenticate",
                  apr_pstrcat(r->pool, "Bearer realm=\"",
                              ap_escape_quotes(r->pool, ap_auth_name(r)),
                              "\", error=\"insufficient_scope\"", NULL));
    return HTTP_FORBIDDEN;
}

static authz_status bbt_authz_check(request_rec *r, const char *require_line,
                                    const void *parsed)
{
    bbt_req_t *rq = bbt_req(r);
    const bbt_target_t *on;
    bbt_perm_t what;

    (void)require_line;
    (void)parsed;
    if (!r->user) {
        return AUTHZ_DENIED_NO_USER;
    }
    if (!rq || !rq->verified) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "user %s did not authenticate with mod_bbtoken", r->user);
        return AUTHZ_DENIED;
    }
    if (!rq->routed) {
        if (rq->password) {
            ap_log_rerror(APLOG_MARK, r->main ? APLOG_DEBUG : APLOG_ERR, 0, r,
                          "user %s: no route for %s %s: %s", r->user, r->method,
                          r->uri, rq->target.why);
        }
        return AUTHZ_DENIED;
    }
    if (bbt_decide(rq, &on, &what) != BBT_DECIDE_ALLOW) {
        if (rq->password) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "user %s: %s %s needs %s on %s%s%s (route %s)",
                          r->user, r->method, r->uri,
                          bbt_perm_name(what.scope, what.level), on->key,
                          on->slug[0] ? "/" : "", on->slug, rq->route);
        }
        return AUTHZ_DENIED;
    }
    return AUTHZ_GRANTED;
}

static const char *bbt_authz_parse(cmd_parms *cmd, const char *require_line,
                                   const void **parsed)
{
    (void)cmd;
    (void)parsed;
    if (require_line && require_line[strspn(require_line, " \t")]) {
        return "Require bbtoken takes no arguments";
    }
    return NULL;
}

static const authz_provider bbt_authz_provider = {
    &bbt_authz_check,
    &bbt_authz_parse,
};

static int bbt_note_auth_failure(request_rec *r, const char *auth_type)
{
    const char *hdr, *realm;
    bbt_req_t *rq;

    if (strcasecmp(auth_type, BBT_AUTH_TYPE) != 0) {
        return DECLINED;
    }
    rq = bbt_req(r);
    hdr = "WWW-Authenticate";
    realm = ap_escape_quotes(r->pool, ap_auth_name(r) ? ap_auth_name(r) : "");
    /* Both schemes work everywhere: tools that speak only one find it. */
    apr_table_add(r->err_headers_out, hdr,
                  apr_pstrcat(r->pool, "Basic realm=\"", realm,
                              "\", charset=\"UTF-8\"", NULL));
    apr_table_add(
        r->err_headers_out, hdr,
        apr_pstrcat(r->pool, "Bearer realm=\"", realm, "\"",
                    rq && rq->presented ? ", error=\"invalid_token\"" : "",
                    NULL));
    return OK;
}

/* The backend (a CGI, a proxy) has no use for the token: take it away.
 * What it answers was for the token's holder only: keep it out of caches. */
static int bbt_fixups(request_rec *r)
{
    bbt_req_t *rq = bbt_req(r);

    if (rq && rq->verified) {
        apr_table_unset(r->headers_in, "Authorization");
        bbt_private_response(r);
    }
    return DECLINED;
}

/* Project keys are case-insensitive, directory names are not.  Before the
 * URL is mapped to a file (mod_alias, the core, mod_rewrite run after this),
 * a key the routes capture is rewritten to its canonical spelling (PROJ,
 * ~alice), so the repository served is the one the decision is about.  Only
 * routes of a <Location> are known this early; elsewhere a key not spelled
 * canonically is refused when the request is routed. */
static int bbt_translate(request_rec *r)
{
    const bbt_dir_conf_t *conf;
    bbt_match_t m;
    char *uri;

    if (!r->uri || !bbt_is_ours(r)) {
        return DECLINED;
    }
    conf = ap_get_module_config(r->per_dir_config, &bbtoken_module);
    if (!conf || !conf->rules ||
        bbt_rules_match(conf->rules, r->method, r->uri, r->args,
                        bbt_is_dest_lookup(r), &m) != BBT_ROUTE_MATCH ||
        m.key_exact || m.key_len == 0) {
        return DECLINED;
    }
    uri = apr_pstrdup(r->pool, r->uri);
    memcpy(uri + m.key_off, m.target.key, m.key_len);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "project key %.*s in %s mapped to %s", (int)m.key_len,
                  r->uri + m.key_off, r->uri, m.target.key);
    r->uri = uri;
    return DECLINED;
}

static int bbt_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s)
{
    (void)plog;
    (void)ptemp;
    if (bbt_db_init() != 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "mod_dbd is not loaded: mod_bbtoken needs it "
                     "(LoadModule dbd_module ...)");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    bbt_logguard_post_config(pconf, s);
    return OK;
}

static void bbt_register_hooks(apr_pool_t *p)
{
    ap_hook_post_config(bbt_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    bbt_logguard_register_hooks(p);
    bbt_private_register_hooks(p);
    bbt_rest_register_hooks(p);
    ap_hook_translate_name(bbt_translate, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_check_authn(bbt_check_authn, NULL, NULL, APR_HOOK_MIDDLE,
                        AP_AUTH_INTERNAL_PER_URI);
    ap_hook_check_authz(bbt_authz_gate, NULL, NULL, APR_HOOK_FIRST,
                        AP_AUTH_INTERNAL_PER_URI);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "bbtoken",
                              AUTHZ_PROVIDER_VERSION, &bbt_authz_provider,
                              AP_AUTH_INTERNAL_PER_URI);
    ap_hook_note_auth_failure(bbt_note_auth_failure, NULL, NULL,
                              APR_HOOK_MIDDLE);
    ap_hook_fixups(bbt_fixups, NULL, NULL, APR_HOOK_REALLY_FIRST);
}

AP_DECLARE_MODULE(bbtoken) = {
    STANDARD20_MODULE_STUFF,
    bbt_create_dir_conf, /* per-directory config */
    bbt_merge_dir_conf,  /* merge per-directory config */
    bbt_create_srv_conf, /* per-server config */
    bbt_merge_srv_conf,  /* merge per-server config */
    bbt_cmds,            /* directives */
    bbt_register_hooks,  /* hooks */
    AP_MODULE_FLAG_NONE,
};
