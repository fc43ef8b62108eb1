/*
 * BBT362, a startup warning (bbt_confsec.h): routes or password providers
 * that a section merged after them replaces.
 *
 * A section that sets routes (or AuthBBTokenProvider) replaces those of
 * the sections merged before it (bbt_config_merge_dir), so for a request
 * the last section merged that sets them wins.  httpd merges, for a
 * request, the plain <Directory>s of its file (shortest first), then every
 * <DirectoryMatch> and <Directory ~> that matches, then the <Files> and
 * <FilesMatch>, then every <Location> that matches its URL in the order
 * they are written (a virtual host's after the main server's), and last
 * every <If>, <ElseIf> and <Else> of all of those and of the server.  So a
 * section is replaced by one merged after it whose place takes some of its
 * requests and is not narrower than its own: a broader <Location> written
 * after a narrower one; a <Location> covering a URL a <Directory> is served
 * at; a <DirectoryMatch> matching a <Directory>'s files; a <Files> inside a
 * broader <Directory> or at the top of a server, over a <Directory>; an
 * <If> inside a broader section or at the top of a server, over any.  A
 * stricter route for one repository then loses to the project's, and
 * AuthBBTokenProvider none to the broader section's passwords, with nothing
 * said.
 *
 * Which URLs a <Directory> is served at is for bbt_confmap.c to say; a
 * <Directory> or <Files> inside one matched by a wildcard is not related
 * to any <Location>.  A plain <Location> takes what httpd's location walk
 * gives it (bbt_wider), and a section matched by a regular expression or a
 * wildcard is compared as bbt_confpat.c says: one that may take the
 * narrower section's path or a path below it, unless it takes only paths
 * below it.
 *
 * The main server's sections are compared with each other once, in its
 * own pass; a virtual host's pass compares only the pairs that involve
 * something of its own (a section, or an Alias or DocumentRoot giving a
 * directory a URL): see bbt_check_merge_main.
 */
#include "httpd.h"
#include "http_config.h"
#include "apr_strings.h"

#include <string.h>
#include <strings.h>

#include "bbt_confsec.h"

/* The section being checked: a <Location>'s path (loc), or the directory
 * of a <Directory>, or of the <Directory> (or server) a <Files> is in. */
typedef struct {
    bbt_sec_t *sec;
    int at;    /* its index */
    int loc;   /* a URL, not a directory */
    int self;  /* loc: base itself is one of its URLs */
    int fresh; /* a main server's section in a virtual host's pass */
    const char *base, *under;
    const char *path; /* its path as httpd matches it: a <Location>'s as
                         written (slashes merged), a directory's base */
    const apr_array_header_t *urls; /* !loc: the directory's, or NULL */
} bbt_place_t;

/* How a section replaces the one being checked. */
typedef enum {
    BBT_REL_NONE,
    BBT_REL_LOC_AFTER, /* a <Location> written after a <Location> */
    BBT_REL_LOC_URL,   /* a <Location> over a directory's URL */
    BBT_REL_REGEXDIR,  /* a regular-expression <Directory> */
    BBT_REL_FILES,     /* a <Files> */
    BBT_REL_IF         /* an <If>, <ElseIf> or <Else> */
} bbt_rel_t;

/* What a replacement is found with: the URL it goes through, if any. */
typedef struct {
    const bbt_url_t *u;
    const bbt_sec_t *scope; /* a late section's section or server */
} bbt_found_t;

static int bbt_is_server(const bbt_sec_t *s)
{
    return !s || !s->node ||
           strcasecmp(s->node->directive, "<VirtualHost") == 0;
}

