/*
 * Startup checks (check_config): a warning for routes in a section that is
 * not AuthType BBToken (BBT352), for AuthType BBToken in a section
 * without routes (BBT353), and for AuthType BBToken whose Require lines
 * are all inside <Limit> (BBT354), for AuthType BBToken with an access
 * file of mod_authz_svn (BBT355) or with mod_ssl's FakeBasicAuth (BBT356,
 * BBT357), for AuthType BBToken with mod_authz_svn's
 * AuthzSVNNoAuthWhenAnonymousAllowed On (BBT361), for mod_remoteip's
 * RemoteIPHeader with no proxies named where AuthType BBToken applies
 * (BBT358), and for routes or AuthBBTokenProvider that a section merged
 * after their own replaces (BBT362).  Warnings only: httpd starts either
 * way.
 */
#ifndef BBT_CONFCHECK_H
#define BBT_CONFCHECK_H

#include "httpd.h"

void bbt_confcheck_register_hooks(apr_pool_t *p);

#endif
