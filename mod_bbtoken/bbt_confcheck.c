/*
 * Startup checks of where the module is configured (bbt_confcheck.h).
 *
 * Routes do something only where AuthType BBToken reads the credentials,
 * and AuthType BBToken without routes refuses every token: either is most
 * likely a section that was meant to have both.  httpd keeps each
 * directive where it was written (the configuration tree, included files
 * and the true branches of <IfModule> and <IfDefine> spliced in), so the
 * check reads that, as httpd merges it: a section sees what it sets
 * itself, what the section around it sets (a <Files> inside a
 * <Directory>), what a <Location> or <Directory> of a leading part of its
 * path sets, and what its virtual host and the main server set.  Sections
 * matched by regular expressions, and a <Location> against a <Directory>
 * (which only the URL's mapping relates), are not compared: the warning
 * may then be wrong, and says how to silence it.
 *
 * A section of AuthType BBToken needs AuthName, the realm its challenge
 * names: httpd answers every request there 500 without it.
 *
 * A section of AuthType BBToken whose Require lines are all inside
 * <Limit> containers leaves the methods they do not list open: see
 * bbt_confreq.c.
 *
 * Routes or password providers a section merged after their own replaces
 * (a broader <Location> written after a narrower one, one covering a
 * <Directory>'s URL, a <DirectoryMatch>, <Files> or <If> merged after them
 * wherever it is written): see bbt_confmerge.c.
 *
 * mod_authz_svn's authorization runs before mod_authz_core's and grants on
 * its access file alone, ending the phase: in a section of AuthType BBToken
 * with AuthzSVNAccessFile (or AuthzSVNReposRelativeAccessFile), Require
 * bbtoken never runs for a password user (AuthBBTokenProvider), whom only
 * the access file then judges.  Tokens are still judged by the module's
 * gate, which runs before it, and then by the access file too: without
 * passwords the pair is path-based authorization for tokens, not a trap.
 *
 * mod_authz_svn's AuthzSVNNoAuthWhenAnonymousAllowed On ends the login,
 * with no user, of a request its access file allows anonymously, before
 * the module reads any credentials; httpd then answers it 500 (AH00027),
 * token or not, so such a section serves nothing the access file opens to
 * anonymous users.  mod_authz_svn keeps no setting of an outer section in
 * one that sets any of its own, so the pair counts where one section sets
 * both (a section that sets neither inherits them).
 *
 * mod_ssl's SSLOptions +FakeBasicAuth replaces the Authorization header of
 * a client that presents a certificate, in a check_authn that runs before
 * every other: in a section of AuthType BBToken such a client's token
 * never reaches the module.
 *
 * mod_remoteip with RemoteIPHeader but no RemoteIPInternalProxy or
 * RemoteIPTrustedProxy (nor their List forms) takes the header from every
 * client as from a trusted proxy: any client names the (public) address it
 * likes, which becomes r->useragent_ip, the address token allow-lists and
 * the failed-login throttle judge.  A server where that holds and a
 * section of AuthType BBToken applies is warned about.
 *
 * A .htaccess file that can take a section of AuthType BBToken whose
 * routes are the server's away from the module: see bbt_confhtac.c.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "apr_strings.h"

#include <string.h>
#include <strings.h>

#include "bbt_confcheck.h"
#include "bbt_confsec.h"

APLOG_USE_MODULE(bbtoken);

/* Containers whose directives belong to the section around them. */
static int bbt_transparent(const char *name)
{
    return strcasecmp(name, "<Limit") == 0 ||
           strcasecmp(name, "<LimitExcept") == 0 ||
           strncasecmp(name, "<Require", 8) == 0 ||
           strncasecmp(name, "<AuthnProviderAlias", 19) == 0;
}

char *bbt_args(apr_pool_t *p, const ap_directive_t *d)
{
    char *args = apr_pstrdup(p, d->args);
    char *end = strrchr(args, '>');

    if (end) {
        *end = '\0';
    }
    return args;
}