void bbt_merge_note(bbt_walk_t *w, bbt_sec_t *sec)
{
    const char *name = sec->node->directive, *a, *pat;
    int regex = strcasecmp(name, "<LocationMatch") == 0 ||
                strcasecmp(name, "<DirectoryMatch") == 0;

    if (strcasecmp(name, "<If") == 0 || strcasecmp(name, "<ElseIf") == 0 ||
        strcasecmp(name, "<Else") == 0) {
        sec->late = BBT_LATE_IF;
    } else if (strcasecmp(name, "<Files") == 0 ||
               strcasecmp(name, "<FilesMatch") == 0) {
        sec->late = BBT_LATE_FILES;
    } else if (strcasecmp(name, "<LocationMatch") == 0) {
        sec->kind = BBT_SEC_LOCATION;
    } else if (strcasecmp(name, "<DirectoryMatch") == 0) {
        sec->kind = BBT_SEC_DIRECTORY;
    }
    if (sec->path) {
        sec->spath = bbt_squeeze(w->p, sec->path);
        bbt_base(w->p, sec->spath, &sec->base, &sec->under);
        sec->self = sec->kind == BBT_SEC_DIRECTORY ||
                    strcmp(sec->base, sec->spath) == 0;
        return;
    }
    if (sec->kind == BBT_SEC_OTHER) {
        return;
    }
    a = bbt_args(w->p, sec->node);
    pat = ap_getword_conf(w->p, &a);
    if (!regex && strcmp(pat, "~") == 0) {
        pat = ap_getword_conf(w->p, &a);
        regex = 1;
    }
    /* A wildcard <Directory> matches leading components of the path, which
     * is not worked out here.  An empty path matches every URL, as a
     * regular expression and as a plain path (httpd compares none of its
     * characters), so it is compiled as the empty regular expression. */
    if (regex || sec->kind == BBT_SEC_LOCATION) {
        regex |= !*pat;
        sec->pat =
            bbt_pat_make(w->p, regex ? pat : bbt_squeeze(w->p, pat), regex);
    }
}

/* The section or server whose requests the <If> or <Files> q applies to:
 * the nearest <Location> or <Directory> around it, or its server. */
static const bbt_sec_t *bbt_scope(const bbt_sec_t *q)
{
    const bbt_sec_t *o = q->outer;

    while (!bbt_is_server(o) && o->kind == BBT_SEC_OTHER) {
        o = o->outer;
    }
    return o;
}

/* Is q sec, or inside it? */
static int bbt_inside(const bbt_sec_t *q, const bbt_sec_t *sec)
{
    for (; q; q = q->outer) {
        if (q == sec) {
            return 1;
        }
    }
    return 0;
}

/* Does <Location> or <Directory> q take base (if self) or a path under
 * it, and is not narrower than it?  path: the place's own, which q's being
 * equal to makes q a second section for the same path, not a broader one;
 * NULL for a directory's URL, which any <Location> taking base or all of
 * under replaces.  httpd takes a URL for a plain <Location> that begins
 * with its path where the path ends in a slash or the URL goes on with one
 * or ends (/x takes /x and /x/y, not /xy; /x/ takes /x/y, not /x), as
 * bbt_covers does, and a <Directory>'s path is its base (httpd adds the
 * slash).  Two such paths' URLs are nested or apart, so q takes every
 * one of the place's if it takes its own path. */
static int bbt_wider(const bbt_walk_t *w, const bbt_sec_t *q, const char *base,
                     const char *under, int self, const char *path)
{
    const char *qp;

    if (q->pat) {
        return bbt_pat_wider(w->pc, q->pat, base, under, self);
    }
    qp = q->kind == BBT_SEC_DIRECTORY ? q->base : q->spath;
    if (!qp) {
        return 0;
    }
    if (!path) {
        return bbt_covers(qp, base) || bbt_covers(qp, under);
    }
    return strcmp(qp, path) != 0 && bbt_covers(qp, path);
}

/* A URL of the directory being checked that <Location> q takes, if q may be
 * compared with it: q is the virtual host's, or the URL is. */
static const bbt_url_t *bbt_loc_url(const bbt_walk_t *w, const bbt_place_t *pl,
                                    const bbt_sec_t *q, int q_own)
{
    int k;

    for (k = 0; pl->urls && k < pl->urls->nelts; k++) {
        const bbt_url_t *u = &APR_ARRAY_IDX(pl->urls, k, bbt_url_t);

        if ((!pl->fresh || q_own || u->own) &&
            bbt_wider(w, q, u->url, u->under, 1, NULL)) {
            return u;
        }
    }
    return NULL;
}

