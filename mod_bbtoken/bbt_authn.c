/*
 * check_authn for AuthType BBToken.  It reads Basic or Bearer credentials,
 * checks the token's shape and checksum, then verifies the token and learns
 * its owner's live level on the target this URI routes to (bbt_verify.c:
 * from the cache, or in one query from the database).  A Basic password that is
 * not a token goes to the AuthBBTokenProvider providers instead.  Bad
 * credentials are 401, a malformed header 400, an unreachable database 503.
 *
 * An internal redirect or sub-request does not read the credentials again
 * (the fixups hook removed them): it inherits the identity of the request
 * before it, and the token is loaded again for the new target.  A password
 * is inherited under the same configuration alone; elsewhere the section's
 * own providers are asked again, with the header the fixups kept.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_auth.h"
#include "apr_atomic.h"
#include "apr_strings.h"

#include <string.h>

#include <openssl/crypto.h>

#include "bbt_authn.h"
#include "bbt_config.h"
#include "bbt_cred.h"
#include "bbt_db.h"
#include "bbt_input.h"
#include "bbt_kind.h"
#include "bbt_overglue.h"
#include "bbt_request.h"
#include "bbt_rest_refuse.h"
#include "bbt_routing.h"
#include "bbt_throttle.h"
#include "bbt_token.h"
#include "bbt_tokshape.h"
#include "bbt_verify.h"

APLOG_USE_MODULE(bbtoken);

/* A Basic user name as it may appear in the log.  People paste a token or
 * a password into the wrong field: a name that is not shaped like a user
 * name, or that no user could have (it holds a token: bbt_token_in_name),
 * is not written out. */
static const char *bbt_loggable(request_rec *r, const char *user)
{
    size_t len = strlen(user);

    if (!bbt_input_user_name(user, len)) {
        return "(not a user name)";
    }
    if (bbt_token_in_name(user, len)) {
        return "(a token)";
    }
    return apr_pstrdup(r->pool, user);
}

static int bbt_unauthorized(request_rec *r)
{
    ap_note_auth_failure(r);
    return HTTP_UNAUTHORIZED;
}

/* Credentials that are not even a token: say why, never what was sent.
 * Every refusal line is at error once per HTTP request the client sent
 * (bbt_request_refusal_level): its sub-requests read the same header. */
static int bbt_not_a_token(request_rec *r, bbt_token_status_t ts)
{
    int level = bbt_request_refusal_level(r);

    ap_log_rerror(APLOG_MARK, level, 0, r, "BBT034: credentials refused: %s",
                  bbt_token_status_str(ts));
    return bbt_unauthorized(r);
}

/* A credential refused that the throttle counts (a guess could have got it,
 * or a token from outside its allow-list): counted once per HTTP request the
 * client sent, however many of its sub-requests refused it (a listing of
 * sections of the module's, mod_dir's index probes). */
static void bbt_authn_failed(request_rec *r)
{
    if (bbt_request_failure_first(r)) {
        bbt_throttle_failed(r);
    }
}

static int bbt_unavailable(request_rec *r)
{
    apr_table_setn(r->err_headers_out, "Retry-After", BBT_RETRY_AFTER);
    return HTTP_SERVICE_UNAVAILABLE;
}

static apr_status_t bbt_password_wipe(void *data)
{
    OPENSSL_cleanse(data, strlen(data));
    return APR_SUCCESS;
}

/* The password as the providers get it: a copy in the request's pool, as
 * mod_auth_basic gives them, because a provider may keep the pointer and
 * read it again in a later phase (mod_authnz_ldap binds as the user in
 * authz).  The decoding buffer is wiped right after the check; the copy
 * when the request ends. */
static const char *bbt_password_copy(request_rec *r, const bbt_cred_t *cred)
{
    char *pw = apr_pstrmemdup(r->pool, cred->secret, cred->secret_len);

    apr_pool_cleanup_register(r->pool, pw, bbt_password_wipe,
                              apr_pool_cleanup_null);
    return pw;
}

