/*
 * Startup checks (check_config): a warning for routes in a section that is
 * not AuthType BBToken (BBT352), and for AuthType BBToken in a section
 * without routes (BBT353).  Warnings only: httpd starts either way.
 */
#ifndef BBT_CONFCHECK_H
#define BBT_CONFCHECK_H

#include "httpd.h"

void bbt_confcheck_register_hooks(apr_pool_t *p);

#endif