/* A Require line inside limit (a <Limit>, or NULL): note where. */
static void bbt_own_require(apr_pool_t *p, const ap_directive_t *limit,
                            bbt_sec_t *sec)
{
    const char *where;

    if (!limit) {
        sec->require_all = 1;
        return;
    }
    if (limit == sec->last_limit) {
        return;
    }
    where = apr_psprintf(p, "<Limit %s> (line %d)", bbt_args(p, limit),
                         limit->line_num);
    sec->limits =
        sec->limits ? apr_pstrcat(p, sec->limits, ", ", where, NULL) : where;
    sec->last_limit = limit;
}

/* Why FakeBasicAuth and AuthType BBToken do not mix, for BBT356 and
 * BBT357 alike. */
#define BBT_FAKEBASIC_WHY                                                      \
    "mod_ssl replaces the Authorization header of a client that presents a "   \
    "certificate, so its token never reaches the module (401); remove "        \
    "FakeBasicAuth there"

/* What SSLOptions args leave FakeBasicAuth at, as mod_ssl reads them: a
 * word without + or - before any with one replaces the options. */
static int bbt_fakebasic(apr_pool_t *p, const char *args, int now)
{
    int first = 1;

    while (*args) {
        const char *w = ap_getword_conf(p, &args);
        char action = (*w == '+' || *w == '-') ? *w++ : '\0';

        if (!action && first) {
            now = -1;
            first = 0;
        }
        if (strcasecmp(w, "FakeBasicAuth") == 0) {
            now = action == '-' ? -1 : 1;
        }
    }
    return now;
}

/* Read what the directives from d on set into sec, through transparent
 * containers; limit is the <Limit> they are in, if any. */
static void bbt_own(apr_pool_t *p, const ap_directive_t *d, bbt_sec_t *sec,
                    const ap_directive_t *limit)
{
    for (; d; d = d->next) {
        const char *args = d->args;

        if (strcasecmp(d->directive, "AuthType") == 0) {
            sec->auth = ap_getword_conf(p, &args);
        } else if (strcasecmp(d->directive, "AuthName") == 0) {
            sec->authname = 1;
        } else if (strcasecmp(d->directive, "BBTokenRoutes") == 0 ||
                   strcasecmp(d->directive, "BBTokenRoute") == 0) {
            sec->routes = 1;
        } else if (strcasecmp(d->directive, "AuthzSVNAccessFile") == 0 ||
                   strcasecmp(d->directive,
                              "AuthzSVNReposRelativeAccessFile") == 0) {
            sec->svnauthz = 1;
            sec->svnany = 1;
        } else if (strcasecmp(d->directive,
                              "AuthzSVNNoAuthWhenAnonymousAllowed") == 0) {
            sec->svnnoauth =
                strcasecmp(ap_getword_conf(p, &args), "On") == 0 ? 1 : -1;
            sec->svnany = 1;
        } else if (strncasecmp(d->directive, "AuthzSVN", 8) == 0 ||
                   strcasecmp(d->directive, "AuthzForceUsernameCase") == 0) {
            sec->svnany = 1;
        } else if (strcasecmp(d->directive, "AuthBBTokenProvider") == 0) {
            /* "none" takes the providers around it away: set, and off. */
            sec->provider =
                strcasecmp(ap_getword_conf(p, &args), "none") == 0 ? -1 : 1;
        } else if (strcasecmp(d->directive, "SSLOptions") == 0) {
            sec->fakebasic = bbt_fakebasic(p, args, sec->fakebasic);
        } else if (strcasecmp(d->directive, "Require") == 0) {
            bbt_own_require(p, limit, sec);
        } else if (strcasecmp(d->directive, "RemoteIPHeader") == 0) {
            sec->rip_header = d;
        } else if (strcasecmp(d->directive, "RemoteIPInternalProxy") == 0 ||
                   strcasecmp(d->directive, "RemoteIPTrustedProxy") == 0 ||
                   strcasecmp(d->directive, "RemoteIPInternalProxyList") == 0 ||
                   strcasecmp(d->directive, "RemoteIPTrustedProxyList") == 0) {
            sec->rip_proxies = 1;
        } else if (strcasecmp(d->directive, "AuthMerging") == 0) {
            sec->merging =
                strcasecmp(ap_getword_conf(p, &args), "Off") == 0 ? -1 : 1;
        } else if (strcasecmp(d->directive, "<Limit") == 0) {
            bbt_own(p, d->first_child, sec, d);
        } else if (strcasecmp(d->directive, "<LimitExcept") == 0) {
            /* It names what it leaves open: meant. */
            bbt_own(p, d->first_child, sec, NULL);
        } else if (d->directive[0] == '<' && bbt_transparent(d->directive)) {
            bbt_own(p, d->first_child, sec, limit);
        }
    }
}

