/*
 * What an access-tokens REST request asks (bbt_rest_req.h).  The rules for
 * names and ids are bbt_input's; this file only knows where they are in a
 * path, and what the paging arguments may be.
 */
#include "bbt_rest_req.h"

#include <string.h>
#include <strings.h>

/* The longest start or limit read: 9 digits fit any long. */
#define BBT_REST_ARG_DIGITS 9

/* The end of a path: nothing (or one "/"), or "/" and a token id, or "/",
 * a token id and "/rotate".  The shape for nothing, an id or its rotation;
 * the id is copied into out->id. */
static bbt_rest_shape_t bbt_rest_path_tail(const char *p, bbt_rest_path_t *out,
                                           bbt_rest_shape_t all,
                                           bbt_rest_shape_t one,
                                           bbt_rest_shape_t rotate)
{
    static const char rot[] = "/rotate";
    size_t n;

    if (*p == '\0' || strcmp(p, "/") == 0) {
        out->shape = all;
        return all;
    }
    if (*p != '/') {
        return BBT_REST_NONE;
    }
    p++;
    n = strlen(p);
    if (n && p[n - 1] == '/') {
        n--;
    }
    if (n == BBT_TOKEN_ID_LEN + sizeof(rot) - 1 &&
        memcmp(p + BBT_TOKEN_ID_LEN, rot, sizeof(rot) - 1) == 0) {
        n = BBT_TOKEN_ID_LEN;
        one = rotate;
    }
    if (!bbt_input_token_id(p, n)) {
        return BBT_REST_NONE;
    }
    memcpy(out->id, p, n);
    out->id[n] = '\0';
    out->shape = one;
    return one;
}

/* "{key}[/repos/{slug}]" and the tail. */
static bbt_rest_shape_t bbt_rest_path_scope(const char *p, bbt_rest_path_t *out)
{
    const char *end = strchr(p, '/');
    size_t n = end ? (size_t)(end - p) : strlen(p);

    if (bbt_input_key(p, n, out->key) != 0) {
        return BBT_REST_NONE;
    }
    p += n;
    if (strncmp(p, "/repos/", 7) == 0) {
        p += 7;
        end = strchr(p, '/');
        n = end ? (size_t)(end - p) : strlen(p);
        if (!bbt_input_slug(p, n)) {
            return BBT_REST_NONE;
        }
        memcpy(out->repo, p, n);
        out->repo[n] = '\0';
        p += n;
    }
    return bbt_rest_path_tail(p, out, BBT_REST_SCOPE, BBT_REST_SCOPE_TOKEN,
                              BBT_REST_SCOPE_ROTATE);
}

/* The resources that name no user, after the version. */
static const struct {
    const char *name;
    bbt_rest_shape_t shape;
} bbt_rest_top[] = {
    {"revoke-by-value", BBT_REST_LEAKED},
    {"inventory", BBT_REST_ALL},
    {"places", BBT_REST_PLACES},
};

/* p is what follows the version's "/": a resource of bbt_rest_top, or
 * BBT_REST_NONE. */
static bbt_rest_shape_t bbt_rest_top_shape(const char *p)
{
    size_t i, n;

    for (i = 0; i < sizeof(bbt_rest_top) / sizeof(bbt_rest_top[0]); i++) {
        n = strlen(bbt_rest_top[i].name);
        if (strncmp(p, bbt_rest_top[i].name, n) == 0 &&
            (p[n] == '\0' || (p[n] == '/' && p[n + 1] == '\0'))) {
            return bbt_rest_top[i].shape;
        }
    }
    return BBT_REST_NONE;
}

bbt_rest_shape_t bbt_rest_path_parse(const char *uri, bbt_rest_path_t *out)
{
    const char *p = uri, *slash;
    bbt_rest_shape_t shape;
    size_t n;

    memset(out, 0, sizeof(*out));
    if (!uri || strncmp(p, BBT_REST_PREFIX, sizeof(BBT_REST_PREFIX) - 1) != 0) {
        return BBT_REST_NONE;
    }
    p += sizeof(BBT_REST_PREFIX) - 1;
    if (strncmp(p, "1.0/", 4) == 0) {
        p += 4;
    } else if (strncmp(p, "latest/", 7) == 0) {
        p += 7;
        out->latest = 1;
    } else {
        return BBT_REST_NONE;
    }
    if ((shape = bbt_rest_top_shape(p)) != BBT_REST_NONE) {
        out->shape = shape;
        return shape;
    }
    if (strncmp(p, "projects/", 9) == 0) {
        shape = bbt_rest_path_scope(p + 9, out);
    } else if (strncmp(p, "users/", 6) == 0) {
        p += 6;
        slash = strchr(p, '/');
        n = slash ? (size_t)(slash - p) : strlen(p);
        shape = BBT_REST_NONE;
        if (bbt_input_user_name(p, n)) {
            memcpy(out->user, p, n);
            out->user[n] = '\0';
            bbt_input_user_slug(p, n, out->slug);
            shape = bbt_rest_path_tail(p + n, out, BBT_REST_USER,
                                       BBT_REST_TOKEN, BBT_REST_ROTATE);
        }
    } else {
        shape = BBT_REST_NONE;
    }
    if (shape == BBT_REST_NONE) {
        memset(out, 0, sizeof(*out));
    }
    return shape;
}

