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
 * <Limit> containers has no requirement at all for the methods they do
 * not list: mod_authz_core grants those without a login (a push, a PUT),
 * the trap of old WebDAV and Subversion how-tos.  <LimitExcept> lists the
 * methods it leaves open, so it is taken as meant.  The Require lines
 * judged are those httpd ends with for the section's path: a section
 * without any takes those of the sections merged before it (a <Location>
 * of a leading part of its path), one with AuthMerging And or Or adds its
 * own to them (a method needs a login if any of them covers it), and a
 * later one replaces them.
 *
 * mod_authz_svn's authorization runs before mod_authz_core's and grants on
 * its access file alone, ending the phase: in a section of AuthType BBToken
 * with AuthzSVNAccessFile (or AuthzSVNReposRelativeAccessFile), Require
 * bbtoken never runs for a password user (AuthBBTokenProvider), whom only
 * the access file then judges.  Tokens are still judged by the module's
 * gate, which runs before it, and then by the access file too: without
 * passwords the pair is path-based authorization for tokens, not a trap.
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
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_strings.h"

#include <string.h>
#include <strings.h>

#include "bbt_confcheck.h"

APLOG_USE_MODULE(bbtoken);

typedef enum { BBT_SEC_LOCATION, BBT_SEC_DIRECTORY, BBT_SEC_OTHER } bbt_kind_t;

/* What bbt_has looks for. */
typedef enum {
    BBT_HAS_AUTH,
    BBT_HAS_ROUTES,
    BBT_HAS_SVNAUTHZ,
    BBT_HAS_PROVIDER,
    BBT_HAS_FAKEBASIC,
    BBT_HAS_AUTHNAME
} bbt_want_t;

/* What one section (or server) sets itself. */
typedef struct bbt_sec {
    const ap_directive_t *node;  /* NULL for a server */
    const struct bbt_sec *outer; /* the section or server around it */
    bbt_kind_t kind;
    const char *path;   /* a plain path (no regex), or NULL */
    const char *auth;   /* AuthType, or NULL */
    int authname;       /* sets AuthName */
    int routes;         /* sets BBTokenRoute(s) */
    int svnauthz;       /* sets an access file of mod_authz_svn */
    int provider;       /* AuthBBTokenProvider: 1 takes passwords, -1 none */
    int fakebasic;      /* SSLOptions: 1 FakeBasicAuth on, -1 off, 0 unset */
    int require_all;    /* a Require outside any <Limit> */
    int merging;        /* AuthMerging: 1 And or Or, -1 Off, 0 unset */
    const char *limits; /* the <Limit>s holding Require lines, in words */
    const ap_directive_t *last_limit; /* the last one added to limits */
    const ap_directive_t *rip_header; /* a server's RemoteIPHeader */
    int rip_proxies; /* a server names mod_remoteip's proxies */
} bbt_sec_t;

/* Containers whose directives belong to the section around them. */
static int bbt_transparent(const char *name)
{
    return strcasecmp(name, "<Limit") == 0 ||
           strcasecmp(name, "<LimitExcept") == 0 ||
           strncasecmp(name, "<Require", 8) == 0 ||
           strncasecmp(name, "<AuthnProviderAlias", 19) == 0;
}

/* The arguments of a container, without its closing '>'. */
static char *bbt_args(apr_pool_t *p, const ap_directive_t *d)
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

/* 1 if section path q covers p: the same, or a leading part of it that
 * ends at a slash. */
static int bbt_covers(const char *q, const char *p)
{
    size_t n = strlen(q);

    return strncmp(q, p, n) == 0 &&
           (p[n] == '\0' || p[n] == '/' || (n > 0 && q[n - 1] == '/'));
}

typedef struct {
    apr_pool_t *p;
    server_rec *s;
    apr_array_header_t *secs; /* bbt_sec_t *, every section seen */
} bbt_walk_t;

/* Does sec set what want names itself: AuthType BBToken (-1 for another
 * AuthType), routes, an access file of mod_authz_svn, password providers,
 * FakeBasicAuth (-1 for SSLOptions without it), or AuthName?  0 if it sets
 * nothing of the kind. */
static int bbt_sets(const bbt_sec_t *sec, bbt_want_t want)
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
    default:
        return sec->svnauthz;
    }
}