/* The path of a <Location> or <Directory> section, or NULL for a regular
 * expression or a wildcard. */
static const char *bbt_plain_path(apr_pool_t *p, const ap_directive_t *d)
{
    const char *a = bbt_args(p, d), *path;

    path = ap_getword_conf(p, &a);
    if (!*path || *path == '~' || *a || strpbrk(path, "*?[")) {
        return NULL;
    }
    return path;
}

int bbt_covers(const char *q, const char *p)
{
    size_t n = strlen(q);

    return strncmp(q, p, n) == 0 &&
           (p[n] == '\0' || p[n] == '/' || (n > 0 && q[n - 1] == '/'));
}

/* Does sec set what want names itself: AuthType BBToken (-1 for another
 * AuthType), routes, an access file of mod_authz_svn, password providers,
 * FakeBasicAuth (-1 for SSLOptions without it), AuthName, or
 * AuthzSVNNoAuthWhenAnonymousAllowed On with an access file (-1 for other
 * settings of mod_authz_svn's)?  0 if it sets nothing of the kind. */
int bbt_sets(const bbt_sec_t *sec, bbt_want_t want)
{
    switch (want) {
    case BBT_HAS_AUTH:
        if (!sec->auth) {
            return 0;
        }
        return strcasecmp(sec->auth, "BBToken") == 0 ? 1 : -1;
    case BBT_HAS_ROUTES:
        return sec->routes;
    case BBT_HAS_PROVIDER:
        return sec->provider;
    case BBT_HAS_FAKEBASIC:
        return sec->fakebasic;
    case BBT_HAS_AUTHNAME:
        return sec->authname;
    case BBT_HAS_SVNANON:
        if (!sec->svnany) {
            return 0;
        }
        return sec->svnnoauth > 0 && sec->svnauthz ? 1 : -1;
    default:
        return sec->svnauthz;
    }
}

int bbt_has(const bbt_walk_t *w, const bbt_sec_t *sec, bbt_want_t want)
{
    const bbt_sec_t *o;
    int i;

    for (o = sec; o; o = o->outer) {
        if (bbt_sets(o, want)) {
            return bbt_sets(o, want) > 0;
        }
        if (o->kind == BBT_SEC_OTHER || !o->path) {
            continue;
        }
        for (i = 0; i < w->secs->nelts; i++) {
            const bbt_sec_t *q = APR_ARRAY_IDX(w->secs, i, const bbt_sec_t *);

            if (q != o && q->kind == o->kind && q->path &&
                bbt_covers(q->path, o->path) && bbt_sets(q, want) > 0) {
                return 1;
            }
        }
    }
    return 0;
}

