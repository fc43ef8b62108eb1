/*
 * The route directives' setters (bbt_config_cmds): BBTokenRoutes
 * NAME|FILE|none [PREFIX] appends a built-in set, a route file or nothing
 * at all; BBTokenRoute METHODS PATTERN PERMISSION [OPTION]... one route.
 * Neither is taken in .htaccess or <Limit> (bbt_config_not_htaccess).
 */
#ifndef BBT_CONFROUTES_H
#define BBT_CONFROUTES_H

#include "httpd.h"
#include "http_config.h"

const char *bbt_confroutes_set_routes(cmd_parms *cmd, void *dconf,
                                      const char *name, const char *prefix);
const char *bbt_confroutes_set_route(cmd_parms *cmd, void *dconf,
                                     const char *args);

#endif
