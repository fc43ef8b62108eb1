/*
 * BBTokenRoutes and BBTokenRoute: a section's routes, compiled when the
 * directive is read, so that a bad one stops httpd with the line that
 * holds it; route files are read here too.
 */
#include "httpd.h"
#include "http_config.h"
#include "apr_lib.h"
#include "apr_strings.h"

#include <string.h>

#include "bbt_config.h"
#include "bbt_configtest.h"
#include "bbt_confroutes.h"
#include "bbt_rules.h"

/* The largest route file read. */
#define BBT_ROUTE_FILE_MAX (1024 * 1024)

static apr_status_t bbt_rules_cleanup(void *data)
{
    bbt_rules_free(data);
    return APR_SUCCESS;
}

static const char *bbt_where(cmd_parms *cmd)
{
    return cmd->directive
               ? apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename,
                              cmd->directive->line_num)
               : "BBTokenRoute";
}

/* This section's own route list, created on its first route. */
static const char *bbt_section_rules(cmd_parms *cmd, bbt_dir_conf_t *conf)
{
    if (conf->routes_none) {
        return apr_psprintf(cmd->pool,
                            "%s: %s: this section said 'BBTokenRoutes none' "
                            "(nothing here is open to tokens): it takes no "
                            "other routes",
                            cmd->cmd->name, bbt_where(cmd));
    }
    /* Only a section's own routes govern it whatever its AuthType
     * (bbt_config_governs); a server's are its sections' defaults. */
    conf->routes_section = cmd->path != NULL;
    if (!conf->rules) {
        conf->rules = bbt_rules_new();
        if (!conf->rules) {
            return "out of memory";
        }
        apr_pool_cleanup_register(cmd->pool, conf->rules, bbt_rules_cleanup,
                                  apr_pool_cleanup_null);
    }
    return NULL;
}

/* BBTokenRoute METHODS PATTERN PERMISSION [OPTION]... */
const char *bbt_confroutes_set_route(cmd_parms *cmd, void *dconf,
                                     const char *args)
{
    bbt_dir_conf_t *conf = dconf;
    apr_array_header_t *w = apr_array_make(cmd->temp_pool, 8, sizeof(char *));
    char err[BBT_RULES_ERR_MAX];
    const char *e;
    size_t from;

    if ((e = bbt_config_not_htaccess(cmd)) != NULL) {
        return e;
    }
    while (*args) {
        char *word = ap_getword_conf(cmd->temp_pool, &args);

        if (!*word && !*args) {
            break;
        }
        APR_ARRAY_PUSH(w, char *) = word;
    }
    if (w->nelts < 3) {
        return apr_psprintf(cmd->pool,
                            "BBTokenRoute: %s: needs METHODS PATTERN "
                            "PERMISSION [OPTION]...",
                            bbt_where(cmd));
    }
    if ((e = bbt_section_rules(cmd, conf)) != NULL) {
        return e;
    }
    from = bbt_rules_count(conf->rules);
    if (bbt_rules_add(conf->rules, APR_ARRAY_IDX(w, 0, char *),
                      APR_ARRAY_IDX(w, 1, char *), APR_ARRAY_IDX(w, 2, char *),
                      (const char *const *)w->elts + 3, (size_t)w->nelts - 3,
                      bbt_where(cmd), err, sizeof(err)) != 0) {
        return apr_pstrcat(cmd->pool, "BBTokenRoute: ", err, NULL);
    }
    bbt_configtest_methods(cmd, conf->rules, from);
    return NULL;
}

/* The text of route file name (relative to ServerRoot) into *text. */
static const char *bbt_read_route_file(cmd_parms *cmd, const char *name,
                                       const char **text, const char **path)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t got;
    char *buf;

    *path = ap_server_root_relative(cmd->temp_pool, name);
    if (!*path) {
        return apr_psprintf(cmd->pool, "BBTokenRoutes: %s: cannot open %s",
                            bbt_where(cmd), name);
    }
    /* Looked at before it is opened: opening a FIFO waits for a writer,
     * and httpd's start with it, before anything is said. */
    if (apr_stat(&fi, *path, APR_FINFO_TYPE, cmd->temp_pool) == APR_SUCCESS &&
        fi.filetype != APR_REG) {
        return apr_psprintf(cmd->pool,
                            "BBTokenRoutes: %s: %s is not a regular file",
                            bbt_where(cmd), name);
    }
    if (apr_file_open(&f, *path, APR_FOPEN_READ, APR_OS_DEFAULT,
                      cmd->temp_pool) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "BBTokenRoutes: %s: cannot open %s",
                            bbt_where(cmd), name);
    }
    if (apr_file_info_get(&fi, APR_FINFO_SIZE, f) != APR_SUCCESS ||
        fi.size > BBT_ROUTE_FILE_MAX) {
        apr_file_close(f);
        return apr_psprintf(cmd->pool,
                            "BBTokenRoutes: %s: cannot read %s (or it is "
                            "over 1 MB)",
                            bbt_where(cmd), name);
    }
    buf = apr_palloc(cmd->temp_pool, (apr_size_t)fi.size + 1);
    if (apr_file_read_full(f, buf, (apr_size_t)fi.size, &got) != APR_SUCCESS ||
        got != (apr_size_t)fi.size) {
        apr_file_close(f);
        return apr_psprintf(cmd->pool, "BBTokenRoutes: %s: cannot read %s",
                            bbt_where(cmd), name);
    }
    apr_file_close(f);
    buf[got] = '\0';
    if (strlen(buf) != got) {
        return apr_psprintf(cmd->pool, "BBTokenRoutes: %s contains a NUL",
                            name);
    }
    *text = buf;
    return NULL;
}

