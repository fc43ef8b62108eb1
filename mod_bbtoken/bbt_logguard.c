/*
 * Keeping credentials out of httpd's own logging.
 *
 * Before any authentication hook runs, httpd writes request bytes to the
 * error log in two places this module can reach:
 *   - while it reads the headers, core echoes a malformed header line at
 *     debug (AH02426, AH02427) and the start of an over-long one at info
 *     (AH00561);
 *   - right after post_read_request, the http module dumps every header,
 *     Authorization included, at trace4.
 * So while the headers are read, the request's log configuration is capped
 * at notice; from then until the dump is past, only the http module is held
 * below trace4; and in quick_handler, the first hook after the dump, the
 * log configuration is given back and the dump is written again with the
 * credentials redacted.  A request's own log configuration (r->log) is what
 * httpd consults, so nothing else changes: the request and its headers are
 * untouched.
 *
 * All of this costs nothing unless some log level is above notice.
 *
 * Some echoes are out of reach (a NUL byte in a header line is dumped under
 * the main server's configuration; mod_http2, mod_dumpio and
 * mod_log_forensic log what they see on the connection): startup warns
 * where they can happen.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_hash.h"
#include "apr_strings.h"

#include "bbt_logguard.h"

APLOG_USE_MODULE(bbtoken);

/* Log configurations derived from one server's. */
typedef struct {
    struct ap_logconf *reading; /* all levels capped at notice */
    struct ap_logconf *nodump;  /* the http module below trace4 */
} bbt_lg_server_t;

/* Per request, only when a cap is in force. */
typedef struct {
    int phase; /* BBT_LG_READING, then BBT_LG_NODUMP */
} bbt_lg_req_t;

enum { BBT_LG_READING = 1, BBT_LG_NODUMP = 2 };

static const char bbt_lg_key[] = "bbtoken-logguard";

/* Built in post_config, read-only afterwards.  Whether any server has a
 * cap of each kind: at the usual LogLevels none has, and a request need
 * not look its server up. */
static apr_hash_t *bbt_lg_servers;
static int bbt_lg_http_index = -1;
static int bbt_lg_any_reading, bbt_lg_any_nodump;

static int bbt_lg_level(const struct ap_logconf *l, int index)
{
    if (index < 0 || !l->module_levels || l->module_levels[index] < 0) {
        return l->level;
    }
    return l->module_levels[index];
}

/* A copy of `from` in which module `only` (every module when -1) logs at
 * `cap` at most; NULL when no such level is above cap. */
static struct ap_logconf *
bbt_lg_capped(apr_pool_t *p, const struct ap_logconf *from, int only, int cap)
{
    struct ap_logconf *to;
    int loud = 0;
    module *m;

    if (only >= 0) {
        loud = bbt_lg_level(from, only) > cap;
    } else {
        loud = from->level > cap;
        for (m = ap_top_module; m && !loud; m = m->next) {
            loud = bbt_lg_level(from, m->module_index) > cap;
        }
    }
    if (!loud) {
        return NULL;
    }
    to = apr_pcalloc(p, sizeof(*to));
    to->level = (only < 0 && from->level > cap) ? cap : from->level;
    if (from->module_levels || only >= 0) {
        /* ap_set_module_loglevel allocates a fresh per-module array, so the
         * server's own is never written to. */
        for (m = ap_top_module; m; m = m->next) {
            int lvl = bbt_lg_level(from, m->module_index);

            if ((only < 0 || m->module_index == only) && lvl > cap) {
                lvl = cap;
            }
            ap_set_module_loglevel(p, to, m->module_index, lvl);
        }
    }
    return to;
}

static const bbt_lg_server_t *bbt_lg_server(const server_rec *s)
{
    return bbt_lg_servers ? apr_hash_get(bbt_lg_servers, &s, sizeof(s)) : NULL;
}

static void bbt_lg_pre_read_request(request_rec *r, conn_rec *c)
{
    const bbt_lg_server_t *ls;
    struct ap_logconf *cap;
    bbt_lg_req_t *lr;

    if (r->log) {
        return;
    }
    if (c->log) {
        cap = bbt_lg_capped(r->pool, c->log, -1, APLOG_NOTICE);
    } else {
        ls = bbt_lg_any_reading ? bbt_lg_server(c->base_server) : NULL;
        cap = ls ? ls->reading : NULL;
    }
    if (!cap) {
        return;
    }
    lr = apr_pcalloc(r->pool, sizeof(*lr));
    lr->phase = BBT_LG_READING;
    apr_pool_userdata_setn(lr, bbt_lg_key, NULL, r->pool);
    r->log = cap;
}

static bbt_lg_req_t *bbt_lg_req(request_rec *r)
{
    void *lr = NULL;

    apr_pool_userdata_get(&lr, bbt_lg_key, r->pool);
    return lr;
}

/* The headers are read (and the virtual host is chosen): log as configured,
 * but for the http module's dump.  This does not depend on the pre-read cap
 * having been set: requests that did not come through ap_read_request
 * (HTTP/2 streams) reach the dump too. */