/* Check a Basic password that is not a token with the configured authn
 * providers, as mod_auth_basic does.  *user is the Basic user name; a
 * provider may name the user itself (mod_authnz_ldap's
 * AuthLDAPRemoteUserAttribute sets r->user), and then *user becomes that
 * name.  The password is never logged. */
static int bbt_check_password(request_rec *r, const bbt_dir_conf_t *conf,
                              const char **user, const char *password)
{
    authn_status st = AUTH_USER_NOT_FOUND;
    const char *name = NULL;
    int level;
    /* Kept across the providers: mod_authnz_fcgi sets r->status from its
     * application's answer (200), and in an error page asked again (an
     * ErrorDocument into another section) that status is the error's. */
    int status = r->status;
    int i;

    for (i = 0; i < conf->authn->nelts; i++) {
        const bbt_authn_t *a = &APR_ARRAY_IDX(conf->authn, i, bbt_authn_t);

        /* Each provider is asked as mod_auth_basic asks it, with the user
         * in r->user too: mod_authnz_fcgi hands its application that
         * (REMOTE_USER), not the argument.  A name it leaves there is
         * its word; any answer but AUTH_GRANTED takes it away. */
        r->user = (char *)*user;
        apr_table_setn(r->notes, AUTHN_PROVIDER_NAME_NOTE, a->name);
        st = a->provider->check_password(r, *user, password);
        apr_table_unset(r->notes, AUTHN_PROVIDER_NAME_NOTE);
        r->status = status;
        if (st != AUTH_USER_NOT_FOUND) {
            name = a->name;
            break;
        }
    }
    switch (st) {
    case AUTH_GRANTED:
        if (r->user && strchr(r->user, ':')) {
            /* No Basic user name has a colon, and the module names project
             * and repository tokens with one (project:KEY): a provider's
             * name for the user (an LDAP attribute a user may set) must not
             * pass for one. */
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "BBT829: provider %s names user %s with a colon, "
                          "as project and repository tokens are named: "
                          "refused",
                          name, bbt_loggable(r, *user));
            r->user = NULL;
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (r->user && *r->user && strcmp(r->user, *user) != 0) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                          "BBT038: provider %s names user %s %s", name,
                          bbt_loggable(r, *user), bbt_loggable(r, r->user));
            *user = r->user;
        }
        return OK;
    case AUTH_DENIED:
    case AUTH_USER_NOT_FOUND:
        r->user = NULL;
        level = bbt_request_refusal_level(r);
        ap_log_rerror(
            APLOG_MARK, level, 0, r, "BBT040: password refused for user %s: %s",
            bbt_loggable(r, *user),
            st == AUTH_USER_NOT_FOUND ? "unknown user" : "wrong password");
        return bbt_unauthorized(r);
    default:
        /* A failure, or an answer httpd 2.4's providers do not give (trunk's
         * AUTH_HANDLED, say): the server's fault, 500 as mod_auth_basic
         * answers it.  A 401 would make git forget a good password. */
        r->user = NULL;
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            "BBT039: password check for user %s failed in its provider",
            bbt_loggable(r, *user));
        return HTTP_INTERNAL_SERVER_ERROR;
    }
}

/* Read and check the credentials.  On OK, either *tok holds the token (wipe
 * it) and *user the Basic user name or NULL for Bearer, or *password is set:
 * the Basic password was not a token and an AuthBBTokenProvider accepted it
 * for *user (the name the provider settled on). */
