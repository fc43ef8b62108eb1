/*
 * Authorization, and the answers that refuse.
 *
 *   the gate         a check_authz hook that runs before all others:
 *                    too little permission is 403 whatever the Require
 *                    lines say, so a token never exceeds its scope even
 *                    under "Require valid-user", and git credential helpers
 *                    (which erase a stored password on 401) keep the token.
 *   Require bbtoken  grants exactly when the request is allowed: a token
 *                    within its routes, or a password user with the grants.
 *   challenges       both Basic and Bearer with every 401, Bearer's
 *                    error="invalid_token" when credentials (a token, or
 *                    a Basic password) were presented and not proven: a
 *                    client told so drops them, which is wrong for a right
 *                    password whose grants are too few (httpd's 401).
 *
 * The decision itself is bbt_decide (core).
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_auth.h"
#include "mod_core.h"
#include "util_filter.h"
#include "ap_provider.h"
#include "apr_strings.h"

#include <string.h>

#include "bbt_authz.h"
#include "bbt_config.h"
#include "bbt_decide.h"
#include "bbt_perm.h"
#include "bbt_request.h"
#include "bbt_rest_refuse.h"

APLOG_USE_MODULE(bbtoken);

/* The gate's 403 words, the very string it gave error-notes. */
#define BBT_AUTHZ_NOTE "bbtoken-gate-refused"

static ap_filter_rec_t *bbt_authz_note_filter_handle;

/* A project's or a repository's token asked for something outside its
 * project or repository: logged, and the 403's words. */
static const char *bbt_authz_out_of_scope(request_rec *r, const bbt_req_t *rq,
                                          const bbt_target_t *on)
{
    char scope[BBT_KIND_ID_MAX + 16];

    bbt_kind_describe(&rq->access.scope, scope, sizeof(scope));
    /* A target without a key is a personal project such a token has not
     * (body-project-absent=). */
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  "BBT550: token %s of %s: %s %s is on %s%s%s, outside the "
                  "token's %s (route %s)",
                  rq->token_id, r->user, r->method, r->uri,
                  on->key[0] ? on->key : "a personal project",
                  on->slug[0] ? "/" : "", on->slug, scope, rq->route);
    return apr_pstrcat(r->pool, "This access token is for ", scope, " only.",
                       NULL);
}

/* A project's or a repository's token asked for a read outside any one
 * project (SITE_READ): its REMOTE_USER (project:KEY, repo:KEY/slug) is
 * nobody, whom no backend should list the site for.  Logged, and the
 * 403's words. */
static const char *bbt_authz_site_wide(request_rec *r, const bbt_req_t *rq)
{
    char scope[BBT_KIND_ID_MAX + 16];

    bbt_kind_describe(&rq->access.scope, scope, sizeof(scope));
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  "BBT551: token %s of %s: %s %s is a read outside any one "
                  "project (SITE_READ, route %s), which only a personal "
                  "token is given, not the token's %s",
                  rq->token_id, r->user, r->method, r->uri, rq->route, scope);
    return apr_pstrcat(r->pool, "This access token is for ", scope,
                       " only; reads across projects take a personal token.",
                       NULL);
}

/* Where a refusal's permission is needed, for the log: KEY, KEY/slug, or
 * for SITE_READ, which has no target, "the site". */
static const char *bbt_authz_where(request_rec *r, const bbt_target_t *on)
{
    if (bbt_perm_site(on->need)) {
        return "the site";
    }
    return on->slug[0] ? apr_pstrcat(r->pool, on->key, "/", on->slug, NULL)
                       : on->key;
}

/* A project's or a repository's token's request names a repository
 * (query-repo=, body-repo=) outside its scope, or one that could not be
 * decided: logged, and the 403's words. */
static const char *bbt_authz_named(request_rec *r, const bbt_req_t *rq)
{
    const bbt_named_t *n = &rq->access.named;
    char scope[BBT_KIND_ID_MAX + 16];
    const char *what = n->repo.key[0] ? apr_pstrcat(r->pool, n->repo.key, "/",
                                                    n->repo.slug, NULL)
                                      : n->why;

    bbt_kind_describe(&rq->access.scope, scope, sizeof(scope));
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  "BBT820: token %s of %s: %s %s: the repository %s names is "
                  "not inside the token's %s: %s (route %s)",
                  rq->token_id, r->user, r->method, r->uri, n->where, scope,
                  what, rq->route);
    return apr_pstrcat(r->pool, "This access token is for ", scope,
                       " only: the repository ", n->where, " names is ", what,
                       n->repo.key[0] ? ", outside it." : ".", NULL);
}

