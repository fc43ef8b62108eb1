/*
 * BBT364, a startup warning (bbt_confsec.h): a .htaccess file that can
 * take a section away from the module with nothing refusing it.
 *
 * A request in a section of the module's with routes to which a .htaccess
 * file applies is refused (BBT045, bbt_htaccess.c), since the file can say
 * another AuthType, or Require all granted, and open the section to
 * everyone.  A section is the module's by routes a section set, or by
 * AuthType BBToken as the server's configuration and its <Location>s say
 * (bbt_config_governs).  Routes given at server or virtual-host level are
 * merged into every section of the server, and are not a section's: where
 * AuthType BBToken is said in a <Directory>, <DirectoryMatch>, <Files> or
 * <FilesMatch> (or an <If> inside one), whose AuthType the file's
 * replaces (its <If>'s, merged after every section, replaces any), and
 * AllowOverride lets AuthConfig in there, the file is not refused and the
 * section is open.  httpd reads a .htaccess file only where a <Directory>
 * that is not a regular expression says AllowOverride (or
 * AllowOverrideList), and its default is None, so that line is named, with
 * the section of AuthType BBToken it reaches.
 *
 * As the other checks, this reads the configuration tree: the <Directory>
 * and the section of AuthType BBToken are related by their paths (one
 * covers the other), and where either path is a wildcard or a regular
 * expression, or the section is a <Files> at the top of the server, they
 * are taken as related.  Routes a <Location> sets for the directory's URL
 * are not related to it, and the warning may then be wrong: routes in the
 * section itself say what is meant.
 */
#include "httpd.h"
#include "http_config.h"
#include "apr_strings.h"

#include <string.h>
#include <strings.h>

#include "bbt_confsec.h"

/* A section around sec, up to its server (NULL there). */
static const bbt_sec_t *bbt_up(const bbt_sec_t *sec)
{
    const bbt_sec_t *o = sec->outer;

    return o && o->node && strcasecmp(o->node->directive, "<VirtualHost") != 0
               ? o
               : NULL;
}

/* The first BBTokenRoutes or BBTokenRoute at the top of server srv (the
 * main server's for a virtual host that has none), or NULL: the routes
 * the server's sections inherit. */
static const ap_directive_t *bbt_server_routes(const bbt_sec_t *srv)
{
    for (; srv; srv = srv->outer) {
        const ap_directive_t *d =
            srv->node ? srv->node->first_child : ap_conftree;

        for (; d; d = d->next) {
            if (strcasecmp(d->directive, "BBTokenRoutes") == 0 ||
                strcasecmp(d->directive, "BBTokenRoute") == 0) {
                return d;
            }
        }
    }
    return NULL;
}

/* Does sec have routes a section set: its own, a section's around it, or
 * a <Directory>'s of a leading part of its path?  Those govern it whatever
 * a .htaccess says (bbt_config_governs). */
static int bbt_section_routes(const bbt_walk_t *w, const bbt_sec_t *sec)
{
    const bbt_sec_t *o;
    int i;

    for (o = sec; o; o = bbt_up(o)) {
        if (o->routes) {
            return 1;
        }
        if (o->kind != BBT_SEC_DIRECTORY || !o->path) {
            continue;
        }
        for (i = 0; i < w->secs->nelts; i++) {
            const bbt_sec_t *q = APR_ARRAY_IDX(w->secs, i, const bbt_sec_t *);

            if (q->routes && q->kind == BBT_SEC_DIRECTORY && q->path &&
                bbt_covers(q->path, o->path)) {
                return 1;
            }
        }
    }
    return 0;
}

static int bbt_is(const bbt_sec_t *sec, const char *name)
{
    return strcasecmp(sec->node->directive, name) == 0;
}

/* Is sec AuthType BBToken itself, in a section that httpd merges before a
 * .htaccess file's <If>, and not in a <Location> (whose AuthType counts
 * however the file ends)? */
static int bbt_dir_auth(const bbt_sec_t *sec)
{
    const bbt_sec_t *o;
    int dir = 0;

    if (bbt_sets(sec, BBT_HAS_AUTH) <= 0) {
        return 0;
    }
    for (o = sec; o; o = bbt_up(o)) {
        if (bbt_is(o, "<Location") || bbt_is(o, "<LocationMatch")) {
            return 0;
        }
        dir |= bbt_is(o, "<Directory") || bbt_is(o, "<DirectoryMatch") ||
               bbt_is(o, "<Files") || bbt_is(o, "<FilesMatch");
    }
    return dir;
}

