/*
 * libFuzzer target: what the REST handler asks of a request (bbt_rest_req),
 * on hostile input.  The input is up to eleven lines: URI, the decoded
 * start and limit arguments (split at the first "&"; without one, no
 * limit), method, Origin, this server's URL, X-Atlassian-Token, Content-Type,
 * Sec-Fetch-Site, Referer, Host, the request's scheme (a missing line is an
 * absent header).  Any crash, overread (ASan) or broken invariant aborts.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bbt_input.h"
#include "bbt_rest_req.h"

#define NFIELDS 11

/* A project's or a repository's path: a canonical key, a slug or none,
 * an id for one token or its rotation; and the parts spell the URI again
 * (the key in any case, a personal one's "@" as "_": its owner's slug),
 * but for one trailing slash. */
static void check_scope(const char *uri, const bbt_rest_path_t *p)
{
    char again[sizeof(BBT_REST_PREFIX) + 32 + BBT_KEY_BUF + BBT_SLUG_MAX +
               BBT_TOKEN_ID_LEN + 16];
    char key[BBT_KEY_BUF];
    char *spelt = strdup(uri), *k, *end;
    size_t n;

    if (!spelt) {
        return;
    }
    if ((k = strstr(spelt, "/projects/~")) != NULL) {
        end = strchr(k + 10, '/');
        for (k += 10; *k && k != end; k++) {
            *k = *k == '@' ? '_' : *k;
        }
    }
    uri = spelt;

    if (p->user[0] || p->slug[0] ||
        bbt_input_key(p->key, strlen(p->key), key) != 0 ||
        strcmp(key, p->key) != 0 ||
        (p->repo[0] && !bbt_input_slug(p->repo, strlen(p->repo)))) {
        abort();
    }
    if (p->shape == BBT_REST_SCOPE
            ? p->id[0] != '\0'
            : !bbt_input_token_id(p->id, strlen(p->id))) {
        abort();
    }
    snprintf(again, sizeof(again), "%s%s/projects/%s%s%s%s%s%s",
             BBT_REST_PREFIX, p->latest ? "latest" : "1.0", p->key,
             p->repo[0] ? "/repos/" : "", p->repo, p->id[0] ? "/" : "", p->id,
             p->shape == BBT_REST_SCOPE_ROTATE ? "/rotate" : "");
    n = strlen(again);
    if (strncasecmp(uri, again, n) != 0 ||
        !(uri[n] == '\0' || (uri[n] == '/' && uri[n + 1] == '\0'))) {
        abort();
    }
    free(spelt);
}

static void check_path(const char *uri)
{
    char again[sizeof(BBT_REST_PREFIX) + 16 + BBT_USER_MAX + 1 +
               BBT_TOKEN_ID_LEN + 16];
    char slug[BBT_USER_MAX + 1];
    bbt_rest_path_t p;
    bbt_rest_shape_t shape = bbt_rest_path_parse(uri, &p);
    size_t n;

    if (shape != p.shape) {
        abort();
    }
    if (shape == BBT_REST_NONE) {
        if (p.user[0] || p.slug[0] || p.id[0] || p.latest || p.key[0] ||
            p.repo[0]) {
            abort();
        }
        return;
    }
    /* The resources that name no user: nothing else is filled in, and
     * the URI is exactly theirs, but for one trailing slash. */
    if (shape == BBT_REST_LEAKED || shape == BBT_REST_ALL ||
        shape == BBT_REST_PLACES) {
        if (p.user[0] || p.slug[0] || p.id[0] || p.key[0] || p.repo[0]) {
            abort();
        }
        snprintf(again, sizeof(again), "%s%s/%s", BBT_REST_PREFIX,
                 p.latest ? "latest" : "1.0",
                 shape == BBT_REST_LEAKED ? "revoke-by-value"
                 : shape == BBT_REST_ALL  ? "inventory"
                                          : "places");
        n = strlen(again);
        if (strncmp(uri, again, n) != 0 ||
            !(uri[n] == '\0' || (uri[n] == '/' && uri[n + 1] == '\0'))) {
            abort();
        }
        return;
    }
    if (shape == BBT_REST_SCOPE || shape == BBT_REST_SCOPE_TOKEN ||
        shape == BBT_REST_SCOPE_ROTATE) {
        check_scope(uri, &p);
        return;
    }
    if (p.key[0] || p.repo[0]) {
        abort();
    }
    /* The user as spelled, and the slug that names them: the rule's. */
    if (!bbt_input_user_name(p.user, strlen(p.user)) ||
        bbt_input_user_slug(p.user, strlen(p.user), slug) != 0 ||
        strcmp(slug, p.slug) != 0 ||
        !bbt_input_user_name(p.slug, strlen(p.slug))) {
        abort();
    }
    if (shape == BBT_REST_USER ? p.id[0] != '\0'
                               : !bbt_input_token_id(p.id, strlen(p.id))) {
        abort();
    }
    /* The parts spell the URI again, but for one trailing slash. */
    snprintf(again, sizeof(again), "%s%s/users/%s%s%s%s", BBT_REST_PREFIX,
             p.latest ? "latest" : "1.0", p.user,
             shape == BBT_REST_USER ? "" : "/", p.id,
             shape == BBT_REST_ROTATE ? "/rotate" : "");
    n = strlen(again);
    if (strncmp(uri, again, n) != 0 ||
        !(uri[n] == '\0' || (uri[n] == '/' && uri[n + 1] == '\0'))) {
        abort();
    }
}

