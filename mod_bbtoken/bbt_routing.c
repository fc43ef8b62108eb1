/*
 * Routing a request: its method, decoded path and query string against the
 * routes of its section, and for COPY and MOVE its Destination against the
 * section's destination routes.  What is decided is what is served: routes
 * see the path httpd maps, every internal request is routed again for its
 * own URI, and a project key is mapped to its canonical directory before
 * the URL reaches the filesystem, or refused where that cannot happen.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"
#include "apr_strings.h"
#include "apr_uri.h"

#include <string.h>

#include "bbt_backread.h"
#include "bbt_config.h"
#include "bbt_perm.h"
#include "bbt_query.h"
#include "bbt_reqbody.h"
#include "bbt_request.h"
#include "bbt_rest_refuse.h"
#include "bbt_rmemo.h"
#include "bbt_routing.h"
#include "bbt_rules.h"

APLOG_USE_MODULE(bbtoken);

/* The mark of the module's TRACE refusal, whose Allow is edited. */
#define BBT_TRACE_REFUSED_NOTE "bbtoken-trace-refused"

static ap_filter_rec_t *bbt_trace_allow_filter_handle;

static int bbt_is_copymove(const char *method)
{
    return strcmp(method, "COPY") == 0 || strcmp(method, "MOVE") == 0;
}

int bbt_routing_is_dest_lookup(const request_rec *r)
{
    return r->main && bbt_is_copymove(r->method);
}

/* ap_normalize_path's flags and ap_unescape_url_ex (httpd 2.4.51): the
 * Destination is read as httpd reads a request's path. */
#if !AP_MODULE_MAGIC_AT_LEAST(20120211, 118)
#error "mod_bbtoken needs httpd 2.4.51 or later"
#endif

/* The Destination header of r as a decoded, normalized path, or NULL with
 * *why when it is absent or anything but a plain URL (a query, a fragment,
 * an encoded slash or NUL), or when its path leads above the root.  Read as
 * ap_process_request_internal reads a request's own path on this server:
 * normalized first, undecoded but for unreserved characters, with slashes
 * merged in the same pass as MergeSlashes says (so under On a ".." pops
 * the segment before a "//", not the empty one between its slashes), a
 * ".." above the root refused (httpd's 400), then decoded.  A backend that
 * moves by itself and reads the header as httpd reads a path writes where
 * this is decided.  Under MergeSlashes Off the slashes httpd leaves are
 * merged afterwards, as the filesystem reads them: mod_dav's look-up
 * keeps them, and is refused for them where routes check what is moved
 * (BBT048).
 * mod_dav's own sub-request for it is routed too; this is the check that
 * holds even where that sub-request is not ours. */
static const char *bbt_dest_path(request_rec *r, const char **why)
{
    const char *dest = apr_table_get(r->headers_in, "Destination");
    const core_server_config *sconf =
        ap_get_core_module_config(r->server->module_config);
    unsigned int flags = AP_NORMALIZE_NOT_ABOVE_ROOT;
    apr_uri_t u;
    char *path;

    *why = "Destination missing or not a plain URL";
    if (!dest || apr_uri_parse(r->pool, dest, &u) != APR_SUCCESS || !u.path ||
        u.path[0] != '/' || u.query || u.fragment) {
        return NULL;
    }
    if (sconf->merge_slashes != AP_CORE_CONFIG_OFF) {
        flags |= AP_NORMALIZE_MERGE_SLASHES;
    }
    path = apr_pstrdup(r->pool, u.path);
    /* 0 for a ".." above the root, and for a '%' without two hex digits
     * after it, which the decoding below refuses too. */
    if (!ap_normalize_path(path, flags | AP_NORMALIZE_DECODE_UNRESERVED)) {
        *why = "Destination above the root, or not a plain URL";
        return NULL;
    }
    /* An encoded slash is refused whatever AllowEncodedSlashes says: the
     * header is handed on as the client wrote it, to backends that may
     * decode it. */
    if (ap_unescape_url_ex(path, AP_UNESCAPE_URL_KEEP_UNRESERVED |
                                     AP_UNESCAPE_URL_FORBID_SLASHES) != OK) {
        return NULL;
    }
    ap_no2slash(path);
    return path;
}