/* The plain path of the <Directory> sec is in, or NULL where that is not
 * known (a wildcard, a regular expression, a <Files> at the top). */
static const char *bbt_dir_path(const bbt_sec_t *sec)
{
    const bbt_sec_t *o;

    for (o = sec; o; o = bbt_up(o)) {
        if (bbt_is(o, "<Directory") || bbt_is(o, "<DirectoryMatch")) {
            return o->path;
        }
    }
    return NULL;
}

/* The AllowOverride or AllowOverrideList line of the <Directory> sec that
 * lets a .htaccess file say AuthType or Require, or NULL.  The last line
 * of each holds, as httpd reads them; a regular expression's is not read
 * for .htaccess files. */
static const ap_directive_t *bbt_lets_authcfg(apr_pool_t *p,
                                              const bbt_sec_t *sec)
{
    const ap_directive_t *d, *over = NULL, *list = NULL;
    const char *args;

    if (!bbt_is(sec, "<Directory")) {
        return NULL;
    }
    args = sec->node->args;
    if (args[0] == '~' && (args[1] == ' ' || args[1] == '\t')) {
        return NULL;
    }
    for (d = sec->node->first_child; d; d = d->next) {
        args = d->args;
        if (strcasecmp(d->directive, "AllowOverride") == 0) {
            over = NULL;
            while (*args) {
                const char *word = ap_getword_conf(p, &args);

                if (strcasecmp(word, "None") == 0) {
                    over = NULL;
                } else if (strcasecmp(word, "All") == 0 ||
                           strcasecmp(word, "AuthConfig") == 0) {
                    over = d;
                }
            }
        } else if (strcasecmp(d->directive, "AllowOverrideList") == 0) {
            list = NULL;
            while (*args) {
                const char *word = ap_getword_conf(p, &args);

                if (strcasecmp(word, "AuthType") == 0 ||
                    strcasecmp(word, "Require") == 0) {
                    list = d;
                }
            }
        }
    }
    return over ? over : list;
}

/* Where a directive is, in words. */
static const char *bbt_line(apr_pool_t *p, const ap_directive_t *d)
{
    return apr_psprintf(p, "%s %s at %s:%d", d->directive, d->args, d->filename,
                        d->line_num);
}

void bbt_check_htaccess(const bbt_walk_t *w, const bbt_sec_t *srv,
                        int main_judged)
{
    const ap_directive_t *routes = bbt_server_routes(srv);
    int i, k;

    if (!routes) {
        return;
    }
    for (i = 0; i < w->secs->nelts; i++) {
        const bbt_sec_t *dir = APR_ARRAY_IDX(w->secs, i, const bbt_sec_t *);
        const ap_directive_t *over = bbt_lets_authcfg(w->pp, dir);

        if (!over || bbt_section_routes(w, dir)) {
            continue;
        }
        for (k = 0; k < w->secs->nelts; k++) {
            const bbt_sec_t *sec = APR_ARRAY_IDX(w->secs, k, const bbt_sec_t *);
            const char *a = bbt_dir_path(sec), *what;

            /* The main server's own pass judged the main server's pairs
             * under the same routes. */
            if ((main_judged && i < w->nmain && k < w->nmain) ||
                !bbt_dir_auth(sec) || bbt_section_routes(w, sec) ||
                (a && dir->path && !bbt_covers(a, dir->path) &&
                 !bbt_covers(dir->path, a))) {
                continue;
            }
            what = apr_psprintf(
                w->p,
                "%slets AuthConfig into .htaccess files (%s), and %s is "
                "AuthType BBToken with no routes of its own (%s gives them "
                "at server level): a .htaccess file there can say another "
                "AuthType and Require all granted, opening it to everyone, "
                "and the module refuses such a file (BBT045) only where a "
                "section sets the routes; give that section routes of its "
                "own, or say AllowOverride None here",
                i < w->nmain ? bbt_vhost_words(w) : "", bbt_line(w->p, over),
                sec == dir ? "the section"
                           : apr_psprintf(
                                 w->p, "%s %s> at %s:%d", sec->node->directive,
                                 bbt_args(w->p, sec->node), sec->node->filename,
                                 sec->node->line_num),
                bbt_line(w->p, routes));
            bbt_warn(w, dir, "BBT364", what);
            break;
        }
    }
}