static void bbt_collect(bbt_walk_t *w, const ap_directive_t *d,
                        const bbt_sec_t *outer)
{
    for (; d; d = d->next) {
        bbt_sec_t *sec;
        const char *name = d->directive;

        if (name[0] != '<' || bbt_transparent(name) ||
            strcasecmp(name, "<VirtualHost") == 0) {
            continue;
        }
        sec = apr_pcalloc(w->p, sizeof(*sec));
        sec->node = d;
        sec->outer = outer;
        if (strcasecmp(name, "<Location") == 0) {
            sec->kind = BBT_SEC_LOCATION;
            sec->path = bbt_plain_path(w->p, d);
        } else if (strcasecmp(name, "<Directory") == 0) {
            sec->kind = BBT_SEC_DIRECTORY;
            sec->path = bbt_plain_path(w->p, d);
        } else {
            sec->kind = BBT_SEC_OTHER;
        }
        bbt_own(w->p, d->first_child, sec, NULL);
        bbt_merge_note(w, sec);
        APR_ARRAY_PUSH(w->secs, bbt_sec_t *) = sec;
        bbt_collect(w, d->first_child, sec);
    }
}

/* Whether an <If>, <ElseIf> or <Else> inside sec (directly, or inside
 * another of them there) sets what want names: for the requests its
 * expression takes, sec has it, which is not what a warning that it has
 * none would say. */
static int bbt_if_sets(const bbt_walk_t *w, const bbt_sec_t *sec,
                       bbt_want_t want)
{
    int i;

    for (i = 0; i < w->secs->nelts; i++) {
        const bbt_sec_t *q = APR_ARRAY_IDX(w->secs, i, const bbt_sec_t *);
        const bbt_sec_t *o;

        if (bbt_sets(q, want) <= 0) {
            continue;
        }
        for (o = q; o && o != sec && o->node &&
                    (strcasecmp(o->node->directive, "<If") == 0 ||
                     strcasecmp(o->node->directive, "<ElseIf") == 0 ||
                     strcasecmp(o->node->directive, "<Else") == 0);
             o = o->outer) {
        }
        if (o == sec && q != sec) {
            return 1;
        }
    }
    return 0;
}

void bbt_warn(const bbt_walk_t *w, const bbt_sec_t *sec, const char *id,
              const char *what)
{
    const ap_directive_t *d = sec->node;

    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, w->s, "%s: %s:%d: %s %s> %s", id,
                 d->filename, d->line_num, d->directive, bbt_args(w->p, d),
                 what);
}

/* Check the sections of one server: top is its first directive, outer the
 * server's own settings (and the main server's, for a virtual host). */