/* A request's match as translate_name made it, for check_authn to take
 * instead of matching again: matching is a pure function of the rules, the
 * method, the path, the query string and whether this is a Destination's
 * lookup, so the memo is taken only when all of those are the same (a
 * module may have rewritten the URI since, and the rules of a <Directory>
 * are only known later).  Kept with the request (bbt_request_memo): an
 * internal redirect or a sub-request makes its own in its own
 * translate_name. */
typedef struct {
    const bbt_rules_t *rules;
    const char *method, *uri, *args;
    int dest_lookup;
    bbt_route_result_t rv;
    bbt_match_t m;
} bbt_route_memo_t;

/* Keep mm, whose match (mm->m) translate_name made in place. */
static void bbt_memo_put(request_rec *r, bbt_route_memo_t *mm,
                         const bbt_rules_t *rules, int dest_lookup,
                         bbt_route_result_t rv)
{
    size_t mlen = strlen(r->method) + 1, ulen = strlen(r->uri) + 1;
    size_t alen = r->args ? strlen(r->args) + 1 : 0;
    char *text = apr_palloc(r->pool, mlen + ulen + alen);

    /* Copies, one after the other in one allocation: a module may write
     * into r's strings (the URI's in place) before check_authn. */
    mm->rules = rules;
    mm->method = memcpy(text, r->method, mlen);
    mm->uri = memcpy(text + mlen, r->uri, ulen);
    mm->args = r->args ? memcpy(text + mlen + ulen, r->args, alen) : NULL;
    mm->dest_lookup = dest_lookup;
    mm->rv = rv;
    bbt_request_set_memo(r, mm);
}

/* The memo when it is for this very match, or NULL. */
static const bbt_route_memo_t *
bbt_memo_get(request_rec *r, const bbt_rules_t *rules, int dest_lookup)
{
    const bbt_route_memo_t *mm = bbt_request_memo(r);

    if (!mm || mm->rules != rules || mm->dest_lookup != dest_lookup ||
        strcmp(mm->method, r->method) != 0 || strcmp(mm->uri, r->uri) != 0 ||
        (mm->args == NULL) != (r->args == NULL) ||
        (mm->args && strcmp(mm->args, r->args) != 0)) {
        return NULL;
    }
    return mm;
}

static void bbt_no_route(bbt_req_t *rq, const char *why)
{
    memset(&rq->access.target, 0, sizeof(rq->access.target));
    rq->access.target.need.scope = BBT_SCOPE_REPO;
    rq->access.target.why = why;
    rq->routed = 0;
    rq->access.has_dest = 0;
    rq->access.dest_personal = 0;
}

/* Match r, reading its body when a route asks for it: the match result
 * and *mp the match (translate_name's where it lies, or made in *m), or
 * with *status set (not OK), a refusal of the body. */