/* Does sec, or anything it inherits from, have what want names? */
static int bbt_has(const bbt_walk_t *w, const bbt_sec_t *sec, bbt_want_t want)
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
        APR_ARRAY_PUSH(w->secs, bbt_sec_t *) = sec;
        bbt_collect(w, d->first_child, sec);
    }
}

/* The Require lines in effect for a section's path, as mod_authz_core
 * merges them. */
typedef struct {
    int any;               /* some Require applies */
    int all;               /* one of them covers every method */
    int self;              /* the section's own are among them */
    const char *limits;    /* the <Limit>s holding the rest, in words */
    const bbt_sec_t *from; /* the section whose lines replaced those before */
} bbt_req_t;

/* Merge what sec sets into st as merge_authz_core_dir_config does: with no
 * Require of its own (and no AuthMerging Off) it keeps those before it;
 * with AuthMerging And or Or it adds its own, and a method then needs a
 * login where any of them covers it; otherwise its own replace them. */
static void bbt_req_merge(apr_pool_t *p, bbt_req_t *st, const bbt_sec_t *sec,
                          const bbt_sec_t *self)
{
    const char *where = sec->limits;

    if (!sec->require_all && !sec->limits) {
        if (sec->merging < 0) {
            memset(st, 0, sizeof(*st));
            st->from = sec;
        }
        return;
    }
    if (sec->merging <= 0 || !st->any) {
        memset(st, 0, sizeof(*st));
        st->from = sec;
    }
    st->any = 1;
    st->all |= sec->require_all;
    st->self |= sec == self;
    if (!where) {
        return;
    }
    if (sec != self) {
        where =
            apr_psprintf(p, "%s of %s %s> in %s", where, sec->node->directive,
                         bbt_args(p, sec->node), sec->node->filename);
    }
    st->limits =
        st->limits ? apr_pstrcat(p, st->limits, ", ", where, NULL) : where;
}

/* Directories are merged shortest first: the length without a trailing
 * slash orders those covering one path. */
static size_t bbt_dirlen(const char *path)
{
    size_t n = strlen(path);

    return n && path[n - 1] == '/' ? n - 1 : n;
}

/* Merge into st the sections httpd merges for sec's path, in its order:
 * the section around it first (a <Files> inside a <Directory>), then each
 * <Location> covering the path in the order written (the main server's
 * before a virtual host's), or each <Directory> covering it, shortest
 * first. */
static void bbt_req_walk(const bbt_walk_t *w, const bbt_sec_t *sec,
                         const bbt_sec_t *self, bbt_req_t *st)
{
    const bbt_sec_t *o = sec->outer;
    size_t len = 0, next;
    int i;

    if (o && o->node && strcasecmp(o->node->directive, "<VirtualHost") != 0) {
        bbt_req_walk(w, o, self, st);
    }
    if (sec->kind == BBT_SEC_OTHER || !sec->path) {
        bbt_req_merge(w->p, st, sec, self);
        return;
    }
    do {
        next = (size_t)-1;
        for (i = 0; i < w->secs->nelts; i++) {
            const bbt_sec_t *q = APR_ARRAY_IDX(w->secs, i, const bbt_sec_t *);
            size_t n;

            if (q->kind != sec->kind || !q->path ||
                !bbt_covers(q->path, sec->path)) {
                continue;
            }
            n = sec->kind == BBT_SEC_DIRECTORY ? bbt_dirlen(q->path) : 0;
            if (n == len) {
                bbt_req_merge(w->p, st, q, self);
            } else if (n > len && n < next) {
                next = n;
            }
        }
        len = next;
    } while (next != (size_t)-1);
}

/* Is sec AuthType BBToken with Require lines, its own or not, all inside
 * <Limit>?  st says which. */
static int bbt_limit_only(const bbt_walk_t *w, const bbt_sec_t *sec,
                          bbt_req_t *st)
{
    memset(st, 0, sizeof(*st));
    bbt_req_walk(w, sec, sec, st);
    return st->any && !st->all && bbt_has(w, sec, BBT_HAS_AUTH);
}

static void bbt_warn(const bbt_walk_t *w, const bbt_sec_t *sec, const char *id,
                     const char *what)
{
    const ap_directive_t *d = sec->node;

    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, w->s, "%s: %s:%d: %s %s> %s", id,
                 d->filename, d->line_num, d->directive, bbt_args(w->p, d),
                 what);
}

/* BBT354.  A section with no Require of its own is named where it sets
 * AuthType BBToken or routes, and the section it takes its Require lines
 * from is not named itself. */