static int bbt_read_credentials(request_rec *r, const bbt_dir_conf_t *conf,
                                const char *hdr, bbt_req_t *rq,
                                bbt_token_t *tok, const char **user,
                                int *password)
{
    /* On the stack: wiped before this returns, nothing in it outlives the
     * call, and 4 KiB from the request's pool would take a block of its
     * own in most requests. */
    char buf[BBT_CRED_MAX_HEADER + 1];
    bbt_token_status_t ts;
    bbt_cred_t cred;
    int status = OK;

    *password = 0;
    switch (bbt_cred_parse(hdr, buf, sizeof(buf), &cred)) {
    case BBT_CRED_NONE:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "BBT031: no credentials for %s", r->uri);
        status = bbt_unauthorized(r);
        break;
    case BBT_CRED_OTHER:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "BBT032: unsupported authorization scheme for %s",
                      r->uri);
        status = bbt_unauthorized(r);
        break;
    case BBT_CRED_MALFORMED:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "BBT033: malformed Authorization header: %s", cred.why);
        apr_table_setn(r->notes, "error-notes",
                       apr_pstrcat(r->pool, "Malformed Authorization header: ",
                                   cred.why, ".", NULL));
        apr_table_setn(r->notes, BBT_REST_REFUSE_HEADER, "1");
        status = HTTP_BAD_REQUEST;
        break;
    case BBT_CRED_BASIC:
    case BBT_CRED_BEARER:
        rq->presented = 1;
        /* The checksum is checked unless the cache knows the token
         * (bbt_verify.c): an entry is only ever made for a token that
         * passed it, and only these very bytes find it. */
        ts = bbt_cred_token_unchecked(&cred, tok);
        /* Before any provider or database work: a throttled address's
         * guesses cost nothing.  Whatever is shaped like a token is one
         * (a mistyped token gets its 401). */
        if ((status = bbt_throttle_gate(
                 r, ts == BBT_TOKEN_OK ||
                        bbt_token_shaped(cred.secret, cred.secret_len))) !=
            OK) {
            bbt_token_wipe(tok);
            break;
        }
        if (ts != BBT_TOKEN_OK && conf->authn && conf->authn->nelts > 0 &&
            bbt_cred_is_password(&cred)) {
            /* Not a token: an ordinary password, for the providers. */
            *user = apr_pstrmemdup(r->pool, cred.user, cred.user_len);
            status =
                bbt_check_password(r, conf, user, bbt_password_copy(r, &cred));
            *password = status == OK;
            break;
        }
        if (ts != BBT_TOKEN_OK) {
            status = bbt_not_a_token(r, ts);
            break;
        }
        *user = cred.kind == BBT_CRED_BASIC
                    ? apr_pstrmemdup(r->pool, cred.user, cred.user_len)
                    : NULL;
        break;
    }
    /* buf held the decoded Basic password: decoding never writes more
     * than the header's length, and the header is under the cap (or was
     * refused before anything was decoded). */
    OPENSSL_cleanse(buf, hdr ? strnlen(hdr, BBT_CRED_MAX_HEADER) + 1 : 0);
    return status;
}

/* The live levels of the password user named user on the target and the
 * second target (a COPY's or a MOVE's Destination, the project a body
 * names, the user's own for body-project-absent=): the name is all that
 * names such a user.  SITE_READ has no target: the level asked is on the
 * user's own personal project, admin for every active user and none for
 * a disabled one or a name without a row, which is what bbt_decide holds
 * such a user to there. */
static int bbt_user_levels(request_rec *r, bbt_req_t *rq, const char *user)
{
    bbt_access_t *a = &rq->access;
    const char *own;
    char own_key[BBT_KEY_BUF];
    bbt_db_conn_t *c;
    bbt_db_status_t st = BBT_DB_OK;

    bbt_request_dest_own(r, a, user);
    if (!rq->routed && !a->has_dest) {
        return OK;
    }
    c = bbt_db_open(r);
    if (!c) {
        return bbt_unavailable(r);
    }
    if (rq->routed && bbt_perm_site(a->target.need)) {
        own = apr_pstrcat(r->pool, "~", user, NULL);
        a->owner_level = BBT_LEVEL_NONE;
        if (bbt_input_key(own, strlen(own), own_key) == 0) {
            st = bbt_db_user_level(c, user, own_key, NULL, &a->owner_level);
        }
    } else if (rq->routed) {
        st = bbt_db_user_level(c, user, a->target.key,
                               a->target.slug[0] ? a->target.slug : NULL,
                               &a->owner_level);
    }
    if (st == BBT_DB_OK && a->has_dest) {
        st = bbt_db_user_level(c, user, a->dest.key,
                               a->dest.slug[0] ? a->dest.slug : NULL,
                               &a->dest_owner_level);
    }
    bbt_db_close(c);
    return st == BBT_DB_OK ? OK : bbt_unavailable(r);
}