/* Does the <If> q (in scope s) take requests of the place? */
static bbt_rel_t bbt_if_rel(const bbt_walk_t *w, const bbt_place_t *pl,
                            const bbt_sec_t *s, int q_own, bbt_found_t *f)
{
    if (bbt_inside(s, pl->sec) ||
        (!pl->loc && s == bbt_scope(pl->sec) && pl->sec->late)) {
        return BBT_REL_NONE;
    }
    if (bbt_is_server(s)) {
        return !pl->fresh || q_own ? BBT_REL_IF : BBT_REL_NONE;
    }
    if (s->kind == BBT_SEC_LOCATION) {
        if (pl->loc) {
            return (!pl->fresh || q_own) && bbt_wider(w, s, pl->base, pl->under,
                                                      pl->self, pl->path)
                       ? BBT_REL_IF
                       : BBT_REL_NONE;
        }
        return (f->u = bbt_loc_url(w, pl, s, q_own)) ? BBT_REL_IF
                                                     : BBT_REL_NONE;
    }
    if (!pl->loc) {
        return (!pl->fresh || q_own) &&
                       bbt_wider(w, s, pl->base, pl->under, 1, pl->path)
                   ? BBT_REL_IF
                   : BBT_REL_NONE;
    }
    /* Inside a <Directory>, over a <Location>: the <Directory>'s URLs. */
    if (s->spath && s->kind == BBT_SEC_DIRECTORY) {
        const apr_array_header_t *urls = bbt_urls(w, s, s->spath);
        int k;

        for (k = 0; k < urls->nelts; k++) {
            const bbt_url_t *u = &APR_ARRAY_IDX(urls, k, bbt_url_t);

            if ((!pl->fresh || q_own || u->own) &&
                bbt_covers(u->url, pl->base)) {
                f->u = u;
                return BBT_REL_IF;
            }
        }
    }
    return BBT_REL_NONE;
}

/* How q, at index i, replaces the settings of the place's section; what
 * it goes through in *f. */
static bbt_rel_t bbt_rel(const bbt_walk_t *w, const bbt_place_t *pl,
                         const bbt_sec_t *q, int i, bbt_found_t *f)
{
    int q_own = i >= w->nmain;

    ++*w->pairs;
    f->u = NULL;
    f->scope = NULL;
    if (q == pl->sec) {
        return BBT_REL_NONE;
    }
    if (q->late == BBT_LATE_IF) {
        f->scope = bbt_scope(q);
        return bbt_if_rel(w, pl, f->scope, q_own, f);
    }
    if (q->late == BBT_LATE_FILES) {
        const bbt_sec_t *s = bbt_scope(q);

        f->scope = s;
        if (pl->loc || pl->sec->late || (pl->fresh && !q_own) || s == pl->sec) {
            return BBT_REL_NONE;
        }
        return bbt_is_server(s) ||
                       (s->kind == BBT_SEC_DIRECTORY &&
                        bbt_wider(w, s, pl->base, pl->under, 1, pl->path))
                   ? BBT_REL_FILES
                   : BBT_REL_NONE;
    }
    if (q->kind == BBT_SEC_LOCATION) {
        if (!pl->loc) {
            return (f->u = bbt_loc_url(w, pl, q, q_own)) ? BBT_REL_LOC_URL
                                                         : BBT_REL_NONE;
        }
        return i > pl->at && (!pl->fresh || q_own) &&
                       bbt_wider(w, q, pl->base, pl->under, pl->self, pl->path)
                   ? BBT_REL_LOC_AFTER
                   : BBT_REL_NONE;
    }
    if (q->kind == BBT_SEC_DIRECTORY && q->pat && !pl->loc && !pl->sec->late &&
        (!pl->fresh || q_own) &&
        bbt_pat_wider(w->pc, q->pat, pl->base, pl->under, 1)) {
        return BBT_REL_REGEXDIR;
    }
    return BBT_REL_NONE;
}

/* The place of sec (at index at), or 0 if it has none compared here.
 * Its paths were worked out when it was collected: a place is made for
 * every pair of sections bbt_merge_late_applies compares, and allocates
 * nothing but a directory's URLs, once in a pass. */