/* The gate: runs before mod_authz_core and every other authorization
 * hook, so too little permission is 403 regardless of Require, of
 * AuthzSendForbiddenOnFailure and of mod_authz_svn.  For tokens
 * only: what a password user may do is the Require lines' business
 * (Require bbtoken holds them to their grants). */
static int bbt_authz_gate(request_rec *r)
{
    bbt_req_t *rq;
    const char *need, *msg;
    const bbt_target_t *on;
    bbt_perm_t what;
    bbt_decision_t d;

    if (!(rq = bbt_req(r)) || !rq->verified || rq->access.password ||
        !bbt_request_ours(r, rq)) {
        return DECLINED;
    }
    if (!rq->routed) {
        /* A sub-request is often a lookup (mod_cgid's PATH_TRANSLATED) whose
         * answer nobody sends: not worth an error line. */
        ap_log_rerror(APLOG_MARK, r->main ? APLOG_DEBUG : APLOG_ERR, 0, r,
                      "BBT050: token %s of %s: no route for %s %s: %s%s%s",
                      rq->token_id, r->user, r->method, r->uri,
                      rq->access.target.why, rq->route ? " at " : "",
                      rq->route ? rq->route : "");
        msg = "This URL or method is not open to access tokens.";
    } else if ((d = bbt_decide(&rq->access, &on, &what)) == BBT_DECIDE_ALLOW) {
        rq->gate_allowed = 1;
        return DECLINED;
    } else if (d == BBT_DECIDE_OUT_OF_SCOPE && on == &rq->access.named.repo) {
        msg = bbt_authz_named(r, rq);
    } else if (d == BBT_DECIDE_OUT_OF_SCOPE) {
        msg = bbt_authz_out_of_scope(r, rq, on);
    } else if (d == BBT_DECIDE_SITE_WIDE) {
        msg = bbt_authz_site_wide(r, rq);
    } else {
        need = bbt_perm_name(what.scope, what.level);
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "BBT051: token %s of %s: %s %s needs %s on %s (route "
                      "%s): %s",
                      rq->token_id, r->user, r->method, r->uri, need,
                      bbt_authz_where(r, on), rq->route,
                      d == BBT_DECIDE_OWNER ? "the owner lacks it"
                                            : "the token lacks it");
        msg = apr_pstrcat(r->pool,
                          d == BBT_DECIDE_OWNER
                              ? "The token's owner does not have "
                              : "The access token does not have ",
                          need, " permission for this request.", NULL);
    }
    apr_table_setn(r->notes, "error-notes", msg);
    apr_table_setn(r->notes, BBT_AUTHZ_NOTE, msg);
    apr_table_add(r->err_headers_out, "WWW-Authenticate",
                  apr_pstrcat(r->pool, "Bearer realm=\"",
                              ap_escape_quotes(r->pool, ap_auth_name(r)),
                              "\", error=\"insufficient_scope\"", NULL));
    return bbt_rest_refuse(r, HTTP_FORBIDDEN);
}

/* Gives error-notes back the gate's words as they were, at the end of
 * the stream: httpd's page was made before it, and whoever reads the note
 * later (the access log's %{error-notes}n, another module's log hook)
 * reads the words as the JSON envelope and ERROR_NOTES have them.  Not if
 * something else has changed the note since, nor where the filter was
 * named in the configuration (no words of the gate's then). */
static apr_status_t bbt_authz_note_filter(ap_filter_t *f,
                                          apr_bucket_brigade *bb)
{
    const char *mine = f->ctx, *now;
    apr_bucket *b;

    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
         b = APR_BUCKET_NEXT(b)) {
        if (!APR_BUCKET_IS_EOS(b)) {
            continue;
        }
        now = apr_table_get(f->r->notes, "error-notes");
        if (mine && now && now[0] == ' ' && strcmp(now + 1, mine) == 0) {
            apr_table_setn(f->r->notes, "error-notes", mine);
        }
        ap_remove_output_filter(f);
        break;
    }
    return ap_pass_brigade(f->next, bb);
}

/* httpd's 403 page puts error-notes straight after its own sentence,
 * "You don't have permission to access this resource.", with nothing
 * between.  The gate's words get their space here, just before that page
 * is made, and for it alone: the note has its words back once the page is
 * written (bbt_authz_note_filter).  A text ErrorDocument, which may quote
 * the note, and the JSON envelope (bbt_rest_refuse.c) are custom responses
 * starting with '"' that ap_send_error_response sends instead of the page,
 * so there the note is left alone; a local ErrorDocument's page was handed
 * ERROR_NOTES already (ap_die_r), and an external one's answer is a 302.
 * Only the gate's own note, still in place, and only once. */
