/*
 * BBT362, a startup warning (bbt_confsec.h): routes or password providers
 * that a <Location> merged after them replaces.
 *
 * A section that sets routes (or AuthBBTokenProvider) replaces those of
 * the sections merged before it (bbt_config_merge_dir), so for a request
 * the last section merged that sets them wins.  httpd merges the
 * <Directory>s of the request's file first, then every <Location> that
 * matches its URL in the order they are written (a virtual host's after
 * the main server's): a narrower <Location> written before a broader one
 * has its settings replaced by the broader one's for every request both
 * take, and so has a <Directory> served under a URL that a <Location>
 * setting them covers.  A stricter route for one repository then loses to
 * the project's, and AuthBBTokenProvider none to the broader section's
 * passwords, with nothing said.
 *
 * Which URL a <Directory> is served under is for the URL's mapping to say:
 * here the plain Alias and ScriptAlias lines and DocumentRoot tell it, as
 * mod_alias and the core take them (the first Alias whose URL matches
 * wins, a virtual host's before the main server's).  A <Directory> reached
 * only through AliasMatch, mod_rewrite or mod_userdir is not related to
 * any <Location>.  A <Location> matched by a wildcard or a regular
 * expression is compared with the path of the section it may replace: a
 * request there is one it takes.
 */
#include "httpd.h"
#include "http_config.h"
#include "ap_regex.h"
#include "apr_fnmatch.h"
#include "apr_strings.h"

#include <string.h>
#include <strings.h>

#include "bbt_confsec.h"

/* A plain Alias or ScriptAlias: URLs under url are files under dir. */
typedef struct {
    const char *url;
    const char *dir;
    const ap_directive_t *d;
} bbt_alias_t;

/* How the server of a pass maps URLs to files. */
typedef struct {
    apr_array_header_t *aliases; /* bbt_alias_t, in the order mod_alias
                                    tries them */
    const ap_directive_t *docroot;
} bbt_map_t;

/* path with each run of slashes made one, as httpd merges them in the URL
 * and in a section's path before comparing. */
static char *bbt_squeeze(apr_pool_t *p, const char *path)
{
    char *out = apr_pstrdup(p, path);

    ap_no2slash(out);
    return out;
}

/* Aliases and DocumentRoot of the directives from d on, those inside
 * sections and virtual hosts left out. */
static void bbt_map_read(apr_pool_t *p, const ap_directive_t *d, bbt_map_t *m,
                         int docroot)
{
    for (; d; d = d->next) {
        const char *args = d->args, *url, *dir;

        if (strcasecmp(d->directive, "DocumentRoot") == 0) {
            if (docroot) {
                m->docroot = d;
            }
            continue;
        }
        if (strcasecmp(d->directive, "Alias") != 0 &&
            strcasecmp(d->directive, "ScriptAlias") != 0) {
            continue;
        }
        url = ap_getword_conf(p, &args);
        dir = ap_getword_conf(p, &args);
        if (*url == '/' && *dir == '/') {
            bbt_alias_t *a = apr_array_push(m->aliases);

            a->url = bbt_squeeze(p, url);
            a->dir = bbt_squeeze(p, dir);
            a->d = d;
        }
    }
}

/* The mapping of this pass's server: a virtual host's own aliases before
 * the main server's, its DocumentRoot if it sets one. */
static void bbt_map_make(const bbt_walk_t *w, bbt_map_t *m)
{
    m->aliases = apr_array_make(w->p, 4, sizeof(bbt_alias_t));
    m->docroot = NULL;
    if (w->vh) {
        bbt_map_read(w->p, w->vh->node->first_child, m, 1);
    }
    bbt_map_read(w->p, ap_conftree, m, !m->docroot);
}

/* Does <Location> (or <LocationMatch>) q take a request for url? */
static int bbt_loc_takes(apr_pool_t *p, const bbt_sec_t *q, const char *url)
{
    const char *args, *pat;
    ap_regex_t *re;
    int match = strcasecmp(q->node->directive, "<LocationMatch") == 0;

    if (!match && q->kind != BBT_SEC_LOCATION) {
        return 0;
    }
    if (q->path) {
        return bbt_covers(q->path, url);
    }
    args = bbt_args(p, q->node);
    pat = ap_getword_conf(p, &args);
    if (!match && strcmp(pat, "~") == 0) {
        pat = ap_getword_conf(p, &args);
        match = 1;
    }
    if (!match) {
        return apr_fnmatch(pat, url, APR_FNM_PATHNAME) == APR_SUCCESS;
    }
    re = ap_pregcomp(p, pat, AP_REG_EXTENDED);
    return re && ap_regexec(re, url, 0, NULL, 0) == 0;
}

/* What sec sets that q sets too, in words, or NULL: routes, providers,
 * or both. */
static const char *bbt_both_set(const bbt_sec_t *sec, const bbt_sec_t *q)
{
    int routes = sec->routes && q->routes;
    int provider = sec->provider && q->provider;

    if (routes && provider) {
        return "routes and AuthBBTokenProvider";
    }
    return routes ? "routes" : provider ? "AuthBBTokenProvider" : NULL;
}

/* The first <Location> of this pass from index from on that takes url (or
 * url/) and sets what sec sets, and what that is in *what; NULL if none.
 * A plain path equal to sec's own is a second section for the same path,
 * not a broader one. */
