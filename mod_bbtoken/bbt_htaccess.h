/*
 * The module's sections take no .htaccess file.  See bbt_htaccess.c.
 */
#ifndef BBT_HTACCESS_H
#define BBT_HTACCESS_H

#include "httpd.h"

/* Register the check (from the module's register_hooks). */
void bbt_htaccess_register_hooks(apr_pool_t *p);

#endif
