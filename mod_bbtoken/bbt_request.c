/*
 * Per-request state: what check_authn learned, kept in r->request_config
 * for the later phases, and found again from an internal redirect or a
 * sub-request through the requests before it.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "apr_strings.h"

#include <string.h>
#include <strings.h>

#include "bbt_input.h"
#include "bbt_request.h"

APLOG_USE_MODULE(bbtoken);

/* The module's slot in r->request_config: the record check_authn makes,
 * the route translate_name matched, the Authorization header the fixups
 * took away from a request nobody authenticated, the body a route read,
 * the section httpd found for a request of the module's sections,
 * whether the request, authorized, reached its handler (the metrics), the
 * AuthType's last answer and the configuration it was for, and, on the
 * client's request alone, whether a refusal of its credentials was logged
 * at error and a failure counted, by whichever request of it. */
typedef struct {
    bbt_req_t *rq;
    void *memo;
    const char *taken;
    struct bbt_kept *kept;
    const struct ap_conf_vector_t *section;
    int handled;
    const struct ap_conf_vector_t *ours_dir;
    int ours;
    unsigned int refusal_said : 1;
    unsigned int failure_counted : 1;
} bbt_req_slot_t;

static bbt_req_slot_t *bbt_slot(request_rec *r)
{
    bbt_req_slot_t *sl =
        ap_get_module_config(r->request_config, &bbtoken_module);

    if (!sl) {
        sl = apr_pcalloc(r->pool, sizeof(*sl));
        ap_set_module_config(r->request_config, &bbtoken_module, sl);
    }
    return sl;
}

bbt_req_t *bbt_request_new(request_rec *r)
{
    bbt_req_t *rq = apr_pcalloc(r->pool, sizeof(*rq));

    rq->dir = r->per_dir_config;
    rq->method = r->method;
    rq->uri = r->uri;
    rq->args = r->args;
    bbt_slot(r)->rq = rq;
    return rq;
}

int bbt_request_refused_early(request_rec *r, int status)
{
    if (!bbt_req(r)) {
        bbt_request_new(r);
    }
    return status;
}

bbt_req_t *bbt_req(const request_rec *r)
{
    const bbt_req_slot_t *sl =
        ap_get_module_config(r->request_config, &bbtoken_module);

    return sl ? sl->rq : NULL;
}

void *bbt_request_memo(const request_rec *r)
{
    const bbt_req_slot_t *sl =
        ap_get_module_config(r->request_config, &bbtoken_module);

    return sl ? sl->memo : NULL;
}

void bbt_request_set_memo(request_rec *r, void *memo)
{
    bbt_slot(r)->memo = memo;
}

void bbt_request_set_taken(request_rec *r, const char *authorization)
{
    bbt_slot(r)->taken = authorization;
}

struct bbt_kept *bbt_request_kept(const request_rec *r)
{
    const bbt_req_slot_t *sl =
        ap_get_module_config(r->request_config, &bbtoken_module);

    return sl ? sl->kept : NULL;
}

void bbt_request_set_kept(request_rec *r, struct bbt_kept *kept)
{
    bbt_slot(r)->kept = kept;
}

void bbt_request_note_section(request_rec *r)
{
    bbt_slot(r)->section = r->per_dir_config;
}

const struct ap_conf_vector_t *bbt_request_section(const request_rec *r)
{
    const bbt_req_slot_t *sl =
        ap_get_module_config(r->request_config, &bbtoken_module);

    return sl ? sl->section : NULL;
}

void bbt_request_set_handled(request_rec *r)
{
    bbt_slot(r)->handled = 1;
}

int bbt_request_handled(const request_rec *r)
{
    const bbt_req_slot_t *sl =
        ap_get_module_config(r->request_config, &bbtoken_module);

    return sl && sl->handled;
}

const char *bbt_request_authorization(const request_rec *r)
{
    const char *h = apr_table_get(r->headers_in, "Authorization");
    const bbt_req_slot_t *sl;

    for (; !h && r; r = r->prev ? r->prev : r->main) {
        sl = ap_get_module_config(r->request_config, &bbtoken_module);
        h = sl ? sl->taken : NULL;
    }
    return h;
}

