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

APLOG_USE_MODULE(bbtoken);

/* Whether the directory dir (as the walk named it, with or without its
 * final slash) holds file, or is it. */
static int bbt_htaccess_above(const char *dir, const char *file)
{
    size_t n = strlen(dir);

    if (n > 1 && dir[n - 1] == '/') {
        n--;
    }
    return strncmp(file, dir, n) == 0 && (file[n] == '\0' || file[n] == '/');
}

static int bbt_htaccess_check(request_rec *r)
{
    const struct htaccess_result *h;
    const bbt_dir_conf_t *conf;

    if (!r->htaccess || !r->filename) {
        return OK;
    }
    conf = bbt_config_dir(r);
    if (!conf || !conf->rules) {
        return OK;
    }
    for (h = r->htaccess; h; h = h->next) {
        if (h->htaccess && h->dir && bbt_htaccess_above(h->dir, r->filename)) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "BBT045: %s is served by routes, and a .htaccess "
                          "file in %s applies to it: refused (500).  A writer "
                          "of the tree could have written it, and an <If> in "
                          "it overrides even a <Location>: set AllowOverride "
                          "None there and move what it says into the "
                          "server's configuration",
                          r->uri, h->dir);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}

void bbt_htaccess_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_post_perdir_config(bbt_htaccess_check, NULL, NULL, APR_HOOK_FIRST);
}