static void bbt_check_server(bbt_walk_t *w, const ap_directive_t *top,
                             const bbt_sec_t *outer)
{
    int i, first = w->secs->nelts;

    bbt_collect(w, top, outer);
    bbt_merge_begin(w);
    for (i = first; i < w->secs->nelts; i++) {
        bbt_sec_t *sec = APR_ARRAY_IDX(w->secs, i, bbt_sec_t *);

        /* Routes a later section replaces do nothing for a reason of their
         * own, which BBT362 says; an <If>'s or a <Files>'s, merged after
         * other sections, apply where those are AuthType BBToken. */
        if (!bbt_check_merge(w, sec, i) && sec->routes &&
            !bbt_has(w, sec, BBT_HAS_AUTH) && !bbt_merge_late_applies(w, sec)) {
            bbt_warn(w, sec, "BBT352",
                     "sets routes, but is not AuthType BBToken: they do "
                     "nothing there (put AuthType BBToken in the same "
                     "section)");
        }
        if (sec->auth && strcasecmp(sec->auth, "BBToken") == 0 &&
            !bbt_has(w, sec, BBT_HAS_ROUTES) &&
            !bbt_if_sets(w, sec, BBT_HAS_ROUTES)) {
            bbt_warn(w, sec, "BBT353",
                     "is AuthType BBToken without routes: every token is "
                     "refused there (403); set BBTokenRoutes, or "
                     "BBTokenRoutes none if that is meant");
        }
        /* The realm of the challenge: without it every request there is
         * 500 (BBT030), as mod_auth_basic's are.  A .htaccess may set it,
         * which this walk does not read. */
        if (sec->auth && strcasecmp(sec->auth, "BBToken") == 0 &&
            !bbt_has(w, sec, BBT_HAS_AUTHNAME) &&
            !bbt_if_sets(w, sec, BBT_HAS_AUTHNAME)) {
            bbt_warn(w, sec, "BBT359",
                     "is AuthType BBToken without AuthName: every request "
                     "there is answered 500 (BBT030); set AuthName");
        }
        bbt_check_limit(w, sec);
        /* Only where passwords are taken: for a token the access file
         * judges after the routes, which is what it is for.  Where the
         * section itself sets one of the three: said once, not for every
         * section below it. */
        if ((sec->svnauthz || sec->provider ||
             bbt_sets(sec, BBT_HAS_AUTH) > 0) &&
            bbt_has(w, sec, BBT_HAS_AUTH) &&
            bbt_has(w, sec, BBT_HAS_SVNAUTHZ) &&
            bbt_has(w, sec, BBT_HAS_PROVIDER)) {
            bbt_warn(w, sec, "BBT355",
                     "is AuthType BBToken with mod_authz_svn's access file "
                     "(AuthzSVNAccessFile): a password user is authorized "
                     "by the access file alone, since mod_authz_svn grants "
                     "before Require bbtoken runs (tokens are still checked "
                     "against their routes); remove the access file there, "
                     "or accept no passwords there (no AuthBBTokenProvider)");
        }
        if ((bbt_sets(sec, BBT_HAS_SVNANON) > 0 ||
             bbt_sets(sec, BBT_HAS_AUTH) > 0) &&
            bbt_has(w, sec, BBT_HAS_AUTH) && bbt_has(w, sec, BBT_HAS_SVNANON)) {
            bbt_warn(w, sec, "BBT361",
                     "is AuthType BBToken with mod_authz_svn's "
                     "AuthzSVNNoAuthWhenAnonymousAllowed On: a request its "
                     "access file allows anonymously is let past the login "
                     "with no user, which httpd answers 500 (AH00027), with "
                     "a token or without; remove "
                     "AuthzSVNNoAuthWhenAnonymousAllowed there (every "
                     "request then needs a token, which the access file "
                     "narrows), and serve anonymous readers from a location "
                     "that is not AuthType BBToken");
        }
        if ((sec->fakebasic > 0 || bbt_sets(sec, BBT_HAS_AUTH) > 0) &&
            bbt_has(w, sec, BBT_HAS_AUTH) &&
            bbt_has(w, sec, BBT_HAS_FAKEBASIC)) {
            bbt_warn(w, sec, "BBT356",
                     "is AuthType BBToken with SSLOptions "
                     "+FakeBasicAuth: " BBT_FAKEBASIC_WHY);
        }
    }
}

/* The main server's sections apply in a virtual host too, where its own
 * FakeBasicAuth reaches them: said once, at the virtual host. */
static void bbt_check_vhost_fakebasic(const bbt_walk_t *w, const bbt_sec_t *vh,
                                      int nmain)
{
    int i;

    if (vh->fakebasic <= 0) {
        return;
    }
    for (i = 0; i < nmain; i++) {
        const bbt_sec_t *sec = APR_ARRAY_IDX(w->secs, i, const bbt_sec_t *);

        if (bbt_sets(sec, BBT_HAS_AUTH) > 0 && sec->fakebasic >= 0) {
            bbt_warn(w, vh, "BBT357",
                     apr_psprintf(w->p,
                                  "sets SSLOptions +FakeBasicAuth, and the "
                                  "main server's %s %s> at %s:%d is AuthType "
                                  "BBToken: " BBT_FAKEBASIC_WHY,
                                  sec->node->directive,
                                  bbt_args(w->p, sec->node),
                                  sec->node->filename, sec->node->line_num));
            return;
        }
    }
}