static int bbt_lg_post_read_request(request_rec *r)
{
    bbt_lg_req_t *lr = bbt_lg_req(r);
    const bbt_lg_server_t *ls;
    struct ap_logconf *cap;

    if (lr && lr->phase == BBT_LG_READING) {
        r->log = NULL;
        lr->phase = 0;
    }
    if (r->log || r->main || bbt_lg_http_index < 0) {
        return DECLINED;
    }
    if (r->connection->log) {
        cap = bbt_lg_capped(r->pool, r->connection->log, bbt_lg_http_index,
                            APLOG_TRACE3);
    } else {
        ls = bbt_lg_any_nodump ? bbt_lg_server(r->server) : NULL;
        cap = ls ? ls->nodump : NULL;
    }
    if (!cap) {
        return DECLINED;
    }
    if (!lr) {
        lr = apr_pcalloc(r->pool, sizeof(*lr));
        apr_pool_userdata_setn(lr, bbt_lg_key, NULL, r->pool);
    }
    r->log = cap;
    lr->phase = BBT_LG_NODUMP;
    return DECLINED;
}

static int bbt_lg_redacted(const char *key)
{
    return strcasecmp(key, "Authorization") == 0 ||
           strcasecmp(key, "Proxy-Authorization") == 0;
}

/* Runs right after httpd's header dump: give the log configuration back
 * and write the dump again, credentials redacted. */
static int bbt_lg_quick_handler(request_rec *r, int lookup)
{
    bbt_lg_req_t *lr = bbt_lg_req(r);
    const apr_array_header_t *h;
    const apr_table_entry_t *e;
    int i;

    (void)lookup;
    if (!lr || lr->phase != BBT_LG_NODUMP) {
        return DECLINED;
    }
    lr->phase = 0;
    r->log = NULL;
    if (ap_get_request_module_loglevel(r, bbt_lg_http_index) < APLOG_TRACE4) {
        return DECLINED;
    }
    h = apr_table_elts(r->headers_in);
    e = (const apr_table_entry_t *)h->elts;
    ap_log_rerror_(
        __FILE__, __LINE__, bbt_lg_http_index, APLOG_TRACE4, 0, r,
        "BBT011: Headers received from client (credentials redacted by "
        "mod_bbtoken):");
    for (i = 0; i < h->nelts; i++) {
        if (!e[i].key) {
            continue;
        }
        ap_log_rerror_(__FILE__, __LINE__, bbt_lg_http_index, APLOG_TRACE4, 0,
                       r, "  %s: %s", ap_escape_logitem(r->pool, e[i].key),
                       bbt_lg_redacted(e[i].key)
                           ? "[redacted]"
                           : ap_escape_logitem(r->pool, e[i].val));
    }
    return DECLINED;
}

/* Warn where a module logs request bytes before (or beside) any hook of
 * ours, at a level this server uses.  Each level is the lowest at which
 * that module writes a header's value: mod_http2 dumps every request
 * header at trace2, but a field nghttp2 refuses (a control byte, CR, LF or
 * NUL in its value, as a token read from a file with a CRLF line ending
 * has) it logs whole at debug (AH03456, h2_session.c). */
static void bbt_lg_warn(server_rec *s)
{
    static const struct {
        const char *file;
        int level;
        const char *what;
    } risks[] = {
        {"core.c", APLOG_DEBUG,
         "httpd's core dumps a request header line that holds a NUL byte"},
        {"mod_http2.c", APLOG_DEBUG, "mod_http2 logs HTTP/2 request headers"},
        {"mod_dumpio.c", APLOG_TRACE7,
         "mod_dumpio logs raw request bytes (with DumpIOInput On)"},
        {"mod_log_forensic.c", APLOG_EMERG,
         "mod_log_forensic writes every request header to its log"},
    };
    size_t i;

    for (i = 0; i < sizeof(risks) / sizeof(risks[0]); i++) {
        module *m = ap_find_linked_module(risks[i].file);
        server_rec *sp;

        if (!m) {
            continue;
        }
        for (sp = s; sp; sp = sp->next) {
            if (bbt_lg_level(&sp->log, m->module_index) >= risks[i].level) {
                ap_log_error(
                    APLOG_MARK, APLOG_WARNING, 0, sp,
                    "BBT010: %s: at this LogLevel a token sent to this "
                    "server can reach a log",
                    risks[i].what);
                break;
            }
        }
    }
}

void bbt_logguard_post_config(apr_pool_t *pconf, server_rec *s)
{
    module *http = ap_find_linked_module("http_core.c");
    server_rec *sp;

    bbt_lg_http_index = http ? http->module_index : -1;
    bbt_lg_servers = apr_hash_make(pconf);
    bbt_lg_any_reading = bbt_lg_any_nodump = 0;
    for (sp = s; sp; sp = sp->next) {
        bbt_lg_server_t *ls = apr_pcalloc(pconf, sizeof(*ls));
        server_rec **key = apr_palloc(pconf, sizeof(*key));

        ls->reading = bbt_lg_capped(pconf, &sp->log, -1, APLOG_NOTICE);
        if (bbt_lg_http_index >= 0) {
            ls->nodump =
                bbt_lg_capped(pconf, &sp->log, bbt_lg_http_index, APLOG_TRACE3);
        }
        bbt_lg_any_reading |= ls->reading != NULL;
        bbt_lg_any_nodump |= ls->nodump != NULL;
        *key = sp;
        apr_hash_set(bbt_lg_servers, key, sizeof(*key), ls);
    }
    bbt_lg_warn(s);
}

void bbt_logguard_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_pre_read_request(bbt_lg_pre_read_request, NULL, NULL,
                             APR_HOOK_REALLY_FIRST);
    ap_hook_post_read_request(bbt_lg_post_read_request, NULL, NULL,
                              APR_HOOK_REALLY_FIRST);
    ap_hook_quick_handler(bbt_lg_quick_handler, NULL, NULL,
                          APR_HOOK_REALLY_FIRST);
}