static int bbt_place(const bbt_walk_t *w, bbt_sec_t *sec, int at, int fresh,
                     bbt_place_t *pl)
{
    const bbt_sec_t *holder = sec;

    memset(pl, 0, sizeof(*pl));
    pl->sec = sec;
    pl->at = at;
    pl->fresh = fresh;
    pl->self = 1;
    if (sec->late == BBT_LATE_FILES) {
        holder = bbt_scope(sec);
        if (bbt_is_server(holder)) {
            holder = sec;
            pl->base = pl->under = "/";
        } else if (!holder->spath || holder->kind != BBT_SEC_DIRECTORY) {
            return 0;
        } else {
            pl->base = holder->base;
            pl->under = holder->under;
        }
    } else if (sec->spath && !sec->late &&
               (sec->kind == BBT_SEC_LOCATION ||
                sec->kind == BBT_SEC_DIRECTORY)) {
        pl->base = sec->base;
        pl->under = sec->under;
        pl->self = sec->self;
        pl->loc = sec->kind == BBT_SEC_LOCATION;
    } else {
        return 0;
    }
    pl->path = pl->loc ? sec->spath : pl->base;
    if (!pl->loc) {
        pl->urls = bbt_urls(w, holder, pl->base);
    }
    return 1;
}

/* What of routes (BBT_SAID_ROUTES) and providers (BBT_SAID_PROVIDER)
 * sec sets and BBT362 has not said is replaced. */
static int bbt_unsaid(const bbt_sec_t *sec)
{
    return ((sec->routes ? BBT_SAID_ROUTES : 0) |
            (sec->provider ? BBT_SAID_PROVIDER : 0)) &
           ~sec->merge_said;
}

/* Which of want (bbt_said_t) q sets too. */
static int bbt_also_set(int want, const bbt_sec_t *q)
{
    return want & ((q->routes ? BBT_SAID_ROUTES : 0) |
                   (q->provider ? BBT_SAID_PROVIDER : 0));
}

/* Settings (bbt_said_t) in words. */
static const char *bbt_said_words(int set)
{
    if (set == (BBT_SAID_ROUTES | BBT_SAID_PROVIDER)) {
        return "routes and AuthBBTokenProvider";
    }
    return set == BBT_SAID_ROUTES ? "routes" : "AuthBBTokenProvider";
}

/* Where a section is written, for the message about another. */
static const char *bbt_named(apr_pool_t *p, const bbt_sec_t *q)
{
    const char *args = bbt_args(p, q->node);

    return apr_psprintf(p, "%s%s%s> (%s:%d)", q->node->directive,
                        *args ? " " : "", args, q->node->filename,
                        q->node->line_num);
}

/* Where the late section's scope is, and how it reaches the place. */
static const char *bbt_scope_words(const bbt_walk_t *w, const bbt_place_t *pl,
                                   const bbt_found_t *f)
{
    const bbt_sec_t *s = f->scope;
    const char *sn, *via = "";

    if (!s || !s->node) {
        return "at the top of the main server's configuration";
    }
    sn = bbt_named(w->p, s);
    if (bbt_is_server(s)) {
        return apr_psprintf(w->p, "at the top of %s", sn);
    }
    if (f->u) {
        via = apr_psprintf(w->p, "%s (%s maps it there)", f->u->url,
                           bbt_url_via(w, f->u));
    }
    if (s->kind == BBT_SEC_LOCATION && !pl->loc) {
        return apr_psprintf(w->p, "inside %s, which %s, %s%s", sn,
                            s->pat ? "may match a URL it is served at"
                                   : "covers a URL it is served at",
                            via, s->pat ? ", or one under it" : "");
    }
    if (s->kind == BBT_SEC_DIRECTORY && pl->loc) {
        return apr_psprintf(w->p,
                            "inside %s, served at %s, which covers its "
                            "path",
                            sn, via);
    }
    return apr_psprintf(w->p, "inside %s, which %s", sn,
                        s->pat ? (pl->loc ? "may match its path or URLs under "
                                            "it"
                                          : "may match its directory or one "
                                            "under it")
                        : pl->loc ? "covers its path"
                                  : "covers its directory");
}