/* Whether the directive was written with a second word: httpd hands an
 * empty one ("", a variable that was not set) over as none at all, and
 * the set's own prefix would be taken in its place with nothing said. */
static int bbt_second_word(cmd_parms *cmd)
{
    const char *args;

    if (!cmd->directive || !cmd->directive->args) {
        return 0;
    }
    args = cmd->directive->args;
    ap_getword_conf(cmd->temp_pool, &args);
    while (apr_isspace(*args)) {
        args++;
    }
    return *args != '\0';
}

/* BBTokenRoutes NAME|FILE|none [PREFIX] */
const char *bbt_confroutes_set_routes(cmd_parms *cmd, void *dconf,
                                      const char *name, const char *prefix)
{
    bbt_dir_conf_t *conf = dconf;
    const char *text, *deflt = NULL, *origin, *e;
    char err[BBT_RULES_ERR_MAX];
    size_t len, from;

    if ((e = bbt_config_not_htaccess(cmd)) != NULL) {
        return e;
    }
    if (!prefix && bbt_second_word(cmd)) {
        return apr_psprintf(cmd->pool,
                            "BBTokenRoutes: %s: the URL prefix is empty; it "
                            "begins with '/' (the site's root is '/'), or "
                            "is left out for the set's own",
                            bbt_where(cmd));
    }
    if (strcmp(name, "none") == 0) {
        if (prefix) {
            return apr_psprintf(cmd->pool,
                                "BBTokenRoutes: %s: 'none' takes no URL "
                                "prefix (it sets an empty route list)",
                                bbt_where(cmd));
        }
        /* It appends nothing: after routes, it would say "nothing here"
         * of a section that lets tokens in. */
        if (conf->rules && !conf->routes_none) {
            return apr_psprintf(cmd->pool,
                                "BBTokenRoutes: %s: 'none' (nothing here is "
                                "open to tokens) in a section that sets other "
                                "routes before it",
                                bbt_where(cmd));
        }
        if (!conf->rules && (e = bbt_section_rules(cmd, conf)) != NULL) {
            return e;
        }
        conf->routes_none = 1;
        return NULL; /* an empty list: nothing is open to tokens here */
    }
    if ((e = bbt_section_rules(cmd, conf)) != NULL) {
        return e;
    }
    text = bbt_rules_builtin(name, &deflt);
    if (text) {
        /* Messages then name the shipped file's own line. */
        origin = apr_psprintf(cmd->pool, "routes/%s.conf", name);
        if (!prefix) {
            prefix = deflt;
        }
    } else if (strchr(name, '/')) {
        if ((e = bbt_read_route_file(cmd, name, &text, &origin)) != NULL) {
            return e;
        }
    } else {
        return apr_psprintf(cmd->pool,
                            "BBTokenRoutes: %s: unknown route set '%s' (known: "
                            "%s, none, or a file path containing '/')",
                            bbt_where(cmd), name, bbt_rules_builtin_names());
    }
    if (prefix) {
        /* The routes take the prefix without its trailing slash. */
        len = strlen(prefix);
        while (len > 0 && prefix[len - 1] == '/') {
            len--;
        }
        prefix = apr_pstrmemdup(cmd->temp_pool, prefix, len);
    }
    from = bbt_rules_count(conf->rules);
    if (bbt_rules_load(conf->rules, text, prefix, origin, err, sizeof(err)) !=
        0) {
        return apr_pstrcat(cmd->pool, "BBTokenRoutes: ", err, NULL);
    }
    /* A file emptied by a failed copy would leave the section refusing
     * every token with nothing said; `none` is how to mean that. */
    if (bbt_rules_count(conf->rules) == from) {
        return apr_psprintf(cmd->pool,
                            "BBTokenRoutes: %s: %s holds no route (say "
                            "'BBTokenRoutes none' if nothing here is open "
                            "to tokens)",
                            bbt_where(cmd), origin);
    }
    /* A built-in set's routes say so (bbt_rest_refuse.c); a file's do not. */
    (void)bbt_rules_mark_builtin(conf->rules, from,
                                 bbt_rules_builtin_name(name));
    bbt_configtest_methods(cmd, conf->rules, from);
    return NULL;
}