/* Verify the token (from the cache or the database, bbt_verify.c), with
 * its owner's levels on the target and on a second target, and set the
 * request's identity.
 * tok is NULL when a prior request of this HTTP request verified the same
 * token: it is verified again all the same, so the target's level is the
 * new URI's and a token revoked meanwhile stops.  *counted is set for a 401
 * the throttle counts (bbt_verdict_counted): one a guess could have got (not
 * a token, an unknown id, a wrong secret), and a right token from outside its
 * allow-list, which must not be told apart from a wrong one there either.  A
 * token refused otherwise after its secret proved right (revoked, expired,
 * its owner disabled, not the Basic user's) comes from whoever holds it, as a
 * CI job retrying a revoked token, and counting it would hold back the
 * passwords of everyone behind its address for no guess made. */
static int bbt_authn_verify_token(request_rec *r, bbt_req_t *rq,
                                  bbt_token_t *tok, const char *user,
                                  int *counted)
{
    bbt_verified_t v;
    const char *from, *perms;
    int level;

    *counted = 0;
    switch (bbt_verify_token(r, rq, tok, user, &v)) {
    case OK:
        break;
    case HTTP_UNAUTHORIZED:
        *counted = 1;
        return bbt_not_a_token(r, BBT_TOKEN_BAD_CHECKSUM);
    default:
        return bbt_unavailable(r);
    }
    from = v.cached ? " (from the cache)" : "";
    /* NULL for a pair the token's kind may not hold, which the verdict
     * already calls broken: checked again, as the backend must never be
     * told nothing for a token it was let through with. */
    perms = bbt_kind_perm_names(v.scope.kind, v.tok_project, v.tok_repo);
    if (v.verdict == BBT_VERDICT_BROKEN ||
        (v.verdict == BBT_VERDICT_OK && !perms)) {
        /* The schema's CHECKs make this impossible.  A broken row is the
         * server's fault, not the client's: 401 would make git erase a
         * good stored token. */
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            "BBT036: token %s has no valid permissions in the database",
            rq->token_id);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (v.verdict == BBT_VERDICT_ADDRESS) {
        /* The same answer as a wrong token, and counted as one: the client
         * learns nothing of the list, or that the token was right, from
         * this 401 or from the throttle's answers after it. */
        *counted = bbt_verdict_counted(v.verdict);
        level = bbt_request_refusal_level(r);
        ap_log_rerror(APLOG_MARK, level, 0, r,
                      "BBT600: token %s refused from %s: not in the "
                      "token's allow-list%s",
                      rq->token_id, r->useragent_ip, from);
        return bbt_unauthorized(r);
    }
    if (v.verdict != BBT_VERDICT_OK) {
        *counted = bbt_verdict_counted(v.verdict);
        level = bbt_request_refusal_level(r);
        ap_log_rerror(APLOG_MARK, level, 0, r,
                      "BBT035: token %s refused%s%s: %s%s", rq->token_id,
                      user ? " for user " : "",
                      user ? bbt_loggable(r, user) : "",
                      bbt_verdict_str(v.verdict), from);
        return bbt_unauthorized(r);
    }

    rq->verified = 1;
    rq->access.token_project_level = v.tok_project;
    rq->access.token_repo_level = v.tok_repo;
    rq->access.owner_level = v.owner;
    rq->access.dest_owner_level = v.dest_owner;
    rq->access.scope = v.scope;
    if (v.scope.kind != BBT_KIND_PERSONAL) {
        /* A project's or a repository's token is nobody: its own name,
         * which no user name can take, for the logs and the backend. */
        v.user_name = bbt_kind_identity(
            &v.scope, apr_palloc(r->pool, BBT_KIND_ID_MAX), BBT_KIND_ID_MAX);
    }
    r->user = (char *)v.user_name;
    r->ap_auth_type = (char *)BBT_AUTH_TYPE;
    /* Added, not set: check_authn took any earlier ones away, and the
     * table would compare every BBTOKEN_ key (they share a checksum).  The
     * id as rq holds it, not a copy: rq is in the request's pool, as the
     * table is, and nothing writes the id once it is verified. */
    apr_table_addn(r->subprocess_env, "BBTOKEN_ID", rq->token_id);
    apr_table_addn(r->subprocess_env, "BBTOKEN_NAME", v.token_name);
    /* The token's own ceiling, for the backend's rules that depend on who
     * wrote what (REMOTE_USER may be an admin the token is not). */
    apr_table_addn(r->subprocess_env, "BBTOKEN_TOKEN_PERMISSIONS", perms);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "BBT037: token %s of %s authenticated for %s%s", rq->token_id,
                  v.user_name, r->uri, from);
    return OK;
}

