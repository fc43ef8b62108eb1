/*
 * Authentication (AuthType BBToken): reading the credentials, checking a
 * password with the AuthBBTokenProvider providers, verifying a token.
 */
#ifndef BBT_AUTHN_H
#define BBT_AUTHN_H

#include "httpd.h"

/* Register check_authn (from the module's register_hooks). */
void bbt_authn_register_hooks(apr_pool_t *p);

/* Take the BBTOKEN_* variables out of r's environment: a decision that is
 * not r's (a client's, an earlier module's, an earlier decision's) tells
 * the backend nothing. */
void bbt_authn_env_clear(request_rec *r);

#endif
