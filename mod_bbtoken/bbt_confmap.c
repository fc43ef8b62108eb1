/*
 * The URLs a directory is served at, for BBT362 (bbt_confmerge.c): a
 * <Location> over one replaces what a <Directory> or <Files> there sets.
 *
 * Which URL a <Directory> is served under is for the URL's mapping to say:
 * here the plain Alias and ScriptAlias lines and the DocumentRoot tell it,
 * as mod_alias and the core take them (the first Alias whose URL matches
 * wins, a virtual host's before the main server's; a relative target is
 * ServerRoot's, as mod_alias makes it for each request).  The DocumentRoot
 * is the one the core serves from, which the glue reads from its server
 * configuration (bbt_confcheck.c): where no line sets it, httpd's built-in
 * one, or the main server's in a virtual host.  A <Directory> reached only
 * through AliasMatch, mod_rewrite or mod_userdir is not related to any
 * <Location>.
 */
#include "httpd.h"
#include "http_config.h"
#include "apr_strings.h"
#include "apr_hash.h"

#include <string.h>
#include <strings.h>

#include "bbt_confsec.h"

/* A plain Alias or ScriptAlias: URLs under url are files under dir. */
typedef struct {
    const char *url;
    const char *dir;
    const ap_directive_t *d;
    int own; /* the virtual host's own, in its pass */
} bbt_alias_t;

/* How the server of a pass maps URLs to files. */
struct bbt_map {
    apr_array_header_t *aliases;     /* bbt_alias_t, in the order mod_alias
                                        tries them */
    const char *docroot;             /* slashes merged, or NULL */
    const ap_directive_t *docroot_d; /* the line that sets it, or NULL */
    int docroot_own;                 /* not the main server's DocumentRoot */
    int own;                         /* the virtual host maps URLs of its own */
};

/* path with each run of slashes made one, as httpd merges them in the URL
 * and in a section's path before comparing. */
char *bbt_squeeze(apr_pool_t *p, const char *path)
{
    char *out = apr_pstrdup(p, path);

    ap_no2slash(out);
    return out;
}

/* A path without its trailing slash ("/" stays), and it with one. */
void bbt_base(apr_pool_t *p, const char *path, const char **base,
              const char **under)
{
    size_t n = strlen(path);

    *base = n > 1 && path[n - 1] == '/' ? apr_pstrndup(p, path, n - 1) : path;
    *under = strcmp(*base, "/") == 0 ? "/" : apr_pstrcat(p, *base, "/", NULL);
}

/* Aliases and the last DocumentRoot line of the directives from d on,
 * those inside sections and virtual hosts left out. */
static void bbt_map_read(apr_pool_t *p, const ap_directive_t *d, bbt_map_t *m,
                         const ap_directive_t **docroot, int own)
{
    for (; d; d = d->next) {
        const char *args = d->args, *url, *dir;

        if (strcasecmp(d->directive, "DocumentRoot") == 0) {
            *docroot = d;
            continue;
        }
        if (strcasecmp(d->directive, "Alias") != 0 &&
            strcasecmp(d->directive, "ScriptAlias") != 0) {
            continue;
        }
        url = ap_getword_conf(p, &args);
        dir = ap_getword_conf(p, &args);
        /* mod_alias takes a relative target to be ServerRoot's. */
        if (*url == '/' && *dir && (dir = ap_server_root_relative(p, dir))) {
            bbt_alias_t *a = apr_array_push(m->aliases);

            a->url = bbt_squeeze(p, url);
            a->dir = bbt_squeeze(p, dir);
            a->d = d;
            a->own = own;
            m->own |= own;
        }
    }
}

/* A DocumentRoot line's directory, made absolute as the core makes it. */
static const char *bbt_line_root(apr_pool_t *p, const ap_directive_t *d)
{
    const char *args = d->args;

    return ap_server_root_relative(p, ap_getword_conf(p, &args));
}