/* A user's password was accepted (now or by an earlier request of this
 * HTTP request): the identity, and the user's own grants on the target
 * where Require bbtoken decides by them (under Require valid-user nothing
 * does, and a database outage leaves such users as they were). */
static int bbt_password_user(request_rec *r, bbt_req_t *rq, const char *user)
{
    const bbt_dir_conf_t *conf = bbt_config_dir(r);
    int status =
        conf && conf->require_bbtoken ? bbt_user_levels(r, rq, user) : OK;

    if (status != OK) {
        return status;
    }
    rq->verified = 1;
    rq->access.password = 1;
    rq->user = user;
    r->user = (char *)user;
    r->ap_auth_type = (char *)BBT_AUTH_TYPE;
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "BBT041: user %s authenticated by password for %s",
                  bbt_loggable(r, user), r->uri);
    return OK;
}

void bbt_authn_env_clear(request_rec *r)
{
    apr_table_unset(r->subprocess_env, "BBTOKEN_ID");
    apr_table_unset(r->subprocess_env, "BBTOKEN_NAME");
    apr_table_unset(r->subprocess_env, "BBTOKEN_TOKEN_PERMISSIONS");
    apr_table_unset(r->subprocess_env, "BBTOKEN_ROUTE");
    apr_table_unset(r->subprocess_env, "BBTOKEN_PERMISSION");
    apr_table_unset(r->subprocess_env, "BBTOKEN_TARGET");
}

