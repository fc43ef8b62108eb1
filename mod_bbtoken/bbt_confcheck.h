/*
 * Startup checks (check_config): a warning for routes in a section that is
 * not AuthType BBToken (BBT352), for AuthType BBToken in a section
 * without routes (BBT353), and for AuthType BBToken whose Require lines
 * are all inside <Limit> (BBT354), and for AuthType BBToken with an access
 * file of mod_authz_svn (BBT355).  Warnings only: httpd starts either way.
 */
#ifndef BBT_CONFCHECK_H
#define BBT_CONFCHECK_H

#include "httpd.h"

void bbt_confcheck_register_hooks(apr_pool_t *p);

#endif