void bbt_merge_begin(bbt_walk_t *w)
{
    bbt_map_t *m;
    const ap_directive_t *vh_line = NULL, *main_line = NULL;
    const char *root = w->docroot;
    apr_pool_t *p = w->pp;

    /* What the pass before worked out (its directories' URLs, cached in
     * their sections for that pass alone) goes: a virtual host's pass
     * works out every main server's directory again. */
    apr_pool_clear(p);
    m = apr_pcalloc(p, sizeof(*m));
    m->aliases = apr_array_make(p, 4, sizeof(bbt_alias_t));
    if (w->vh) {
        bbt_map_read(p, w->vh->node->first_child, m, &vh_line, 1);
    }
    bbt_map_read(p, ap_conftree, m, &main_line, 0);
    /* Without the server's configuration (a virtual host whose server the
     * glue could not tell for certain), its own line says, else it is the
     * main server's. */
    if (!root) {
        root = vh_line           ? bbt_line_root(p, vh_line)
               : w->main_docroot ? w->main_docroot
               : main_line       ? bbt_line_root(p, main_line)
                                 : NULL;
    }
    if (root && *root == '/') {
        m->docroot = bbt_squeeze(p, root);
        m->docroot_own =
            w->vh && (!w->main_docroot ||
                      strcmp(m->docroot, bbt_squeeze(p, w->main_docroot)) != 0);
        m->docroot_d = vh_line ? vh_line : m->docroot_own ? NULL : main_line;
        m->own |= m->docroot_own;
    }
    w->map = m;
    w->pass++;
}

int bbt_map_own(const bbt_walk_t *w)
{
    return w->map->own;
}

int bbt_map_first(const bbt_walk_t *w)
{
    const bbt_map_t *m = w->map;
    const char *key = m->docroot_own ? m->docroot : "";
    int k;

    /* The main server's aliases and DocumentRoot are the same in every
     * pass: the virtual host's own lines make the difference. */
    for (k = 0; k < m->aliases->nelts; k++) {
        const bbt_alias_t *a = &APR_ARRAY_IDX(m->aliases, k, bbt_alias_t);

        if (a->own) {
            key = apr_pstrcat(w->pp, key, "\n", a->url, "\n", a->dir, NULL);
        }
    }
    if (apr_hash_get(w->mapped, key, APR_HASH_KEY_STRING)) {
        return 0;
    }
    key = apr_pstrdup(w->p, key);
    apr_hash_set(w->mapped, key, APR_HASH_KEY_STRING, key);
    return 1;
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
        from = "/";
        to = m->docroot;
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
    return url;
}

/* The URLs directory dir is served at in this pass, kept in holder (the
 * <Directory>, or the <Files> at the top of a server) for the pass. */
const apr_array_header_t *bbt_urls(const bbt_walk_t *w, const bbt_sec_t *holder,
                                   const char *dir)
{
    bbt_sec_t *h = (bbt_sec_t *)holder; /* a cache, not what it sets */
    const bbt_map_t *m = w->map;
    apr_array_header_t *urls;
    const char *under;
    int k;

    if (h->urls && h->urls_pass == w->pass) {
        return h->urls;
    }
    bbt_base(w->pp, dir, &dir, &under);
    urls = apr_array_make(w->pp, 2, sizeof(bbt_url_t));
    for (k = 0; k <= m->aliases->nelts; k++) {
        const char *url;
        bbt_url_t *u;

        if ((k == m->aliases->nelts && !m->docroot) ||
            !(url = bbt_dir_url(w->pp, m, k, dir))) {
            continue;
        }
        u = apr_array_push(urls);
        bbt_base(w->pp, url, &u->url, &u->under);
        if (k < m->aliases->nelts) {
            const bbt_alias_t *a = &APR_ARRAY_IDX(m->aliases, k, bbt_alias_t);

            u->via = a->d;
            u->own = a->own;
        } else {
            u->via = m->docroot_d;
            u->own = m->docroot_own;
        }
    }
    h->urls = urls;
    h->urls_pass = w->pass;
    return urls;
}

const char *bbt_url_via(const bbt_walk_t *w, const bbt_url_t *u)
{
    if (!u->via) {
        return apr_psprintf(w->p, "httpd's built-in DocumentRoot, %s,",
                            w->map->docroot);
    }
    return apr_psprintf(w->p, "%s at %s:%d", u->via->directive,
                        u->via->filename, u->via->line_num);
}