static bbt_route_result_t bbt_match_request(request_rec *r,
                                            const bbt_dir_conf_t *conf,
                                            int dest_lookup, bbt_match_t *m,
                                            const bbt_match_t **mp, int *status)
{
    const bbt_route_memo_t *mm = bbt_memo_get(r, conf->rules, dest_lookup);
    const bbt_body_t *body;
    bbt_route_result_t rv;

    *status = OK;
    /* Only a match or no route is kept, and neither is changed below. */
    if (mm && mm->rv != BBT_ROUTE_NEED_BODY) {
        *mp = &mm->m;
        return mm->rv;
    }
    *mp = m;
    rv = bbt_rmemo_match(conf->rules, r->method, r->uri, r->args, dest_lookup,
                         m);
    if (rv != BBT_ROUTE_NEED_BODY) {
        return rv;
    }
    /* Only for someone to decide about: a request without credentials is
     * refused for that, body unread. */
    if (!bbt_request_authorization(r) && !bbt_request_prior(r)) {
        m->target.why = "the route reads the body, which is not read "
                        "without credentials";
        return BBT_ROUTE_NONE;
    }
    if ((*status = bbt_reqbody_get(r, &body)) != OK) {
        if (*status == DECLINED) {
            *status = OK;
            m->target.why = "the route reads the body, which a sub-request "
                            "has not";
        }
        return BBT_ROUTE_NONE;
    }
    rv = bbt_rules_match_body(conf->rules, r->method, r->uri, r->args,
                              dest_lookup, body, m);
    if (rv == BBT_ROUTE_BAD_BODY) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "BBT453: the request body of %s %s is refused: %s "
                      "(route %s)",
                      r->method, r->uri, m->target.why,
                      bbt_rule_origin(m->rule));
        apr_table_setn(r->notes, "error-notes",
                       "The request body names a member twice, in other "
                       "cases.");
        apr_table_setn(r->notes, BBT_REST_REFUSE_BODY, "1");
        *status = HTTP_BAD_REQUEST;
    } else if (rv == BBT_ROUTE_BAD_PROJECT) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "BBT740: the request body of %s %s is refused: %s "
                      "(route %s)",
                      r->method, r->uri, m->target.why,
                      bbt_rule_origin(m->rule));
        apr_table_setn(r->notes, "error-notes",
                       apr_pstrcat(r->pool,
                                   "The request body cannot be "
                                   "decided by: ",
                                   m->target.why, ".", NULL));
        apr_table_setn(r->notes, BBT_REST_REFUSE_BODY, "1");
        *status = HTTP_BAD_REQUEST;
    }
    return rv;
}

/* The project a body-project= route's body names, as the request's
 * second target. */
static void bbt_route_into(bbt_req_t *rq, const bbt_match_t *m)
{
    bbt_target_t *d = &rq->access.dest;

    memset(d, 0, sizeof(*d));
    d->need = m->into_need;
    if (m->into == BBT_INTO_KEY) {
        memcpy(d->key, m->into_key, sizeof(d->key));
    }
    rq->access.dest_personal = m->into == BBT_INTO_PERSONAL;
    rq->access.dest_token_need.scope = BBT_SCOPE_PROJECT;
    rq->access.dest_token_need.level = BBT_LEVEL_NONE;
    rq->access.has_dest = 1;
}

/* A key not spelled canonically was not mapped by bbt_translate (routes in
 * a <Directory>, or a sub-request's Destination): refused, so that what is
 * decided is what the filesystem serves. */
