/*
 * The module's sections take no .htaccess file.  See bbt_htaccess.c.
 */
#ifndef BBT_HTACCESS_H
#define BBT_HTACCESS_H

#include "httpd.h"

/* The directory of a .htaccess file that applied to r, one above r's file
 * (r->htaccess, as r's walk left it), or NULL. */
const char *bbt_htaccess_applies(const request_rec *r);

/* Before r is refused for it: r's configuration without the directory
 * walk's (the server's and the <Location>s'), and the sandbox, so that the
 * file chooses nothing of the refusal's page. */
void bbt_htaccess_forget(request_rec *r);

/* Register the check (from the module's register_hooks). */
void bbt_htaccess_register_hooks(apr_pool_t *p);

#endif