/* What BBT362 says after the name of the place's section, q replacing it
 * as rel says. */
static const char *bbt_words(const bbt_walk_t *w, const bbt_place_t *pl,
                             const bbt_sec_t *q, bbt_rel_t rel,
                             const bbt_found_t *f, const char *what)
{
    const char *qn = bbt_named(w->p, q);

    switch (rel) {
    case BBT_REL_LOC_AFTER:
        return apr_psprintf(
            w->p,
            "sets %s, and %s, merged after it (httpd merges <Location>s in "
            "the order they are written, a virtual host's after the main "
            "server's), %s and sets %s too: the last merged wins, so that "
            "section's replace this one's for every request both take; write "
            "the narrower section after the broader one",
            what, qn,
            q->pat ? "may match its path or URLs under it" : "covers its path",
            what);
    case BBT_REL_LOC_URL:
        return apr_psprintf(
            w->p,
            "sets %s, and %s %s a URL it is served at, %s (%s maps it "
            "there)%s, and sets %s too: httpd merges every <Location> after "
            "every <Directory> and <Files>, and the last merged wins, so that "
            "section's replace this one's; set them in a <Location> for %s "
            "written after that one instead",
            what, qn, q->pat ? "may match" : "covers", f->u->url,
            bbt_url_via(w, f->u), q->pat ? " or one under it" : "", what,
            f->u->url);
    case BBT_REL_REGEXDIR:
        return apr_psprintf(
            w->p,
            "sets %s, and %s may match its directory or one under it and "
            "sets %s too: httpd merges every <DirectoryMatch> and <Directory "
            "~> after every plain <Directory>, wherever it is written, and "
            "the last merged wins, so that section's replace this one's for "
            "every request both take; leave this directory out of its "
            "pattern, or set them in a <Location> for its URL",
            what, qn, what);
    case BBT_REL_FILES:
        return apr_psprintf(
            w->p,
            "sets %s, and %s, %s, sets %s too: httpd merges every <Files> and "
            "<FilesMatch> after every <Directory>, wherever it is written, "
            "and the last merged wins, so for the files it matches that "
            "section's replace this one's; set them in a <Files> inside this "
            "section instead",
            what, qn, bbt_scope_words(w, pl, f), what);
    default:
        return apr_psprintf(
            w->p,
            "sets %s, and %s, %s, sets %s too: httpd merges every <If>, "
            "<ElseIf> and <Else> after every <Location>, wherever it is "
            "written, and the last merged wins, so for the requests its "
            "expression takes that section's replace this one's; set them "
            "outside the <If>, or leave this section's requests out of its "
            "expression",
            what, qn, bbt_scope_words(w, pl, f), what);
    }
}

/* BBT362 about the place's section for each section that replaces what
 * it sets: those at the indexes in also (if any), then those from index
 * from on.  The first to replace its routes and the first to replace its
 * providers are said (one section may do both), so that one replacing only
 * the providers does not hide another replacing the routes.  1 if its
 * routes were said to be replaced. */
static int bbt_check_place(const bbt_walk_t *w, const bbt_place_t *pl,
                           const apr_array_header_t *also, int from)
{
    int n = also ? also->nelts : 0, want = bbt_unsaid(pl->sec), k;

    for (k = 0; want && k < n + w->secs->nelts - from; k++) {
        int i = k < n ? APR_ARRAY_IDX(also, k, int) : from + k - n;
        const bbt_sec_t *q = APR_ARRAY_IDX(w->secs, i, const bbt_sec_t *);
        int set = bbt_also_set(want, q);
        bbt_found_t f;
        bbt_rel_t rel;

        if (!set || !(rel = bbt_rel(w, pl, q, i, &f))) {
            continue;
        }
        bbt_warn(w, pl->sec, "BBT362",
                 bbt_words(w, pl, q, rel, &f, bbt_said_words(set)));
        pl->sec->merge_said |= set;
        want &= ~set;
    }
    return (pl->sec->merge_said & BBT_SAID_ROUTES) != 0;
}