static void bbt_authz_page_note(request_rec *r)
{
    const char *mine = apr_table_get(r->notes, BBT_AUTHZ_NOTE);
    const char *doc;

    if (r->status != HTTP_FORBIDDEN || !mine ||
        apr_table_get(r->notes, "error-notes") != mine) {
        return;
    }
    apr_table_unset(r->notes, BBT_AUTHZ_NOTE);
    doc = ap_response_code_string(r, ap_index_of_response(r->status));
    if (doc && doc[0] == '"') {
        return;
    }
    apr_table_setn(r->notes, "error-notes",
                   apr_pstrcat(r->pool, " ", mine, NULL));
    ap_add_output_filter_handle(bbt_authz_note_filter_handle, (void *)mine, r,
                                r->connection);
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
                      "BBT052: user %s did not authenticate with mod_bbtoken",
                      r->user);
        return AUTHZ_DENIED;
    }
    if (!rq->routed) {
        if (rq->access.password) {
            ap_log_rerror(APLOG_MARK, r->main ? APLOG_DEBUG : APLOG_ERR, 0, r,
                          "BBT053: user %s: no route for %s %s: %s", r->user,
                          r->method, r->uri, rq->access.target.why);
        }
        return AUTHZ_DENIED;
    }
    /* Nothing changes rq->access between the gate and here. */
    if (!rq->gate_allowed &&
        bbt_decide(&rq->access, &on, &what) != BBT_DECIDE_ALLOW) {
        if (rq->access.password) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "BBT054: user %s: %s %s needs %s on %s (route %s)",
                          r->user, r->method, r->uri,
                          bbt_perm_name(what.scope, what.level),
                          bbt_authz_where(r, on), rq->route);
        }
        return AUTHZ_DENIED;
    }
    return AUTHZ_GRANTED;
}

static const char *bbt_authz_parse(cmd_parms *cmd, const char *require_line,
                                   const void **parsed)
{
    bbt_dir_conf_t *conf =
        cmd->context ? ap_get_module_config(cmd->context, &bbtoken_module)
                     : NULL;

    (void)parsed;
    if (require_line && require_line[strspn(require_line, " \t")]) {
        return "Require bbtoken takes no arguments";
    }
    if (conf) {
        conf->require_bbtoken = 1;
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
    /* Both schemes work everywhere: tools that speak only one find it.
     * Basic has no charset parameter, as mod_auth_basic's has none: serf
     * (svn) reads the realm up to the challenge's last quote, shows that
     * and keys the credentials it stores on it; and no client served here
     * reads one: browsers and svn send UTF-8 always, curl, git, git-lfs
     * and neon the bytes they are given. */
    apr_table_add(r->err_headers_out, hdr,
                  apr_pstrcat(r->pool, "Basic realm=\"", realm, "\"", NULL));
    apr_table_add(r->err_headers_out, hdr,
                  apr_pstrcat(r->pool, "Bearer realm=\"", realm, "\"",
                              rq && rq->presented && !rq->verified
                                  ? ", error=\"invalid_token\""
                                  : "",
                              NULL));
    return OK;
}

void bbt_authz_register_hooks(apr_pool_t *p)
{
    /* Before any other authorization hook, not only mod_authz_core's: the
     * first to grant ends the phase, and mod_authz_svn's (APR_HOOK_FIRST
     * too, loaded before this module) grants on its access file alone. */
    ap_hook_check_authz(bbt_authz_gate, NULL, NULL, APR_HOOK_REALLY_FIRST,
                        AP_AUTH_INTERNAL_PER_URI);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "bbtoken",
                              AUTHZ_PROVIDER_VERSION, &bbt_authz_provider,
                              AP_AUTH_INTERNAL_PER_URI);
    ap_hook_note_auth_failure(bbt_note_auth_failure, NULL, NULL,
                              APR_HOOK_MIDDLE);
    bbt_authz_note_filter_handle = ap_register_output_filter(
        "BBTOKEN_GATE_NOTE", bbt_authz_note_filter, NULL, AP_FTYPE_CONTENT_SET);
    ap_hook_insert_error_filter(bbt_authz_page_note, NULL, NULL,
                                APR_HOOK_MIDDLE);
}
