/*
 * What a destination route's options ask of a COPY's or MOVE's
 * Destination beyond its permission (bbt_destcheck.h): new, that nothing is
 * there yet; git-object, that what is moved there is the loose git object
 * its name says.  Only mod_dav's look-up of the Destination knows what its
 * path maps to: it is refused there, once httpd's walks have found the
 * file, and mod_dav answers the COPY or MOVE with the look-up's status.
 * post_perdir_config runs for that look-up even where httpd skips its
 * authentication (a sub-request whose configuration is its parent's).
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bbt_config.h"
#include "bbt_destcheck.h"
#include "bbt_gitobj.h"
#include "bbt_request.h"
#include "bbt_routing.h"
#include "bbt_rules.h"

APLOG_USE_MODULE(bbtoken);

/* What a git-object check found, for after the move (on the COPY's or
 * MOVE's pool). */
#define BBT_DESTCHECK_KEY "bbtoken-destcheck-moved"
typedef struct {
    const char *dest; /* the Destination's file, as mod_dav_fs names it */
    const char *id;   /* the object it names */
    dev_t dev;        /* the upload checked, held open (bbt_destcheck_keep) */
    ino_t ino;
    int was;         /* a file was there at the look-up: */
    struct stat old; /* that file */
} bbt_destcheck_moved_t;

/* Whether a and b are one file, unchanged: a file made since under a
 * freed inode's number has a later ctime, as has one renamed there (to
 * the clock's tick: where that is coarse, its size, mtime and links
 * must match too). */
static int bbt_destcheck_same(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
           a->st_ctim.tv_nsec == b->st_ctim.tv_nsec &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_size == b->st_size && a->st_nlink == b->st_nlink;
}

/* The object id a Destination .../XX/YYYY... names, into id (65 bytes):
 * its last two segments joined, 2 and 38 or 62 characters; or NULL. */
static const char *bbt_destcheck_id(const char *uri, char *id)
{
    const char *last = strrchr(uri, '/'), *prev;
    size_t n;

    if (!last || last - uri < 3 || last[-3] != '/') {
        return NULL;
    }
    prev = last - 2;
    n = strlen(last + 1);
    if (n != 38 && n != 62) {
        return NULL;
    }
    memcpy(id, prev, 2);
    memcpy(id + 2, last + 1, n + 1);
    return id;
}

static apr_status_t bbt_destcheck_close(void *fd)
{
    close((int)(intptr_t)fd);
    return APR_SUCCESS;
}