int bbt_routing_route(request_rec *r, const bbt_dir_conf_t *conf, bbt_req_t *rq)
{
    bbt_match_t m;
    const bbt_match_t *mp;
    const char *dpath, *why;
    int dest_lookup = bbt_routing_is_dest_lookup(r), status;

    if (!conf->rules) {
        bbt_no_route(rq, "no BBTokenRoutes apply here");
        return OK;
    }
    rq->routed = bbt_match_request(r, conf, dest_lookup, &m, &mp, &status) ==
                 BBT_ROUTE_MATCH;
    rq->access.target = mp->target;
    rq->route = bbt_rule_origin(mp->rule);
    if (status != OK || !rq->routed) {
        rq->routed = 0;
        return status;
    }
    if (!mp->key_exact) {
        bbt_no_route(rq, "project key not spelled canonically");
        return OK;
    }
    if (!bbt_backread_agrees(conf->rules, r->method, r->uri, r->args,
                             dest_lookup, mp)) {
        bbt_no_route(rq, "an escape left in the path (%2F, %25XX), a "
                         "backslash or a ;parameter makes the path another "
                         "one's to a backend that reads it so");
        return OK;
    }
    rq->access.token_need = mp->token_need;
    rq->named = bbt_rule_named(mp->rule);
    rq->into_id = mp->into_id;
    memset(&rq->access.into_id, 0, sizeof(rq->access.into_id));
    rq->access.into_id.need.scope = BBT_SCOPE_PROJECT;
    if (mp->into_id) {
        apr_cpystrn(rq->access.into_id.key, "the project its body gives by id",
                    sizeof(rq->access.into_id.key));
        rq->access.into_id.need = mp->into_need;
    }
    if (mp->into != BBT_INTO_NONE) {
        /* Never a COPY or MOVE (bbt_bodyproj_check): one second end. */
        bbt_route_into(rq, mp);
        return OK;
    }
    if (dest_lookup || !bbt_is_copymove(r->method)) {
        return OK;
    }
    if (!(dpath = bbt_dest_path(r, &why))) {
        bbt_no_route(rq, why);
        return OK;
    }
    if (bbt_rules_match(conf->rules, r->method, dpath, NULL, 1, &m) !=
        BBT_ROUTE_MATCH) {
        bbt_no_route(rq, "no route covers the Destination");
        return OK;
    }
    if (!m.key_exact) {
        bbt_no_route(rq, "Destination's project key not spelled canonically");
        return OK;
    }
    /* A backend that moves or copies by itself reads the Destination as it
     * reads the path: mod_dav's sub-request, which would be held to this
     * when routed, is not made for it. */
    if (!bbt_backread_agrees(conf->rules, r->method, dpath, NULL, 1, &m)) {
        bbt_no_route(rq, "a backslash or a ;parameter makes the Destination "
                         "another one's to a backend that reads it so");
        return OK;
    }
    rq->access.has_dest = 1;
    rq->access.dest = m.target;
    rq->access.dest_token_need = m.token_need;
    return OK;
}

int bbt_routing_named(request_rec *r, bbt_req_t *rq)
{
    bbt_access_t *a = &rq->access;
    bbt_named_req_t q;
    bbt_qparam_t *params;
    int status;

    a->named_outside = 0;
    if (!rq->routed || (!rq->named && !rq->into_id) || a->password ||
        a->scope.kind == BBT_KIND_PERSONAL) {
        return OK;
    }
    memset(&q, 0, sizeof(q));
    q.project_id = rq->into_id;
    if (bbt_namedrepo_wants_query(rq->named)) {
        q.nparams = bbt_query_params(r->pool, r->args, &params);
        q.params = params;
    }
    if (bbt_namedrepo_wants_body(rq->named)) {
        status = bbt_reqbody_get(r, &q.body);
        if (status != OK && status != DECLINED) {
            return status;
        }
        /* A sub-request has no body: q.body stays NULL, which is outside. */
    }
    a->named_outside =
        !bbt_namedrepo_inside(rq->named, &a->scope, &q, &a->named);
    return OK;
}

void bbt_routing_env(request_rec *r, const bbt_req_t *rq)
{
    const bbt_target_t *t = &rq->access.target;
    size_t klen, slen;
    char *target;

    if (!rq->routed) {
        return;
    }
    /* Added: check_authn, the only caller, took any earlier ones away. */
    apr_table_addn(r->subprocess_env, "BBTOKEN_ROUTE", rq->route);
    apr_table_addn(r->subprocess_env, "BBTOKEN_PERMISSION",
                   bbt_perm_name(t->need.scope, t->need.level));
    /* SITE_READ is on no project or repository: no target to name, rather
     * than an empty one a backend might take for a key. */
    if (bbt_perm_site(t->need)) {
        return;
    }
    /* KEY or KEY/slug, put together without apr_pstrcat's two passes over
     * its arguments. */
    klen = strlen(t->key);
    slen = strlen(t->slug);
    target = apr_palloc(r->pool, klen + 1 + slen + 1);
    memcpy(target, t->key, klen);
    if (slen) {
        target[klen++] = '/';
        memcpy(target + klen, t->slug, slen);
    }
    target[klen + slen] = '\0';
    apr_table_addn(r->subprocess_env, "BBTOKEN_TARGET", target);
}

