/*
 * BBT354, a startup warning (bbt_confsec.h): the Require lines httpd merges
 * for a section, as mod_authz_core does.
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
 * In a virtual host httpd merges the main server's <Location>s first and
 * the virtual host's after them (its <Directory>s among the main server's,
 * shortest first): a virtual host's section can replace the Require lines
 * of a main server's section there, so each virtual host judges the main
 * server's sections again, with its own present.
 *
 * Some sections cannot be placed among those whose Require lines they
 * replace: an <If>, <ElseIf> or <Else> is merged after every <Location>
 * (and one at the top of a server applies to every request), a <Files>
 * after every <Directory>, and a section matched by a wildcard or a
 * regular expression wherever it matches, which the walk does not
 * compute.  One whose own Require lines are all inside <Limit> is warned
 * about wherever a section of AuthType BBToken applies in its server: it
 * may be merged over that section and leave its other methods open.
 */
#include "httpd.h"
#include "http_config.h"
#include "apr_strings.h"

#include <string.h>
#include <strings.h>

#include "bbt_confsec.h"

/* What a <Limit> with no <LimitExcept> leaves open, and what to do. */
#define BBT_LIMIT_OPEN                                                         \
    ": methods not listed there need no login (httpd lets a push, a PUT or "   \
    "a DELETE in unasked): use <LimitExcept> or no <Limit>"

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

/* What BBT354 says of sec after its name, or NULL.  A section with no
 * Require of its own is named where it sets AuthType BBToken or routes,
 * and the section it takes its Require lines from is not named itself. */
static const char *bbt_limit_words(const bbt_walk_t *w, const bbt_sec_t *sec)
{
    bbt_req_t st, from;
    const char *why = "";

    if (!bbt_limit_only(w, sec, &st)) {
        return NULL;
    }
    if (!sec->require_all && !sec->limits) {
        if ((bbt_sets(sec, BBT_HAS_AUTH) <= 0 && !sec->routes) ||
            bbt_limit_only(w, st.from, &from)) {
            return NULL;
        }
        why = " (it has no Require lines of its own, so httpd gives it "
              "those)";
    } else if (!st.self) {
        why = apr_psprintf(w->p, " (%s %s>, merged after it, replaces its own)",
                           st.from->node->directive,
                           bbt_args(w->p, st.from->node));
    }
    return apr_pstrcat(w->p, "is AuthType BBToken with Require lines only in ",
                       st.limits, why, BBT_LIMIT_OPEN, NULL);
}

/* The first section of AuthType BBToken of this pass's server (the main
 * server's included, in a virtual host), or NULL. */
static const bbt_sec_t *bbt_first_auth(const bbt_walk_t *w)
{
    int i;

    for (i = 0; i < w->secs->nelts; i++) {
        const bbt_sec_t *q = APR_ARRAY_IDX(w->secs, i, const bbt_sec_t *);

        if (bbt_sets(q, BBT_HAS_AUTH) > 0) {
            return q;
        }
    }
    return NULL;
}

/* What BBT354 says of a section the walk cannot place (see the top of the
 * file) whose own Require lines are all inside <Limit>, or NULL.  One that
 * is AuthType BBToken itself, its own or inherited, is judged exactly
 * instead; one with AuthMerging And or Or only adds to the Require lines
 * it is merged over, which keep covering the methods they covered. */
static const char *bbt_unplaced_words(const bbt_walk_t *w, const bbt_sec_t *sec)
{
    const bbt_sec_t *a;

    if ((sec->kind != BBT_SEC_OTHER && sec->path) || !sec->limits ||
        sec->require_all || sec->merging > 0 || bbt_has(w, sec, BBT_HAS_AUTH) ||
        !(a = bbt_first_auth(w))) {
        return NULL;
    }
    return apr_psprintf(
        w->p,
        "has Require lines only in %s, and may be merged over a section of "
        "AuthType BBToken (%s %s> at %s:%d is one) and replace its Require "
        "lines: an <If> is merged after every <Location>, a <Files> after "
        "every <Directory>, and where a wildcard or a regular expression "
        "matches is not worked out here" BBT_LIMIT_OPEN,
        sec->limits, a->node->directive, bbt_args(w->p, a->node),
        a->node->filename, a->node->line_num);
}

/* BBT354 about sec, what is said after its name prefixed by where (the
 * virtual host, or ""). */
static void bbt_say_limit(const bbt_walk_t *w, const bbt_sec_t *sec,
                          const char *where, const char *what)
{
    bbt_warn(w, sec, "BBT354", apr_pstrcat(w->p, where, what, NULL));
}

void bbt_check_limit(const bbt_walk_t *w, bbt_sec_t *sec)
{
    const char *what = bbt_limit_words(w, sec);

    if (!what) {
        what = bbt_unplaced_words(w, sec);
    }
    if (what) {
        bbt_say_limit(w, sec, "", what);
        sec->limit_said = 1;
    }
}

/* The virtual host of this pass in words: its address, ServerName and
 * where it is written. */
const char *bbt_vhost_words(const bbt_walk_t *w)
{
    const ap_directive_t *v = w->vh->node, *d;
    const char *name = "";

    for (d = v->first_child; d; d = d->next) {
        if (strcasecmp(d->directive, "ServerName") == 0) {
            name = apr_pstrcat(w->p, "ServerName ", d->args, ", ", NULL);
            break;
        }
    }
    return apr_psprintf(w->p, "in <VirtualHost %s> (%sat %s:%d) ",
                        bbt_args(w->p, v), name, v->filename, v->line_num);
}

/* A main server's section the main server's pass said nothing of, judged
 * with the virtual host's sections merged after it: each virtual host
 * that leaves it open is named.  A section that cannot be placed is named
 * once, at the first virtual host with a section of AuthType BBToken. */
void bbt_check_limit_main(const bbt_walk_t *w)
{
    int i;

    for (i = 0; i < w->nmain; i++) {
        bbt_sec_t *sec = APR_ARRAY_IDX(w->secs, i, bbt_sec_t *);
        const char *what;

        if (sec->limit_said) {
            continue;
        }
        what = bbt_limit_words(w, sec);
        if (!what && (what = bbt_unplaced_words(w, sec)) != NULL) {
            sec->limit_said = 1;
        }
        if (what) {
            bbt_say_limit(w, sec, bbt_vhost_words(w), what);
        }
    }
}