int bbt_check_merge(const bbt_walk_t *w, bbt_sec_t *sec, int at)
{
    bbt_place_t pl;

    if (!bbt_unsaid(sec) || !bbt_place(w, sec, at, 0, &pl)) {
        return (sec->merge_said & BBT_SAID_ROUTES) != 0;
    }
    return bbt_check_place(w, &pl, NULL, 0);
}

/* Does one of urls come from the virtual host's own mapping? */
static int bbt_own_url(const apr_array_header_t *urls)
{
    int k;

    for (k = 0; urls && k < urls->nelts; k++) {
        if (APR_ARRAY_IDX(urls, k, bbt_url_t).own) {
            return 1;
        }
    }
    return 0;
}

/* The indexes of the main server's <If>s (and <ElseIf>s, <Else>s) with
 * routes or providers inside a <Directory> the virtual host's own mapping
 * gives a URL, in this pass's pool. */
static apr_array_header_t *bbt_own_dir_ifs(const bbt_walk_t *w)
{
    apr_array_header_t *ifs = apr_array_make(w->pp, 1, sizeof(int));
    int i;

    for (i = 0; i < w->nmain; i++) {
        const bbt_sec_t *q = APR_ARRAY_IDX(w->secs, i, const bbt_sec_t *);
        const bbt_sec_t *s;

        if (q->late != BBT_LATE_IF || (!q->routes && !q->provider)) {
            continue;
        }
        s = bbt_scope(q);
        if (!bbt_is_server(s) && s->kind == BBT_SEC_DIRECTORY && s->spath &&
            bbt_own_url(bbt_urls(w, s, s->spath))) {
            APR_ARRAY_PUSH(ifs, int) = i;
        }
    }
    return ifs;
}

/* The main server's pass compared its sections with each other; what a
 * virtual host changes for them is its own sections, merged after them,
 * and the URLs its own Alias, ScriptAlias or DocumentRoot give the main
 * server's directories.  So a main server's section is compared with the
 * virtual host's sections, and with the main server's only where such a
 * URL relates them: a directory's place given one, with every section (a
 * <Location> over it, or an <If> inside one); a <Location>'s, with the
 * <If>s inside a <Directory> given one.  Two <Location>s, or sections
 * related by their paths alone, compare as they did, and a mapping another
 * virtual host had (its twin on another port, with the same DocumentRoot)
 * gives the URLs it gave there. */
void bbt_check_merge_main(const bbt_walk_t *w)
{
    int mains = bbt_map_own(w) && bbt_map_first(w), i;
    const apr_array_header_t *ifs;

    if (w->secs->nelts == w->nmain && !mains) {
        return;
    }
    ifs = mains ? bbt_own_dir_ifs(w) : NULL;
    for (i = 0; i < w->nmain; i++) {
        bbt_sec_t *sec = APR_ARRAY_IDX(w->secs, i, bbt_sec_t *);
        bbt_place_t pl;

        if (!bbt_unsaid(sec) || !bbt_place(w, sec, i, 1, &pl)) {
            continue;
        }
        if (pl.loc) {
            bbt_check_place(w, &pl, ifs, w->nmain);
        } else {
            bbt_check_place(w, &pl, NULL,
                            mains && bbt_own_url(pl.urls) ? 0 : w->nmain);
        }
    }
}

int bbt_merge_late_applies(const bbt_walk_t *w, const bbt_sec_t *sec)
{
    const bbt_sec_t *s;
    int i;

    if (!sec->late) {
        return 0;
    }
    s = bbt_scope(sec);
    /* The main server's sections apply in every virtual host too. */
    if (!w->vh && w->auth_vhosts) {
        return 1;
    }
    for (i = 0; i < w->secs->nelts; i++) {
        bbt_sec_t *t = APR_ARRAY_IDX(w->secs, i, bbt_sec_t *);
        bbt_place_t pl;
        bbt_found_t f;

        if (bbt_sets(t, BBT_HAS_AUTH) <= 0) {
            continue;
        }
        if (bbt_is_server(s) || bbt_inside(t, s) ||
            !bbt_place(w, t, i, 0, &pl) ||
            bbt_rel(w, &pl, sec, w->secs->nelts, &f)) {
            return 1;
        }
    }
    return 0;
}
