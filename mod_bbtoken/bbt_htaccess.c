/*
 * The module's sections take no .htaccess file (bbt_htaccess.h).
 *
 * A writer of a tree the module guards chooses its files' names and
 * contents (mod_dav), and a .htaccess among them is obeyed wherever
 * AllowOverride lets any class in.  The module's own directives refuse
 * .htaccess, but httpd's cannot be made to, and an <If> section in one is
 * merged after every <Location>: `<If "true">` around `AuthType None` and
 * `Require all granted` (AllowOverride AuthConfig) opens even a <Location>
 * of AuthType BBToken to anyone, and FileInfo's SetHandler would run what
 * was uploaded.  So a request in a section with routes to which a
 * .htaccess file applied is refused (500, BBT045), whatever the file says:
 * AllowOverride None is the configuration that works.  The sections
 * without routes (the REST API's, the page's) serve no user's files.
 * A section is the module's by routes of its own, which no .htaccess can
 * take away, or by AuthType BBToken, which an <If> in one can: so the
 * AuthType that the server's configuration and its <Location>s give the
 * request counts too (bbt_config_governs).  Routes given at server level
 * are merged into every other tree of the server as well, whose
 * .htaccess files are not the module's to refuse.
 *
 * The refusal's own page is not the file's to choose either (an
 * ErrorDocument of its own, a Header): it is made from the server's
 * configuration and the <Location>s alone, sandboxed.
 *
 * httpd keeps what a request's walk read in r->htaccess: an entry for
 * each directory it looked in, with the file's configuration, or none
 * where there was no file.  A sub-request or an internal redirect starts
 * with the list of the request before it, so only the directories above
 * this request's own file count.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_request.h"

#include <string.h>

#include "bbt_config.h"
#include "bbt_htaccess.h"
#include "bbt_private.h"
#include "bbt_request.h"

APLOG_USE_MODULE(bbtoken);

/* Whether the directory dir (as the walk named it, with or without its
 * final slash) holds file, or is it. */
static int bbt_htaccess_above(const char *dir, const char *file)
{
    size_t n = strlen(dir);

    while (n > 0 && dir[n - 1] == '/') {
        n--;
    }
    /* The root ("/", n 0) holds every absolute path. */
    return strncmp(file, dir, n) == 0 && (file[n] == '\0' || file[n] == '/');
}

/* The directory of a .htaccess file that applied to r, one above r's file
 * (r->htaccess, as r's walk left it), or NULL. */
static const char *bbt_htaccess_applies(const request_rec *r)
{
    const struct htaccess_result *h;

    if (!r->filename) {
        return NULL;
    }
    for (h = r->htaccess; h; h = h->next) {
        if (h->htaccess && h->dir && bbt_htaccess_above(h->dir, r->filename)) {
            return h->dir;
        }
    }
    return NULL;
}

/* Before r is refused for it: r's configuration without the directory
 * walk's (the server's and the <Location>s'), and the sandbox, so that the
 * file chooses nothing of the refusal's page. */
static void bbt_htaccess_forget(request_rec *r)
{
    r->per_dir_config = r->server->lookup_defaults;
    (void)ap_location_walk(r);
    bbt_private_sandbox_always(r);
}

static int bbt_htaccess_check(request_rec *r)
{
    const bbt_dir_conf_t *conf;
    const char *dir;

    if (!r->htaccess) {
        return OK;
    }
    conf = bbt_config_dir(r);
    if (!conf || !conf->rules || !(dir = bbt_htaccess_applies(r)) ||
        !bbt_config_governs(r, conf)) {
        return OK;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  "BBT045: %s is served by routes, and a .htaccess file in "
                  "%s applies to it: refused (500).  A writer of the tree "
                  "could have written it, and an <If> in it overrides even a "
                  "<Location>: set AllowOverride None there and move what it "
                  "says into the server's configuration",
                  r->uri, dir);
    bbt_htaccess_forget(r);
    return bbt_request_refused_early(r, HTTP_INTERNAL_SERVER_ERROR);
}

void bbt_htaccess_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_post_perdir_config(bbt_htaccess_check, NULL, NULL, APR_HOOK_FIRST);
}