/* A non-negative whole number argument's decoded value v (NULL when
 * absent): 0 and *out (dflt when absent), or -1 when it is not 1 to
 * BBT_REST_ARG_DIGITS digits. */
static int bbt_rest_count(const char *v, long dflt, long *out)
{
    size_t n;

    if (!v) {
        *out = dflt;
        return 0;
    }
    n = strlen(v);
    if (n == 0 || n > BBT_REST_ARG_DIGITS) {
        return -1;
    }
    return bbt_input_number(v, 0, 999999999L, out);
}

int bbt_rest_page_args(const char *start_arg, const char *limit_arg,
                       long *start, long *limit)
{
    if (bbt_rest_count(start_arg, 0, start) != 0 ||
        bbt_rest_count(limit_arg, BBT_REST_DEFAULT_LIMIT, limit) != 0) {
        return -1;
    }
    if (*limit == 0) {
        *limit = BBT_REST_DEFAULT_LIMIT;
    } else if (*limit > BBT_REST_MAX_LIMIT) {
        *limit = BBT_REST_MAX_LIMIT;
    }
    return 0;
}

int bbt_rest_is_json(const char *ct)
{
    size_t n = sizeof("application/json") - 1;

    if (!ct || strncasecmp(ct, "application/json", n) != 0) {
        return 0;
    }
    /* HTTP's optional white space, a space or a tab, may come before the
     * parameters, and nothing else: "application/json x" is no type. */
    ct += n + strspn(ct + n, " \t");
    return *ct == '\0' || *ct == ';';
}

/* A host and port as a Host header, or an Origin after its "://", spells
 * them. */
typedef struct {
    const char *host; /* a name, or an IPv6 literal with its brackets */
    size_t len;
    long port; /* 0: none given */
} bbt_rest_hostport_t;

/* Whether c may be in an IPv6 literal: hex digits, ":" and the "." of an
 * IPv4 tail. */
static int bbt_rest_ipv6_char(unsigned char c)
{
    return bbt_is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') ||
           c == ':' || c == '.';
}

/* Read exactly n bytes of s as host[:port]: a name of ASCII letters,
 * digits, "-", "." and "_" (an IPv4 address is one), or an IPv6 literal
 * in brackets; then optionally ":" and a port of 1 to 5 digits, 1 to
 * 65535, without a leading 0 (no browser writes one).  0, or -1 for
 * anything else: nothing, user info (host@evil), a path, white space, an
 * empty port.  Strict: what it refuses costs a 403, what it took too
 * loosely could be a host that is not the one asked for. */
static int bbt_rest_hostport(const char *s, size_t n, bbt_rest_hostport_t *out)
{
    size_t i = 0, d;

    out->host = s;
    out->port = 0;
    if (n && s[0] == '[') {
        for (i = 1; i < n && bbt_rest_ipv6_char((unsigned char)s[i]); i++) {
        }
        if (i >= n || s[i] != ']' || !memchr(s, ':', i)) {
            return -1;
        }
        i++;
    } else {
        while (i < n && (bbt_is_alnum((unsigned char)s[i]) || s[i] == '-' ||
                         s[i] == '.' || s[i] == '_')) {
            i++;
        }
        if (i == 0) {
            return -1;
        }
    }
    out->len = i;
    if (i == n) {
        return 0;
    }
    if (s[i++] != ':' || i == n || s[i] == '0' || n - i > 5) {
        return -1;
    }
    for (d = i; d < n; d++) {
        if (!bbt_is_digit((unsigned char)s[d])) {
            return -1;
        }
        out->port = out->port * 10 + (s[d] - '0');
    }
    return out->port <= 65535 ? 0 : -1;
}

