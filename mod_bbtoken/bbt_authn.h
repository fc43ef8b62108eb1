/*
 * Authentication (AuthType BBToken): reading the credentials, checking a
 * password with the AuthBBTokenProvider providers, verifying a token.
 */
#ifndef BBT_AUTHN_H
#define BBT_AUTHN_H

#include "httpd.h"

/* Register check_authn (from the module's register_hooks). */
void bbt_authn_register_hooks(apr_pool_t *p);

#endif