static int bbt_destcheck(request_rec *r)
{
    const bbt_dir_conf_t *conf;
    const char *why;
    char id[65];
    struct stat read;
    bbt_match_t m;
    int kept = -1;

    if (!bbt_routing_is_dest_lookup(r)) {
        return OK;
    }
    /* The look-up's own section is the module's, or the COPY's or MOVE's
     * is, whose routes took the Destination: routes given at server level
     * reach a look-up in another tree too, and what they would ask of it
     * is the module's to ask only then. */
    conf = bbt_config_dir(r);
    if (!conf || !bbt_rules_has_dest_checks(conf->rules) ||
        !(bbt_config_governs(r, conf) || bbt_request_is_ours(r->main))) {
        return OK;
    }
    /* The parent matched its Destination to a route: read as httpd read it
     * for this look-up, it matches none here, and what a route would ask
     * of it cannot be said to hold. */
    if (bbt_rules_match(conf->rules, r->method, r->uri, r->args, 1, &m) !=
        BBT_ROUTE_MATCH) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "BBT048: %s onto %s refused (403): no destination "
                      "route of its section takes it as httpd reads it",
                      r->method, r->uri);
        return HTTP_FORBIDDEN;
    }
    if (bbt_rule_new(m.rule) && r->finfo.filetype != APR_NOFILE) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "BBT046: %s onto %s refused (412): it exists, and "
                      "route %s takes only a new Destination",
                      r->method, r->uri, bbt_rule_origin(m.rule));
        return HTTP_PRECONDITION_FAILED;
    }
    if (!bbt_rule_git_object(m.rule)) {
        return OK;
    }
    why = bbt_destcheck_id(r->uri, id)
              ? bbt_gitobj_check_keep(r->main->filename, id, &read, &kept)
              : "its Destination names no object (objects/XX/YYYY...)";
    if (!why && r->filename) {
        bbt_destcheck_moved_t *mv = apr_palloc(r->main->pool, sizeof(*mv));

        /* The upload checked stays open until the COPY or MOVE is done:
         * deleted and replaced by another PUT before mod_dav's rename, its
         * inode freed could be given to the replacement, whose number
         * would then pass for the file checked after the move. */
        apr_pool_cleanup_register(r->main->pool, (void *)(intptr_t)kept,
                                  bbt_destcheck_close, apr_pool_cleanup_null);
        kept = -1;

        /* Where httpd's walk stopped at a file, or at a directory that is
         * not there, the rest of the path is path_info: mod_dav_fs moves
         * to both joined (or not at all), and r->filename alone is
         * another file, which is none of this request's to remove. */
        mv->dest = apr_pstrcat(r->main->pool, r->filename, r->path_info, NULL);
        mv->id = apr_pstrdup(r->main->pool, id);
        mv->dev = read.st_dev;
        mv->ino = read.st_ino;
        /* What is there now stays unless this request replaces it: if
         * mod_dav refuses (Overwrite: F, a lock, an If) or fails before
         * it moves anything, the file there is no doing of its. */
        mv->was = lstat(mv->dest, &mv->old) == 0;
        apr_pool_userdata_setn(mv, BBT_DESTCHECK_KEY, NULL, r->main->pool);
    }
    if (kept >= 0) {
        close(kept);
    }
    if (why) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "BBT047: %s of %s onto %s refused (422): it is not the "
                      "git object its Destination names (route %s): %s",
                      r->method, r->main->uri, r->uri, bbt_rule_origin(m.rule),
                      why);
        return HTTP_UNPROCESSABLE_ENTITY;
    }
    return OK;
}

/* Renames from to to unless something is at to, in one step: a rename
 * without RENAME_NOREPLACE would replace it, and where the filesystem has
 * no such rename, link does not (and the name from goes after). */
static apr_status_t bbt_destcheck_put_back(const char *from, const char *to)
{
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0) {
        return APR_SUCCESS;
    }
    if (errno != EINVAL && errno != ENOSYS) {
        return errno;
    }
    if (link(from, to) != 0) {
        return errno;
    }
    unlink(from);
    return APR_SUCCESS;
}

/* The file at the Destination, read and found not to be the object, is
 * removed, and only it: by then another request's MOVE of the object may
 * have renamed the object over it (two clients pushing one commit), and
 * an unlink of the name would remove that.  So whatever is there is taken
 * aside first, in one rename, under a name of its own in the same
 * directory (git's tmp_obj_, which git prune removes if it is left
 * there), and read again: removed unless it is the object, which is put
 * back unless something has come there since.  It is judged by what it
 * holds alone: its inode's number may be the checked upload's, freed and
 * given to the next file made, and the file there at the look-up was not
 * there when read (one put back since has changed). */
