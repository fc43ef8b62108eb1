/*
 * Mistakes httpd's configtest (apache2ctl -t) would otherwise let through,
 * found in the check_config hook: a configuration that starts but can
 * never serve a token, or cannot start at all, is refused with the file
 * and line to fix before a restart takes the server down.  See
 * bbt_configtest.c.
 */
#ifndef BBT_CONFIGTEST_H
#define BBT_CONFIGTEST_H

#include "httpd.h"
#include "http_config.h"

#include "bbt_rules.h"

/* A directive has just added routes from..count-1 to rules: note the
 * methods httpd does not know (yet: RegisterHttpMethod may come later in
 * the configuration), for the check once all of it is read. */
void bbt_configtest_methods(cmd_parms *cmd, const bbt_rules_t *rules,
                            size_t from);

void bbt_configtest_register_hooks(apr_pool_t *p);

#endif