static const bbt_sec_t *bbt_replacer(const bbt_walk_t *w, const bbt_sec_t *sec,
                                     int from, const char *url,
                                     const char **what)
{
    const char *slash = apr_pstrcat(w->p, url, "/", NULL);
    int i;

    for (i = from; i < w->secs->nelts; i++) {
        const bbt_sec_t *q = APR_ARRAY_IDX(w->secs, i, const bbt_sec_t *);

        if (q == sec || !(*what = bbt_both_set(sec, q)) ||
            (sec->kind == BBT_SEC_LOCATION && q->path &&
             strcmp(q->path, sec->path) == 0)) {
            continue;
        }
        if (bbt_loc_takes(w->p, q, url) || bbt_loc_takes(w->p, q, slash)) {
            return q;
        }
    }
    return NULL;
}

/* Where a section is written, for the message about another. */
static const char *bbt_named(apr_pool_t *p, const bbt_sec_t *q)
{
    return apr_psprintf(p, "%s %s> (%s:%d)", q->node->directive,
                        bbt_args(p, q->node), q->node->filename,
                        q->node->line_num);
}

/* The URL the top of directory dir is served under through alias k (k
 * past the aliases: DocumentRoot), or NULL: the part of dir below the
 * alias's, or the alias's URL for a dir above it, unless an alias tried
 * before takes that URL. */
static const char *bbt_dir_url(apr_pool_t *p, const bbt_map_t *m, int k,
                               const char *dir)
{
    const char *from, *to, *url;
    int j;

    if (k < m->aliases->nelts) {
        const bbt_alias_t *a = &APR_ARRAY_IDX(m->aliases, k, bbt_alias_t);

        from = a->url;
        to = a->dir;
    } else {
        const char *args = m->docroot->args;

        from = "/";
        to = bbt_squeeze(p, ap_getword_conf(p, &args));
        if (*to != '/') {
            return NULL;
        }
    }
    if (bbt_covers(to, dir)) {
        url = bbt_squeeze(p, apr_pstrcat(p, from, "/", dir + strlen(to), NULL));
    } else if (bbt_covers(dir, to)) {
        url = from;
    } else {
        return NULL;
    }
    for (j = 0; j < k && j < m->aliases->nelts; j++) {
        if (bbt_covers(APR_ARRAY_IDX(m->aliases, j, bbt_alias_t).url, url)) {
            return NULL;
        }
    }
    /* Compared without its trailing slash: url and url/ are both tried. */
    if (strlen(url) > 1 && url[strlen(url) - 1] == '/') {
        url = apr_pstrndup(p, url, strlen(url) - 1);
    }
    return url;
}

/* A <Directory> sec whose routes or providers a <Location> replaces: what
 * is said after its name, or NULL. */
static const char *bbt_dir_words(const bbt_walk_t *w, const bbt_sec_t *sec,
                                 int *routes)
{
    bbt_map_t m;
    const bbt_sec_t *q;
    const ap_directive_t *via;
    const char *url, *what;
    int k;

    bbt_map_make(w, &m);
    for (k = 0; k <= m.aliases->nelts; k++) {
        if ((k == m.aliases->nelts && !m.docroot) ||
            !(url = bbt_dir_url(w->p, &m, k, bbt_squeeze(w->p, sec->path))) ||
            !(q = bbt_replacer(w, sec, 0, url, &what))) {
            continue;
        }
        via = k < m.aliases->nelts ? APR_ARRAY_IDX(m.aliases, k, bbt_alias_t).d
                                   : m.docroot;
        *routes = q->routes;
        return apr_psprintf(
            w->p,
            "sets %s, and %s covers a URL it is served at, %s (%s at %s:%d "
            "maps it there), and sets %s too: httpd merges every <Location> "
            "after every <Directory>, and the last merged wins, so that "
            "section's replace this one's; set them in a <Location> for %s "
            "written after that one instead",
            what, bbt_named(w->p, q), url, via->directive, via->filename,
            via->line_num, what, url);
    }
    return NULL;
}

/* A <Location> sec (at index at of this pass) whose routes or providers
 * one merged after it replaces: what is said after its name, or NULL. */
static const char *bbt_loc_words(const bbt_walk_t *w, const bbt_sec_t *sec,
                                 int at, int *routes)
{
    const char *what;
    const bbt_sec_t *q =
        bbt_replacer(w, sec, at + 1, bbt_squeeze(w->p, sec->path), &what);

    if (!q) {
        return NULL;
    }
    *routes = q->routes;
    return apr_psprintf(
        w->p,
        "sets %s, and %s, merged after it (httpd merges <Location>s in the "
        "order they are written, a virtual host's after the main server's), "
        "%s and sets %s too: the last merged wins, so that section's replace "
        "this one's for every request both take; write the narrower section "
        "after the broader one",
        what, bbt_named(w->p, q),
        q->path ? "covers its path" : "matches its path", what);
}

int bbt_check_merge(const bbt_walk_t *w, bbt_sec_t *sec, int at)
{
    const char *words = NULL;
    int routes = 0;

    if (sec->merge_said || !sec->path || (!sec->routes && !sec->provider)) {
        return 0;
    }
    if (sec->kind == BBT_SEC_LOCATION) {
        words = bbt_loc_words(w, sec, at, &routes);
    } else if (sec->kind == BBT_SEC_DIRECTORY) {
        words = bbt_dir_words(w, sec, &routes);
    }
    if (!words) {
        return 0;
    }
    bbt_warn(w, sec, "BBT362", words);
    sec->merge_said = 1;
    return routes && sec->routes;
}

void bbt_check_merge_main(const bbt_walk_t *w)
{
    int i;

    for (i = 0; i < w->nmain; i++) {
        bbt_check_merge(w, APR_ARRAY_IDX(w->secs, i, bbt_sec_t *), i);
    }
}