static void bbt_destcheck_remove(request_rec *r, const bbt_destcheck_moved_t *m)
{
    const char *slash = strrchr(m->dest, '/');
    const char *left = NULL, *removed = NULL;
    char *aside = NULL;
    apr_file_t *f;
    apr_status_t rv = APR_EINVAL;

    if (slash) {
        aside = apr_pstrcat(
            r->pool,
            apr_pstrmemdup(r->pool, m->dest, (apr_size_t)(slash - m->dest + 1)),
            "tmp_obj_bbtoken_XXXXXX", NULL);
        rv = apr_file_mktemp(&f, aside,
                             APR_FOPEN_CREATE | APR_FOPEN_READ |
                                 APR_FOPEN_WRITE | APR_FOPEN_EXCL,
                             r->pool);
    }
    if (rv == APR_SUCCESS) {
        apr_file_close(f);
        rv = rename(m->dest, aside) == 0 ? APR_SUCCESS : errno;
        if (rv != APR_SUCCESS) {
            unlink(aside);
        }
    }
    if (APR_STATUS_IS_ENOENT(rv)) {
        left = "it was gone before it could be removed";
    } else if (rv != APR_SUCCESS) {
        removed = "it could not be removed: remove it";
    } else if (!bbt_gitobj_check(aside, m->id, NULL)) {
        rv = bbt_destcheck_put_back(aside, m->dest);
        if (rv == APR_SUCCESS) {
            left = "the object took its place before it could be removed: "
                   "left there";
        } else {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                          "BBT057: %s %s: %s was not the file checked as the "
                          "git object its name says, and the object took its "
                          "place before it could be removed; taken aside to "
                          "%s, it could not be put back",
                          r->method, r->uri, m->dest, aside);
        }
    } else if (unlink(aside) == 0) {
        removed = "removed";
    } else {
        rv = errno;
        removed =
            apr_psprintf(r->pool, "it could not be removed: remove %s", aside);
    }
    if (removed) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      "BBT049: %s %s: %s is not the file checked as the git "
                      "object its name says (replaced between the check and "
                      "the move): %s",
                      r->method, r->uri, m->dest, removed);
    } else if (left) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "BBT056: %s %s: %s was not the file checked as the git "
                      "object its name says (replaced between the check and "
                      "the move), and %s",
                      r->method, r->uri, m->dest, left);
    }
}

/* Once the COPY or MOVE is done: what its Destination holds is the very
 * file that was checked (a rename keeps its inode), not one its writer put
 * under the upload's name between the check and mod_dav's rename (a PUT
 * racing the MOVE).  One that is not, and is not the object either, is
 * removed; the file that was there at the look-up, unchanged, is left
 * (whatever the answer says: an ErrorDocument may have changed it). */
static int bbt_destcheck_after(request_rec *r)
{
    bbt_destcheck_moved_t *m = NULL;
    struct stat now;

    if (r->main || r->prev ||
        (r->method_number != M_MOVE && r->method_number != M_COPY) ||
        apr_pool_userdata_get((void **)&m, BBT_DESTCHECK_KEY, r->pool) !=
            APR_SUCCESS ||
        !m || lstat(m->dest, &now) != 0 ||
        (m->was && bbt_destcheck_same(&now, &m->old)) ||
        (now.st_dev == m->dev && now.st_ino == m->ino)) {
        return DECLINED;
    }
    /* Another file than the one checked (or a copy, where mod_dav could
     * not rename): read again, and removed unless it is the object. */
    if (bbt_gitobj_check(m->dest, m->id, NULL)) {
        bbt_destcheck_remove(r, m);
    }
    return DECLINED;
}

/* mod_dav writes a PUT with a Content-Range into the file already there,
 * in place: into an upload after it was checked and moved into objects/
 * (its inode), at any time after.  Where the module's routes check what
 * is moved (git-object), such a PUT is refused. */
static int bbt_destcheck_range(request_rec *r)
{
    const bbt_dir_conf_t *conf;

    if (r->main || r->method_number != M_PUT ||
        !apr_table_get(r->headers_in, "Content-Range")) {
        return OK;
    }
    conf = bbt_config_dir(r);
    if (!conf || !bbt_rules_has_dest_checks(conf->rules) ||
        !bbt_config_governs(r, conf)) {
        return OK;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "BBT055: PUT %s with a Content-Range refused (400): it "
                  "would write into a file in place, where routes check what "
                  "is moved",
                  r->uri);
    apr_table_setn(r->notes, "error-notes",
                   "A PUT with a Content-Range is not taken here: send the "
                   "whole file.");
    return bbt_request_refused_early(r, HTTP_BAD_REQUEST);
}

void bbt_destcheck_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_post_perdir_config(bbt_destcheck, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_perdir_config(bbt_destcheck_range, NULL, NULL,
                               APR_HOOK_MIDDLE);
    ap_hook_log_transaction(bbt_destcheck_after, NULL, NULL,
                            APR_HOOK_REALLY_FIRST);
}
