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
#include "apr_strings.h"

#include <string.h>

#include <openssl/crypto.h>

#include "bbt_cred.h"
#include "bbt_db.h"
#include "bbt_logguard.h"
#include "bbt_perm.h"
#include "bbt_private.h"
#include "bbt_route.h"
#include "bbt_token.h"

module AP_MODULE_DECLARE_DATA bbtoken_module;

#define BBT_AUTH_TYPE "BBToken"
/* Seconds a client should wait after a 503 for an unreachable database. */
#define BBT_RETRY_AFTER "10"

typedef struct {
    const char *git_prefix; /* NULL: no route set configured here */
} bbt_dir_conf_t;

/* What authn learned about a request, for authz and fixups. */
typedef struct {
    int verified;  /* the credentials were proven for this HTTP request */
    int presented; /* a token was presented: challenge with invalid_token */
    char token_id[BBT_TOKEN_ID_LEN + 1];
    bbt_level_t tok_project;
    bbt_level_t tok_repo;
    bbt_level_t owner;
    int routed;
    bbt_target_t target;
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

    conf->git_prefix = add->git_prefix ? add->git_prefix : base->git_prefix;
    return conf;
}

static const char *bbt_set_routes(cmd_parms *cmd, void *dconf, const char *name,
                                  const char *prefix)
{
    bbt_dir_conf_t *conf = dconf;
    size_t len;

    if (strcmp(name, "git") != 0) {
        return apr_psprintf(cmd->pool,
                            "BBTokenRoutes: unknown route set '%s' "
                            "(known: git)",
                            name);
    }
    if (!prefix) {
        prefix = "/scm";
    }
    if (prefix[0] != '/') {
        return "BBTokenRoutes: the URL prefix must start with '/'";
    }
    /* The matcher takes the prefix without its trailing slash. */
    len = strlen(prefix);
    while (len > 0 && prefix[len - 1] == '/') {
        len--;
    }
    conf->git_prefix = apr_pstrmemdup(cmd->pool, prefix, len);
    return NULL;
}

static const command_rec bbt_cmds[] = {
    /* Not in .htaccess: a repository's owner must not rewrite who gets in. */
    AP_INIT_TAKE12("BBTokenRoutes", bbt_set_routes, NULL,
                   RSRC_CONF | ACCESS_CONF,
                   "BBTokenRoutes git [URL-prefix]: map requests to the "
                   "permission they need (prefix defaults to /scm)"),
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

/* A Basic user name as it may appear in the log.  People paste a token or
 * a password into the wrong field: a name that is not shaped like a user
 * name, or that is shaped like a token, is not written out. */
static const char *bbt_loggable(request_rec *r, const char *user)
{
    bbt_token_t tok;
    size_t len = strlen(user);

    if (!bbt_cred_valid_user(user, len)) {
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

/* Read and check the credentials.  On OK, *tok holds the token (wipe it)
 * and *user the Basic user name or NULL for Bearer. */
static int bbt_read_credentials(request_rec *r, bbt_req_t *rq, bbt_token_t *tok,
                                const char **user)
{
    const char *hdr = apr_table_get(r->headers_in, "Authorization");
    char *buf = apr_palloc(r->pool, BBT_CRED_MAX_HEADER + 1);
    bbt_token_status_t ts;
    bbt_cred_t cred;
    int status = OK;

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

    memset(&row, 0, sizeof(row));
    c = bbt_db_open(r->pool, r->server);
    if (!c) {
        return bbt_unavailable(r);
    }
    st = bbt_db_lookup(c, rq->token_id, key, slug, &row);
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

    if (!refusal && tok && row.stale) {
        bbt_db_touch(c, rq->token_id);
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

static int bbt_check_authn(request_rec *r)
{
    bbt_dir_conf_t *conf;
    const bbt_req_t *prior;
    bbt_req_t *rq;
    bbt_token_t tok;
    const char *user = NULL;
    int status;

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

    conf = ap_get_module_config(r->per_dir_config, &bbtoken_module);
    rq = apr_pcalloc(r->pool, sizeof(*rq));
    ap_set_module_config(r->request_config, &bbtoken_module, rq);

    if (conf->git_prefix) {
        rq->routed = bbt_route_git(conf->git_prefix, r->method, r->uri, r->args,
                                   &rq->target) == BBT_ROUTE_MATCH;
    } else {
        rq->target.why = "no BBTokenRoutes apply here";
    }

    prior = bbt_prior(r);
    if (prior) {
        memcpy(rq->token_id, prior->token_id, sizeof(rq->token_id));
        rq->presented = 1;
        return bbt_load(r, rq, NULL, NULL);
    }

    status = bbt_read_credentials(r, rq, &tok, &user);
    if (status != OK) {
        return status;
    }
    memcpy(rq->token_id, tok.id, sizeof(rq->token_id));
    status = bbt_load(r, rq, &tok, user);
    bbt_token_wipe(&tok);
    return status;
}

static bbt_decision_t bbt_decide(const bbt_req_t *rq)
{
    return bbt_perm_decide(rq->target.need, rq->tok_project, rq->tok_repo,
                           rq->owner);
}

/* The gate: runs before mod_authz_core, so too little permission is 403
 * regardless of Require and of AuthzSendForbiddenOnFailure. */
static int bbt_authz_gate(request_rec *r)
{
    bbt_req_t *rq;
    const char *need, *msg;
    bbt_decision_t d;

    if (!bbt_is_ours(r) || !(rq = bbt_req(r)) || !rq->verified) {
        return DECLINED;
    }
    if (!rq->routed) {
        /* A sub-request is often a lookup (mod_cgid's PATH_TRANSLATED) whose
         * answer nobody sends: not worth an error line. */
        ap_log_rerror(APLOG_MARK, r->main ? APLOG_DEBUG : APLOG_ERR, 0, r,
                      "token %s of %s: no route for %s %s: %s", rq->token_id,
                      r->user, r->method, r->uri, rq->target.why);
        msg = "This URL or method is not open to access tokens.";
    } else if ((d = bbt_decide(rq)) == BBT_DECIDE_ALLOW) {
        return DECLINED;
    } else {
        need = bbt_perm_name(rq->target.need.scope, rq->target.need.level);
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "token %s of %s: %s needs %s on %s%s%s: %s", rq->token_id,
                      r->user, r->uri, need, rq->target.key,
                      rq->target.slug[0] ? "/" : "", rq->target.slug,
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

    (void)require_line;
    (void)parsed;
    if (!r->user) {
        return AUTHZ_DENIED_NO_USER;
    }
    if (!rq || !rq->verified) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "user %s did not authenticate with a token", r->user);
        return AUTHZ_DENIED;
    }
    if (!rq->routed || bbt_decide(rq) != BBT_DECIDE_ALLOW) {
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
    bbt_create_dir_conf,
    bbt_merge_dir_conf,
    NULL,
    NULL,
    bbt_cmds,
    bbt_register_hooks,
    AP_MODULE_FLAG_NONE,
};