static void bbt_check_limit(const bbt_walk_t *w, const bbt_sec_t *sec)
{
    bbt_req_t st, from;
    const char *why = "";

    if (!bbt_limit_only(w, sec, &st)) {
        return;
    }
    if (!sec->require_all && !sec->limits) {
        if ((bbt_sets(sec, BBT_HAS_AUTH) <= 0 && !sec->routes) ||
            bbt_limit_only(w, st.from, &from)) {
            return;
        }
        why = " (it has no Require lines of its own, so httpd gives it "
              "those)";
    } else if (!st.self) {
        why = apr_psprintf(w->p, " (%s %s>, merged after it, replaces its own)",
                           st.from->node->directive,
                           bbt_args(w->p, st.from->node));
    }
    bbt_warn(w, sec, "BBT354",
             apr_pstrcat(w->p,
                         "is AuthType BBToken with Require lines only in ",
                         st.limits, why,
                         ": methods not listed there need no login (httpd "
                         "lets a push, a PUT or a DELETE in unasked): use "
                         "<LimitExcept> or no <Limit>",
                         NULL));
}

/* Check the sections of one server: top is its first directive, outer the
 * server's own settings (and the main server's, for a virtual host). */
static void bbt_check_server(bbt_walk_t *w, const ap_directive_t *top,
                             const bbt_sec_t *outer)
{
    int i, first = w->secs->nelts;

    bbt_collect(w, top, outer);
    for (i = first; i < w->secs->nelts; i++) {
        const bbt_sec_t *sec = APR_ARRAY_IDX(w->secs, i, const bbt_sec_t *);

        if (sec->routes && !bbt_has(w, sec, BBT_HAS_AUTH)) {
            bbt_warn(w, sec, "BBT352",
                     "sets routes, but is not AuthType BBToken: they do "
                     "nothing there (put AuthType BBToken in the same "
                     "section)");
        }
        if (sec->auth && strcasecmp(sec->auth, "BBToken") == 0 &&
            !bbt_has(w, sec, BBT_HAS_ROUTES)) {
            bbt_warn(w, sec, "BBT353",
                     "is AuthType BBToken without routes: every token is "
                     "refused there (403); set BBTokenRoutes, or "
                     "BBTokenRoutes none if that is meant");
        }
        /* The realm of the challenge: without it every request there is
         * 500 (BBT030), as mod_auth_basic's are.  An <If> inside, or a
         * .htaccess, may set it, which this walk does not read. */
        if (sec->auth && strcasecmp(sec->auth, "BBToken") == 0 &&
            !bbt_has(w, sec, BBT_HAS_AUTHNAME)) {
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

static int bbt_confcheck(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                         server_rec *s)
{
    bbt_walk_t w;
    bbt_sec_t main_srv, *vh;
    const ap_directive_t *d;
    int n, said;

    (void)pconf;
    (void)plog;
    memset(&main_srv, 0, sizeof(main_srv));
    main_srv.kind = BBT_SEC_OTHER;
    w.p = ptemp;
    w.s = s;
    w.secs = apr_array_make(ptemp, 16, sizeof(bbt_sec_t *));
    bbt_own(ptemp, ap_conftree, &main_srv, NULL);
    bbt_check_server(&w, ap_conftree, &main_srv);
    /* A virtual host also sees the main server's sections. */
    n = w.secs->nelts;
    said =
        bbt_check_remoteip(&w, &main_srv, NULL, 0, bbt_any_auth(&w, &main_srv));
    for (d = ap_conftree; d; d = d->next) {
        if (strcasecmp(d->directive, "<VirtualHost") != 0) {
            continue;
        }
        vh = apr_pcalloc(ptemp, sizeof(*vh));
        vh->node = d;
        vh->kind = BBT_SEC_OTHER;
        vh->outer = &main_srv;
        bbt_own(ptemp, d->first_child, vh, NULL);
        w.secs->nelts = n;
        bbt_check_server(&w, d->first_child, vh);
        bbt_check_vhost_fakebasic(&w, vh, n);
        bbt_check_remoteip(&w, vh, &main_srv, said,
                           bbt_any_auth(&w, vh) ||
                               bbt_sets(&main_srv, BBT_HAS_AUTH) > 0);
    }
    return OK;
}

void bbt_confcheck_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_check_config(bbt_confcheck, NULL, NULL, APR_HOOK_MIDDLE);
}