/* Project keys are case-insensitive, directory names are not.  Before the
 * URL is mapped to a file (mod_alias, the core, mod_rewrite run after this),
 * a key the routes capture is rewritten to its canonical spelling (PROJ,
 * ~carol.smith_corp for ~Carol.Smith@corp: the same length), so the
 * repository served is the one the decision is about.  Only
 * routes of a <Location> are known this early; elsewhere a key not spelled
 * canonically is refused when the request is routed. */
static int bbt_translate(request_rec *r)
{
    const bbt_dir_conf_t *conf;
    bbt_route_memo_t *mm;
    bbt_route_result_t rv;
    const bbt_match_t *m;
    char *uri;
    int dest_lookup;

    /* The routes first: the AuthType is an expression httpd evaluates
     * on every look, and most requests have no routes to look for. */
    conf = bbt_config_dir(r);
    if (!r->uri || !conf || !conf->rules || !bbt_request_is_ours(r)) {
        return DECLINED;
    }
    /* A route that reads the body knows its key before the body is read;
     * no body is read this early. */
    dest_lookup = bbt_routing_is_dest_lookup(r);
    /* Matched straight into the memo it may become. */
    mm = apr_palloc(r->pool, sizeof(*mm));
    m = &mm->m;
    rv = bbt_rmemo_match(conf->rules, r->method, r->uri, r->args, dest_lookup,
                         &mm->m);
    if ((rv != BBT_ROUTE_MATCH && rv != BBT_ROUTE_NEED_BODY) || m->key_exact ||
        m->key_len == 0) {
        /* A body is matched with the body, later. */
        if (rv == BBT_ROUTE_MATCH || rv == BBT_ROUTE_NONE) {
            bbt_memo_put(r, mm, conf->rules, dest_lookup, rv);
        }
        return DECLINED;
    }
    uri = apr_pstrdup(r->pool, r->uri);
    memcpy(uri + m->key_off, m->target.key, m->key_len);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "BBT020: project key %.*s in %s mapped to %s",
                  (int)m->key_len, r->uri + m->key_off, r->uri, m->target.key);
    r->uri = uri;
    return DECLINED;
}

/* httpd answers TRACE in map_to_storage (ap_send_http_trace, TraceEnable
 * on by default), before authentication: with the request echoed,
 * whatever a proxy in front added to it included, to anyone, and no route
 * that names TRACE ever decides.  In the module's sections (AuthType
 * BBToken, or routes a section set, which a .htaccess cannot take away
 * as it can the AuthType: bbt_config_governs) it is refused first, by the
 * sections that will apply: the walks map_to_storage and the location
 * walk after it would make (each keeps its result, so nothing is done
 * twice).  A walk that fails (a broken .htaccess, a symlink Options
 * refuses) answers as it would for any other method, not with an echo.
 * Any other TRACE is left to httpd, its configuration as it found it; a
 * refusal's page is the server's, not a .htaccess file's, and on the
 * access-tokens API's location Bitbucket's envelope, with the Allow its
 * handler gives (bbt_rest_refuse.c).  Whose location it is the walked
 * configuration says only where no .htaccess file took part in it: one a
 * writer put in a section of routes (SetHandler bbtoken-rest) would choose
 * the page, where every other method is refused with the server's
 * (BBT045, which runs after this hook). */