static int bbt_authn(request_rec *r)
{
    const bbt_dir_conf_t *conf;
    const bbt_req_t *prior;
    bbt_req_t *rq;
    bbt_token_t tok;
    const char *auth, *user = NULL;
    int status, password = 0, counted, level;

    if (!bbt_request_is_ours(r)) {
        return DECLINED;
    }
    if (!ap_auth_name(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "BBT030: AuthType %s needs an AuthName", BBT_AUTH_TYPE);
        /* Counted as a 500 by the metrics, whose alert is the one sign of
         * a section that refuses everything. */
        return bbt_request_refused_early(r, HTTP_INTERNAL_SERVER_ERROR);
    }
    /* Whatever a client or an earlier module put here is not ours. */
    bbt_authn_env_clear(r);

    conf = bbt_config_dir(r);
    rq = bbt_request_new(r);
    auth = bbt_request_authorization(r);
    prior = bbt_request_prior(r);
    /* With a record (the metrics count the refusal), before the routes
     * read a body.  Only where there is someone to decide about: a
     * request without credentials gets its 401 and challenge, which git
     * needs to send them, as before. */
    if ((auth || prior) && (status = bbt_overglue_check(r, rq)) != OK) {
        return status;
    }
    if ((status = bbt_routing_route(r, conf, rq)) != OK) {
        return status;
    }

    if (prior && prior->access.password) {
        /* Carried only under the very configuration that checked it.
         * Anywhere else this section's providers are asked again: the same
         * provider names may read another password file (AuthUserFile),
         * and a section that takes no passwords must not accept a user
         * someone else's provider let in. */
        if (!conf->authn || conf->authn->nelts == 0) {
            level = bbt_request_refusal_level(r);
            ap_log_rerror(
                APLOG_MARK, level, 0, r,
                "BBT042: user %s authenticated by password elsewhere; "
                "%s does not take that password",
                bbt_loggable(r, prior->user), r->uri);
            return bbt_unauthorized(r);
        }
        if (prior->dir == r->per_dir_config) {
            status = bbt_password_user(r, rq, prior->user);
        } else {
            status = bbt_read_credentials(r, conf,
                                          bbt_request_verified_authorization(r),
                                          rq, &tok, &user, &password);
            if (status == OK && !password) {
                /* The header a password came in cannot hold a token. */
                bbt_token_wipe(&tok);
                return bbt_unauthorized(r);
            }
            if (status != OK) {
                return status;
            }
            status = bbt_password_user(r, rq, user);
        }
    } else if (prior) {
        memcpy(rq->token_id, prior->token_id, sizeof(rq->token_id));
        memcpy(rq->cache_key, prior->cache_key, sizeof(rq->cache_key));
        rq->cache_keyed = prior->cache_keyed;
        rq->presented = 1;
        status = bbt_authn_verify_token(r, rq, NULL, NULL, &counted);
    } else if (bbt_request_refused_before(r)) {
        /* The error page (ErrorDocument) of a request refused for its
         * credentials: the same ones, refused and counted once already. */
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            "BBT730: credentials not accepted earlier in this request: "
            "not read again for %s",
            r->uri);
        rq->presented = 1;
        return bbt_unauthorized(r);
    } else {
        status =
            bbt_read_credentials(r, conf, auth, rq, &tok, &user, &password);
        if (status != OK) {
            /* Credentials refused count; none at all (git's first
             * request) or an unknown scheme does not. */
            if (status == HTTP_UNAUTHORIZED && rq->presented) {
                bbt_authn_failed(r);
            }
            return status;
        }
        if (password) {
            status = bbt_password_user(r, rq, user);
        } else {
            memcpy(rq->token_id, tok.id, sizeof(rq->token_id));
            status = bbt_authn_verify_token(r, rq, &tok, user, &counted);
            bbt_token_wipe(&tok);
            if (status == HTTP_UNAUTHORIZED && counted) {
                bbt_authn_failed(r);
            }
        }
    }
    if (status == OK) {
        status = bbt_routing_named(r, rq);
    }
    if (status == OK) {
        bbt_routing_env(r, rq);
    }
    return status;
}

/* Under "Satisfy Any" (mod_access_compat) httpd skips authentication
 * whenever the host rules allow, and no rule at all allows: a section of
 * ours would then serve anyone.  Here the access check never grants: its
 * "no" sends such a request on to authentication, and a Require the
 * section states (Require ip, Require all granted) still lets in whom it
 * names.  Under Satisfy All this hook stays out of the way. */
static int bbt_check_access(request_rec *r)
{
    static apr_uint32_t told;

    if (ap_satisfies(r) != SATISFY_ANY || !bbt_request_is_ours(r)) {
        return DECLINED;
    }
    if (apr_atomic_cas32(&told, 1, 0) == 0) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "BBT781: Satisfy Any does not apply where AuthType is "
                      "%s (here %s): host rules never let a request past the "
                      "login; use Require ip in a <RequireAny> instead",
                      BBT_AUTH_TYPE, r->uri);
    }
    return HTTP_UNAUTHORIZED;
}

/* Whatever refuses the login, on the API's location it is told in JSON. */
static int bbt_check_authn(request_rec *r)
{
    int status = bbt_authn(r);
    bbt_req_t *rq;

    if (status == HTTP_UNAUTHORIZED && (rq = bbt_req(r)) && rq->presented &&
        !rq->verified) {
        rq->refused = 1;
    }
    return bbt_rest_refuse(r, status);
}

void bbt_authn_register_hooks(apr_pool_t *p)
{
    (void)p;
    /* Per URI: an internal redirect or sub-request to another URI in the
     * same section is decided again for the URI it really serves. */
    ap_hook_check_authn(bbt_check_authn, NULL, NULL, APR_HOOK_MIDDLE,
                        AP_AUTH_INTERNAL_PER_URI);
    ap_hook_check_access(bbt_check_access, NULL, NULL, APR_HOOK_FIRST,
                         AP_AUTH_INTERNAL_PER_URI);
}