/* Is srv itself, or a section of those seen so far, AuthType BBToken? */
static int bbt_any_auth(const bbt_walk_t *w, const bbt_sec_t *srv)
{
    int i;

    if (bbt_sets(srv, BBT_HAS_AUTH) > 0) {
        return 1;
    }
    for (i = 0; i < w->secs->nelts; i++) {
        if (bbt_sets(APR_ARRAY_IDX(w->secs, i, const bbt_sec_t *),
                     BBT_HAS_AUTH) > 0) {
            return 1;
        }
    }
    return 0;
}

/* RemoteIPHeader in effect in server srv (a virtual host over the main
 * server top, or the main server itself, top NULL) with no proxies named,
 * where auth says AuthType BBToken applies: every client names its own
 * address.  A virtual host that only inherits the main server's settings
 * is not said again when the main server was (said).  1 if said. */
static int bbt_check_remoteip(const bbt_walk_t *w, const bbt_sec_t *srv,
                              const bbt_sec_t *top, int said, int auth)
{
    const ap_directive_t *h = srv->rip_header;
    int proxies = srv->rip_proxies;

    if (top) {
        h = h ? h : top->rip_header;
        proxies |= top->rip_proxies;
        if (said && !srv->rip_header && !srv->rip_proxies) {
            return 0;
        }
    }
    if (!h || proxies || !auth) {
        return 0;
    }
    ap_log_error(
        APLOG_MARK, APLOG_WARNING, 0, w->s,
        "BBT358: %s:%d: RemoteIPHeader %s without RemoteIPInternalProxy or "
        "RemoteIPTrustedProxy (%s): mod_remoteip then believes that header "
        "from every client, so any client can give a public address of its "
        "choice as its own to a token's allow-list and to the failed-login "
        "throttle; name the proxies whose header is believed",
        h->filename, h->line_num, h->args,
        top ? apr_psprintf(w->p, "<VirtualHost %s>", bbt_args(w->p, srv->node))
            : "the main server");
    return 1;
}

/* Is any directive from d on, inside sections too, AuthType BBToken? */
static int bbt_tree_auth(apr_pool_t *p, const ap_directive_t *d)
{
    for (; d; d = d->next) {
        const char *args = d->args;

        if ((strcasecmp(d->directive, "AuthType") == 0 &&
             strcasecmp(ap_getword_conf(p, &args), "BBToken") == 0) ||
            bbt_tree_auth(p, d->first_child)) {
            return 1;
        }
    }
    return 0;
}

/* The DocumentRoot the core serves server s from: its own line's, made
 * absolute against ServerRoot; in a virtual host without one the main
 * server's (merged before check_config); where no line sets one, the one
 * httpd is built with (/var/www/html on Debian).  httpd -T keeps a line's
 * relative path as written. */
static const char *bbt_docroot(apr_pool_t *p, const server_rec *s)
{
    const core_server_config *conf =
        ap_get_core_module_config(s->module_config);

    return conf && conf->ap_document_root
               ? ap_server_root_relative(p, conf->ap_document_root)
               : NULL;
}

/* The servers httpd made of the <VirtualHost> sections at the top of the
 * tree, in the order they are written, or NULL where that is not certain.
 * The file and line of a section do not tell them apart: a file Included
 * twice (with other Defines), or a mod_macro Use in it, gives two sections
 * the same.  The core makes one server of each such section it walks, and
 * puts it first in s->next (so the list is in the opposite order);
 * <IfDefine> and <IfModule> leave only what they take in the tree.  A count
 * that differs, or a pair whose file and line do not agree, leaves each
 * virtual host's lines to say its DocumentRoot. */