/* Whether site, n bytes of scheme://host[:port], is the host and port the
 * request's Host header names: behind a port mapping or a TLS terminator
 * the browser's page and its Host say where the user is, while httpd's
 * own URL names the port and scheme it listens on.  A Host without a port
 * names the site's scheme's default one.  Its page is https, or the
 * request's own scheme: a TLS terminator makes an https page's request an
 * http one here.  An https request from an http page is from another
 * origin, which anyone on the path between could have written, but behind
 * a terminator it too arrives as http: only a ServerName that names the
 * public https scheme (ap_http_scheme) lets such a page be refused. */
static int bbt_rest_site_is_host(const char *site, size_t n, const char *host,
                                 const char *scheme)
{
    bbt_rest_hostport_t s, h;
    size_t skip;
    long dflt;

    if (!host) {
        return 0;
    }
    if (n > 8 && strncasecmp(site, "https://", 8) == 0) {
        skip = 8;
        dflt = 443;
    } else if (n > 7 && strncasecmp(site, "http://", 7) == 0 && scheme &&
               strcasecmp(scheme, "http") == 0) {
        skip = 7;
        dflt = 80;
    } else {
        return 0;
    }
    if (bbt_rest_hostport(site + skip, n - skip, &s) != 0 ||
        bbt_rest_hostport(host, strlen(host), &h) != 0) {
        return 0;
    }
    return s.len == h.len && strncasecmp(s.host, h.host, s.len) == 0 &&
           (s.port ? s.port : dflt) == (h.port ? h.port : dflt);
}

/* Whether site, n bytes of scheme://host[:port], is ours: self_url (as
 * httpd builds its own URLs), or the request's Host (above). */
static int bbt_rest_site_ours(const char *site, size_t n, const char *self_url,
                              const char *host, const char *scheme)
{
    if (self_url && *self_url && strlen(self_url) == n &&
        strncasecmp(site, self_url, n) == 0) {
        return 1;
    }
    return bbt_rest_site_is_host(site, n, host, scheme);
}

/* Whether a Referer names a page of ours: its scheme://host[:port], up to
 * the path's "/" or the end, is ours.  "https://git.example.com.evil",
 * "...com:8443/" and "...com@evil/" are another site's. */
static int bbt_rest_referer_ours(const char *referer, const char *self_url,
                                 const char *host, const char *scheme)
{
    const char *sep = strstr(referer, "://"), *slash;

    if (!sep) {
        return 0;
    }
    slash = strchr(sep + 3, '/');
    return bbt_rest_site_ours(
        referer, slash ? (size_t)(slash - referer) : strlen(referer), self_url,
        host, scheme);
}

int bbt_rest_csrf_ok(const char *method, const char *origin,
                     const char *self_url, const char *host, const char *scheme,
                     const char *fetch_site, const char *atlassian_token,
                     const char *content_type, const char *referer)
{
    if (!method) {
        return BBT_REST_CSRF_REFUSED;
    }
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
        return BBT_REST_CSRF_OK;
    }
    /* A browser names the site a request comes from: it must be us.  A
     * script names none. */
    if (origin &&
        !bbt_rest_site_ours(origin, strlen(origin), self_url, host, scheme)) {
        return BBT_REST_CSRF_REFUSED;
    }
    /* A browser that sends no Origin (an old one, or one told not to)
     * still names the page in Referer: a page elsewhere is refused. */
    if (!origin && referer &&
        !bbt_rest_referer_ours(referer, self_url, host, scheme)) {
        return BBT_REST_CSRF_REFUSED;
    }
    if (fetch_site && strcasecmp(fetch_site, "same-origin") != 0) {
        return BBT_REST_CSRF_REFUSED;
    }
    if (atlassian_token && strcasecmp(atlassian_token, "no-check") == 0) {
        return BBT_REST_CSRF_OK;
    }
    /* Another site's page can send a DELETE only after a CORS preflight,
     * which this API never grants; but it can POST a form, so a request
     * with a body must declare it JSON, which a form cannot. */
    if (strcmp(method, "DELETE") == 0 || bbt_rest_is_json(content_type)) {
        return BBT_REST_CSRF_OK;
    }
    /* Bitbucket's REST framework still takes the spelling of before its
     * 3.0, and old scripts send it.  A page of another site can send it no
     * more than "no-check": the header itself needs the preflight.  Told
     * apart only where it is what lets the request through, as Bitbucket
     * warns only there. */
    if (atlassian_token && strcasecmp(atlassian_token, "nocheck") == 0) {
        return BBT_REST_CSRF_NOCHECK;
    }
    return BBT_REST_CSRF_REFUSED;
}