static int bbt_trace_refuse(request_rec *r)
{
    struct ap_conf_vector_t *before = r->per_dir_config;
    const bbt_dir_conf_t *conf;
    int rv, ours, status;

    if (r->method_number != M_TRACE) {
        return DECLINED;
    }
    if ((rv = ap_directory_walk(r)) != OK || (rv = ap_file_walk(r)) != OK ||
        (rv = ap_location_walk(r)) != OK || (rv = ap_if_walk(r)) != OK) {
        r->per_dir_config = before;
        return rv;
    }
    conf = bbt_config_dir(r);
    ours = bbt_config_governs(r, conf) || bbt_request_is_ours(r);
    if (!ours) {
        /* As it was: the walks merge their kept results onto it again. */
        r->per_dir_config = before;
        return DECLINED;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "BBT044: TRACE %s refused (405): httpd would answer it "
                  "before authentication",
                  r->uri);
    apr_table_setn(r->notes, BBT_TRACE_REFUSED_NOTE, "1");
    /* While the walked configuration says whose location it is: the
     * access-tokens API's answers in its envelope. */
    status = bbt_config_htaccess_read(r)
                 ? HTTP_METHOD_NOT_ALLOWED
                 : bbt_rest_refuse(r, HTTP_METHOD_NOT_ALLOWED);
    r->per_dir_config = before;
    return bbt_request_refused_early(r, status);
}

/* allow without its TRACE entries, the others kept in their order and
 * joined as make_allow joins them; allow itself when it has none. */
static const char *bbt_trace_allow_without(apr_pool_t *p, const char *allow)
{
    char *out = apr_palloc(p, strlen(allow) + 1), *o = out;
    const char *s = allow, *e, *b, *t;
    int dropped = 0;

    while (*s) {
        e = s + strcspn(s, ",");
        b = s;
        t = e;
        while (b < t && (*b == ' ' || *b == '\t')) {
            b++;
        }
        while (t > b && (t[-1] == ' ' || t[-1] == '\t')) {
            t--;
        }
        /* Method names are case-sensitive: only TRACE itself. */
        if (t - b == 5 && memcmp(b, "TRACE", 5) == 0) {
            dropped = 1;
        } else if (t > b) {
            if (o > out) {
                *o++ = ',';
            }
            memcpy(o, b, t - b);
            o += t - b;
        }
        s = *e ? e + 1 : e;
    }
    *o = '\0';
    return dropped ? out : allow;
}

/* httpd's error response gives a 405 the Allow make_allow makes, which
 * names TRACE wherever TraceEnable is not off, and so would name as
 * allowed the very method the refusal is of.  Without it the Allow is
 * what httpd's own refusal sends with TraceEnable off (an empty one where
 * nothing else is allowed yet).  Runs once, on the first brigade, after
 * httpd has set the Allow and before the header filter. */
static apr_status_t bbt_trace_allow_filter(ap_filter_t *f,
                                           apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    const char *allow = apr_table_get(r->headers_out, "Allow");

    if (allow) {
        apr_table_setn(r->headers_out, "Allow",
                       bbt_trace_allow_without(r->pool, allow));
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

/* Only the refusal's own 405: should the request end in another error,
 * its Allow is httpd's.  Not by the method: with an ErrorDocument 405 of
 * a local path, ap_die_r makes the request a GET for the internal
 * redirect, and where the document's request fails (a 401 in a section
 * of the module's, a 404) sends the refusal's canned 405 itself, on this
 * request, before it is a TRACE again.  The note is this request's alone:
 * the document's request (which, served, sends no Allow) has notes of
 * its own, and so has a subrequest. */
static void bbt_trace_allow_insert(request_rec *r)
{
    if (r->status == HTTP_METHOD_NOT_ALLOWED &&
        apr_table_get(r->notes, BBT_TRACE_REFUSED_NOTE)) {
        ap_add_output_filter_handle(bbt_trace_allow_filter_handle, NULL, r,
                                    r->connection);
    }
}

void bbt_routing_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_translate_name(bbt_translate, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_map_to_storage(bbt_trace_refuse, NULL, NULL, APR_HOOK_FIRST);
    bbt_trace_allow_filter_handle =
        ap_register_output_filter("BBTOKEN_TRACE_ALLOW", bbt_trace_allow_filter,
                                  NULL, AP_FTYPE_CONTENT_SET);
    ap_hook_insert_error_filter(bbt_trace_allow_insert, NULL, NULL,
                                APR_HOOK_MIDDLE);
}