const char *bbt_request_verified_authorization(const request_rec *r)
{
    const char *h = bbt_request_authorization(r);
    const bbt_req_t *rq;

    for (; !h && r; r = r->prev ? r->prev : r->main) {
        rq = bbt_req(r);
        h = rq ? rq->authorization : NULL;
    }
    return h;
}

/* The fixups hook strips the Authorization header, so a later internal
 * request must inherit the identity from here rather than read it again. */
const bbt_req_t *bbt_request_prior(const request_rec *r)
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

int bbt_request_refused_before(const request_rec *r)
{
    const request_rec *o;

    for (o = r->prev ? r->prev : r->main; o; o = o->prev ? o->prev : o->main) {
        const bbt_req_t *rq = bbt_req(o);

        if (rq && rq->refused) {
            return 1;
        }
    }
    return 0;
}

/* The request the client sent, which its internal redirects and
 * sub-requests (and theirs) all lead back to: its slot outlives them. */
static request_rec *bbt_request_top(request_rec *r)
{
    while (r->prev || r->main) {
        r = r->prev ? r->prev : r->main;
    }
    return r;
}

int bbt_request_refusal_level(request_rec *r)
{
    bbt_req_slot_t *sl = bbt_slot(bbt_request_top(r));

    if (sl->refusal_said) {
        return APLOG_DEBUG;
    }
    sl->refusal_said = 1;
    return APLOG_ERR;
}

int bbt_request_failure_first(request_rec *r)
{
    bbt_req_slot_t *sl = bbt_slot(bbt_request_top(r));

    if (sl->failure_counted) {
        return 0;
    }
    sl->failure_counted = 1;
    return 1;
}

/* Keeps what type says in r's slot, for r->per_dir_config.  Out of line:
 * bbt_request_is_ours, called several times by every request of the
 * server, stays a few instructions where the answer is kept or there is no
 * AuthType, without the slot's making inlined into it. */
__attribute__((noinline)) static int bbt_request_keep_ours(request_rec *r,
                                                           const char *type)
{
    bbt_req_slot_t *sl = bbt_slot(r);

    sl->ours_dir = r->per_dir_config;
    sl->ours = strcasecmp(type, BBT_AUTH_TYPE) == 0;
    return sl->ours;
}

/* The AuthType is an expression mod_authn_core evaluates and copies on
 * every look, and the hooks of one request look several times: the answer
 * is kept in r's slot for the configuration it was found under (a
 * sub-request or an internal redirect has a slot of its own; a walk or
 * mod_dir's promotion that changes r->per_dir_config gets a fresh one).
 * No AuthType at all, most requests of a server, costs next to nothing
 * to find and is not kept: past the test, the path is the one before the
 * memo.  A slot's ours_dir is NULL until it keeps an answer, and no
 * request's configuration is. */
int bbt_request_is_ours(request_rec *r)
{
    const bbt_req_slot_t *sl =
        ap_get_module_config(r->request_config, &bbtoken_module);
    const char *type;

    if (sl && sl->ours_dir == r->per_dir_config) {
        return sl->ours;
    }
    type = ap_auth_type(r);
    return type ? bbt_request_keep_ours(r, type) : 0;
}

/* A record is made only once the AuthType was found to be BBToken, and
 * the AuthType is a function of the per-directory configuration alone. */
int bbt_request_ours(request_rec *r, const bbt_req_t *rq)
{
    if (rq && rq->dir == r->per_dir_config) {
        return 1;
    }
    return bbt_request_is_ours(r);
}

int bbt_request_used_token(request_rec *r)
{
    const bbt_req_t *rq = bbt_req(r);

    if (!rq || !rq->verified) {
        rq = bbt_request_prior(r);
    }
    return rq && rq->verified && !rq->access.password;
}

void bbt_request_dest_own(request_rec *r, bbt_access_t *a, const char *name)
{
    if (a->has_dest && a->dest_personal) {
        const char *own = apr_pstrcat(r->pool, "~", name, NULL);

        bbt_input_key(own, strlen(own), a->dest.key);
    }
}
