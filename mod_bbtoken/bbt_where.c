/*
 * Where a request comes from (see bbt_where.h).
 *
 * APR parses and matches the networks (apr_ipsubnet_create,
 * apr_ipsubnet_test: an IPv4 network also matches an IPv4-mapped IPv6
 * client).  The parsed list is kept with the connection, for the list it
 * was parsed from: a client's requests on one connection (a clone's
 * dozens) present the same token, so the list is parsed once for them, and
 * a token without a list costs nothing at all.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_network_io.h"
#include "apr_strings.h"

#include <string.h>

#include "bbt_where.h"

APLOG_USE_MODULE(bbtoken);

typedef struct {
    apr_pool_t *pool; /* the parsed list's, cleared for the next one */
    const char *text; /* the list it was parsed from */
    apr_ipsubnet_t **nets;
    int n; /* -1: the list could not be read */
} bbt_where_memo_t;

static const char bbt_where_key[] = "bbtoken-where";

/* Parse text into m; m->n is -1 if any network is not one. */
static void bbt_where_parse(request_rec *r, bbt_where_memo_t *m,
                            const char *text)
{
    char *copy, *tok, *last = NULL;

    apr_pool_clear(m->pool);
    m->text = apr_pstrdup(m->pool, text);
    m->nets = apr_pcalloc(m->pool, sizeof(*m->nets) * (strlen(text) / 2 + 1));
    m->n = 0;
    copy = apr_pstrdup(m->pool, text);
    for (tok = apr_strtok(copy, " ", &last); tok;
         tok = apr_strtok(NULL, " ", &last)) {
        char *slash = strchr(tok, '/');
        apr_status_t rv;

        if (slash) {
            *slash++ = '\0';
        }
        rv = apr_ipsubnet_create(&m->nets[m->n], tok, slash, m->pool);
        if (rv != APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                          "BBT603: the token's allow-list holds %s%s%s, "
                          "which is not a network: refused",
                          tok, slash ? "/" : "", slash ? slash : "");
            m->n = -1;
            return;
        }
        m->n++;
    }
}

int bbt_where_allowed(request_rec *r, const char *nets)
{
    conn_rec *c = r->connection;
    bbt_where_memo_t *m = NULL;
    void *v = NULL;
    int i;

    if (!nets || !*nets) {
        return 1;
    }
    if (!r->useragent_addr) {
        return 0;
    }
    apr_pool_userdata_get(&v, bbt_where_key, c->pool);
    m = v;
    if (!m) {
        m = apr_pcalloc(c->pool, sizeof(*m));
        if (apr_pool_create(&m->pool, c->pool) != APR_SUCCESS) {
            return 0;
        }
        apr_pool_userdata_setn(m, bbt_where_key, NULL, c->pool);
    }
    if (!m->text || strcmp(m->text, nets) != 0) {
        bbt_where_parse(r, m, nets);
    }
    for (i = 0; i < m->n; i++) {
        if (apr_ipsubnet_test(m->nets[i], r->useragent_addr)) {
            return 1;
        }
    }
    return 0;
}

const char *bbt_where_ip(request_rec *r)
{
    const char *ip = r->useragent_ip;
    const char *zone = ip ? strchr(ip, '%') : NULL;

    return zone ? apr_pstrmemdup(r->pool, ip, (apr_size_t)(zone - ip)) : ip;
}

/* The group of the connection's last client address, as bbt_agroup_of
 * made it: a connection's requests (a clone's dozens) come from one
 * client, and comparing its address costs less than parsing it again. */
typedef struct {
    char ip[64];
    int rc;
    bbt_agroup_t g;
} bbt_where_group_t;

static int bbt_where_group(request_rec *r, bbt_agroup_t *g)
{
    conn_rec *c = r->connection;
    bbt_where_group_t *m =
        ap_get_module_config(c->conn_config, &bbtoken_module);
    const char *ip = bbt_where_ip(r);
    size_t len;

    if (!ip || (len = strlen(ip)) >= sizeof(m->ip)) {
        return bbt_agroup_of(ip, g);
    }
    if (!m) {
        m = apr_palloc(c->pool, sizeof(*m));
        m->ip[0] = '\0';
        ap_set_module_config(c->conn_config, &bbtoken_module, m);
    }
    if (!m->ip[0] || strcmp(m->ip, ip) != 0) {
        m->rc = bbt_agroup_of(ip, &m->g);
        memcpy(m->ip, ip, len + 1);
    }
    *g = m->g;
    return m->rc;
}

int bbt_where_new_group(request_rec *r, const bbt_agroup_t *known, int n,
                        bbt_agroup_t *g)
{
    return bbt_where_group(r, g) == 0 && !bbt_agroup_in(known, n, g);
}