/* "host:port" of an authority a (n bytes; IPv6 in brackets), its port
 * written out as dflt when it has none, lower case; NULL on no memory. */
static char *with_port(const char *a, size_t n, const char *dflt)
{
    size_t i = n, after;
    char *out = malloc(n + 8);
    int has;

    while (i && a[i - 1] != ']') {
        i--;
    }
    after = i;
    has = memchr(a + after, ':', n - after) != NULL;
    if (!out) {
        return NULL;
    }
    snprintf(out, n + 8, "%.*s%s%s", (int)n, a, has ? "" : ":",
             has ? "" : dflt);
    for (i = 0; out[i]; i++) {
        out[i] = (char)tolower((unsigned char)out[i]);
    }
    return out;
}

/* By another road than bbt_rest_req's: whether site (n bytes of
 * scheme://authority) may be ours by the request's Host.  Its scheme is
 * https, or http on an http request; no user info, path or white space;
 * and site and Host, each with the default port written out, are the
 * same bytes but for case. */
static int host_may(const char *site, size_t n, const char *host,
                    const char *scheme)
{
    const char *dflt;
    char *a, *b;
    size_t skip;
    int same;

    if (!host) {
        return 0;
    }
    if (n >= 8 && strncasecmp(site, "https://", 8) == 0) {
        skip = 8;
        dflt = "443";
    } else if (n >= 7 && strncasecmp(site, "http://", 7) == 0 && scheme &&
               strcasecmp(scheme, "http") == 0) {
        skip = 7;
        dflt = "80";
    } else {
        return 0;
    }
    site += skip;
    n -= skip;
    if (memchr(site, '@', n) || memchr(site, '/', n) || memchr(site, ' ', n) ||
        strchr(host, '@') || strchr(host, '/') || strchr(host, ' ')) {
        return 0;
    }
    a = with_port(site, n, dflt);
    b = with_port(host, strlen(host), dflt);
    same = a && b && strcmp(a, b) == 0;
    free(a);
    free(b);
    return same;
}

/* The cross-site check's answer, and what it may let through. */
static void check_csrf(char *const *f, const char *origin)
{
    const char *self = f[4], *ref = f[8], *host = f[9], *scheme = f[10];
    size_t n = self ? strlen(self) : 0, m;
    const char *sep, *slash;
    int ans = bbt_rest_csrf_ok(f[2], origin, self, host, scheme, f[7], f[5],
                               f[6], ref);

    if (ans != BBT_REST_CSRF_REFUSED && ans != BBT_REST_CSRF_OK &&
        ans != BBT_REST_CSRF_NOCHECK) {
        abort();
    }
    if (!ans || !f[2] || strcmp(f[2], "GET") == 0 ||
        strcmp(f[2], "HEAD") == 0) {
        return;
    }
    if (origin && (!self || strcasecmp(origin, self) != 0) &&
        !host_may(origin, strlen(origin), host, scheme)) {
        abort();
    }
    if (f[7] && strcasecmp(f[7], "same-origin") != 0) {
        abort();
    }
    if (!origin && ref &&
        (!n || strncasecmp(ref, self, n) != 0 ||
         (ref[n] != '\0' && ref[n] != '/'))) {
        sep = strstr(ref, "://");
        slash = sep ? strchr(sep + 3, '/') : NULL;
        m = slash ? (size_t)(slash - ref) : strlen(ref);
        if (!sep || !host_may(ref, m, host, scheme)) {
            abort();
        }
    }
    if (!(f[5] && (strcasecmp(f[5], "no-check") == 0 ||
                   strcasecmp(f[5], "nocheck") == 0)) &&
        strcmp(f[2], "DELETE") != 0 && !bbt_rest_is_json(f[6])) {
        abort();
    }
    /* The deprecated spelling is told apart only where nothing else lets
     * the change through: the handler warns of it then alone. */
    if ((ans == BBT_REST_CSRF_NOCHECK) !=
        (strcasecmp(f[5] ? f[5] : "", "nocheck") == 0 &&
         strcmp(f[2], "DELETE") != 0 && !bbt_rest_is_json(f[6]))) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1), *f[NFIELDS] = {0}, *p, *nl, *amp;
    long start, limit;
    int i;

    if (!copy) {
        return 0;
    }
    memcpy(copy, data, size);
    copy[size] = '\0';
    for (i = 0, p = copy; i < NFIELDS && p; i++) {
        f[i] = p;
        nl = strchr(p, '\n');
        if (nl) {
            *nl = '\0';
        }
        p = nl ? nl + 1 : NULL;
    }

    check_path(f[0]);

    amp = f[1] ? strchr(f[1], '&') : NULL;
    if (amp) {
        *amp = '\0';
    }
    if (bbt_rest_page_args(f[1], amp ? amp + 1 : NULL, &start, &limit) == 0 &&
        (start < 0 || start > 999999999L || limit < 1 ||
         limit > BBT_REST_MAX_LIMIT)) {
        abort();
    }

    /* As sent, and once more without the Origin, which a positional
     * line cannot leave out while a Referer follows it. */
    check_csrf(f, f[3]);
    check_csrf(f, NULL);
    if (bbt_rest_is_json(f[6]) &&
        strncasecmp(f[6], "application/json", 16) != 0) {
        abort();
    }
    free(copy);
    return 0;
}