static const server_rec **bbt_vhost_servers(apr_pool_t *p, const server_rec *s)
{
    const server_rec **vs, *v;
    const ap_directive_t *d;
    int n = 0, i = 0;

    for (d = ap_conftree; d; d = d->next) {
        n += strcasecmp(d->directive, "<VirtualHost") == 0;
    }
    for (v = s->next; v; v = v->next) {
        i++;
    }
    if (i != n || n == 0) {
        return NULL;
    }
    vs = apr_palloc(p, n * sizeof(*vs));
    for (v = s->next; v; v = v->next) {
        vs[--i] = v;
    }
    for (d = ap_conftree; d; d = d->next) {
        if (strcasecmp(d->directive, "<VirtualHost") != 0) {
            continue;
        }
        v = vs[i++];
        if (v->defn_line_number != (unsigned)d->line_num || !v->defn_name ||
            !d->filename || strcmp(v->defn_name, d->filename) != 0) {
            return NULL;
        }
    }
    return vs;
}

static int bbt_confcheck(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                         server_rec *s)
{
    bbt_walk_t w;
    bbt_sec_t main_srv, *vh;
    const ap_directive_t *d;
    const server_rec **vss;
    int n, said, nvh = 0;
    apr_uint64_t pairs = 0;

    (void)pconf;
    (void)plog;
    memset(&main_srv, 0, sizeof(main_srv));
    main_srv.kind = BBT_SEC_OTHER;
    w.p = ptemp;
    apr_pool_create(&w.pp, ptemp);
    w.s = s;
    w.secs = apr_array_make(ptemp, 16, sizeof(bbt_sec_t *));
    w.vh = NULL;
    w.nmain = 0;
    w.pass = 0;
    w.map = NULL;
    w.main_docroot = w.docroot = bbt_docroot(ptemp, s);
    w.pc = bbt_pat_ctx(ptemp);
    w.auth_vhosts = 0;
    w.pairs = &pairs;
    w.mapped = apr_hash_make(ptemp);
    for (d = ap_conftree; d; d = d->next) {
        if (strcasecmp(d->directive, "<VirtualHost") == 0 &&
            bbt_tree_auth(ptemp, d->first_child)) {
            w.auth_vhosts = 1;
        }
    }
    bbt_own(ptemp, ap_conftree, &main_srv, NULL);
    bbt_check_server(&w, ap_conftree, &main_srv);
    bbt_check_htaccess(&w, &main_srv, 0);
    /* A virtual host also sees the main server's sections. */
    n = w.secs->nelts;
    said =
        bbt_check_remoteip(&w, &main_srv, NULL, 0, bbt_any_auth(&w, &main_srv));
    vss = bbt_vhost_servers(ptemp, s);
    for (d = ap_conftree; d; d = d->next) {
        if (strcasecmp(d->directive, "<VirtualHost") != 0) {
            continue;
        }
        w.docroot = vss ? bbt_docroot(ptemp, vss[nvh++]) : NULL;
        vh = apr_pcalloc(ptemp, sizeof(*vh));
        vh->node = d;
        vh->kind = BBT_SEC_OTHER;
        vh->outer = &main_srv;
        bbt_own(ptemp, d->first_child, vh, NULL);
        w.secs->nelts = n;
        w.vh = vh;
        w.nmain = n;
        bbt_check_server(&w, d->first_child, vh);
        /* With no sections of its own, the main server's are merged there
         * as in the main server's pass, which judged them. */
        if (w.secs->nelts > n) {
            bbt_check_limit_main(&w);
        }
        bbt_check_merge_main(&w);
        bbt_check_htaccess(&w, vh, main_srv.routes);
        bbt_check_vhost_fakebasic(&w, vh, n);
        bbt_check_remoteip(&w, vh, &main_srv, said,
                           bbt_any_auth(&w, vh) ||
                               bbt_sets(&main_srv, BBT_HAS_AUTH) > 0);
    }
    /* What the check of merged sections costs grows with the pairs it
     * compares: a virtual host's pass compares only those something of its
     * own may change. */
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                 "BBT363: the check of routes and providers a later section "
                 "replaces compared %" APR_UINT64_T_FMT " pairs of sections "
                 "over %d servers",
                 pairs, w.pass);
    return OK;
}

void bbt_confcheck_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_check_config(bbt_confcheck, NULL, NULL, APR_HOOK_MIDDLE);
}
