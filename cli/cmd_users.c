/*
 * Users and their grants: user add, user disable, user enable, grant,
 * ungrant.
 */
#include <string.h>

#include "db.h"

/* ---- user ------------------------------------------------------------- */

int bbtoken_cmd_user_add(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                         const bbtoken_args_t *a)
{
    const char *params[2] = {a->operands[0], a->admin ? "true" : "false"};
    long rows;
    int rc;

    (void)cmd;
    if ((rc = bbtoken_check_user(params[0])) || (rc = bbtoken_connect(ctx))) {
        return rc;
    }
    /* No conflict target: the unique index is on lower(name). */
    rc = bbtoken_exec_rows(ctx, "adding the user",
                           "INSERT INTO bbtoken_users (name, is_admin)"
                           " VALUES ($1, $2::boolean) ON CONFLICT DO NOTHING",
                           2, params, &rows);
    if (rc == 0 && rows == 0) {
        rc = bbtoken_fail("user already exists: %s", params[0]);
    }
    return rc;
}

/* user disable and user enable. */
int bbtoken_cmd_user_set(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                         const bbtoken_args_t *a)
{
    const char *params[2] = {
        a->operands[0], strcmp(cmd->name, "enable") == 0 ? "true" : "false"};
    long rows;
    int rc;

    if ((rc = bbtoken_check_user(params[0])) || (rc = bbtoken_connect(ctx))) {
        return rc;
    }
    rc = bbtoken_exec_rows(ctx, "changing the user",
                           "UPDATE bbtoken_users SET active = $2::boolean"
                           " WHERE lower(name) = lower($1)",
                           2, params, &rows);
    if (rc == 0 && rows == 0) {
        rc = bbtoken_fail("no such user: %s", params[0]);
    }
    return rc;
}

/* ---- grant, ungrant --------------------------------------------------- */

int bbtoken_cmd_grant(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                      const bbtoken_args_t *a)
{
    char *const *arg = a->operands;
    bbtoken_target_t t;
    bbtoken_user_t u;
    bbt_perm_t perm;
    const char *params[4];
    long rows;
    int rc;

    (void)cmd;
    if ((rc = bbtoken_perm_parse(arg[1], &perm)) ||
        (rc = bbtoken_parse_target(arg[2], &t))) {
        return rc;
    }
    /* A project grant on a repository (or the reverse) has no meaning in
     * the schema; say so rather than guess which was intended. */
    if (perm.scope == BBT_SCOPE_PROJECT && t.slug) {
        return bbtoken_fail("%s is a project permission: TARGET must be a "
                            "project KEY, not %s",
                            arg[1], arg[2]);
    }
    if (perm.scope == BBT_SCOPE_REPO && !t.slug) {
        return bbtoken_fail("%s is a repository permission: TARGET must be "
                            "KEY/slug, not %s",
                            arg[1], arg[2]);
    }
    if ((rc = bbtoken_connect_user(ctx, arg[0], &u))) {
        return rc;
    }
    params[0] = u.id;
    params[1] = t.key;
    params[2] = bbt_perm_name(perm.scope, perm.level);
    params[3] = t.slug;
    if (!t.slug) {
        return bbtoken_exec_rows(
            ctx, "granting",
            "INSERT INTO bbtoken_project_grants"
            " (user_id, project_key, permission) VALUES ($1, $2, $3)"
            " ON CONFLICT (user_id, project_key)"
            " DO UPDATE SET permission = EXCLUDED.permission",
            3, params, &rows);
    }
    return bbtoken_exec_rows(ctx, "granting",
                             "INSERT INTO bbtoken_repo_grants"
                             " (user_id, project_key, permission, repo_slug)"
                             " VALUES ($1, $2, $3, $4)"
                             " ON CONFLICT (user_id, project_key, repo_slug)"
                             " DO UPDATE SET permission = EXCLUDED.permission",
                             4, params, &rows);
}

int bbtoken_cmd_ungrant(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                        const bbtoken_args_t *a)
{
    bbtoken_target_t t;
    bbtoken_user_t u;
    const char *params[3];
    long rows;
    int rc;

    (void)cmd;
    if ((rc = bbtoken_parse_target(a->operands[1], &t)) ||
        (rc = bbtoken_connect_user(ctx, a->operands[0], &u))) {
        return rc;
    }
    params[0] = u.id;
    params[1] = t.key;
    params[2] = t.slug;
    rc = bbtoken_exec_rows(ctx, "removing the grant",
                           t.slug ? "DELETE FROM bbtoken_repo_grants"
                                    " WHERE user_id = $1 AND project_key = $2"
                                    " AND repo_slug = $3"
                                  : "DELETE FROM bbtoken_project_grants"
                                    " WHERE user_id = $1 AND project_key = $2",
                           t.slug ? 3 : 2, params, &rows);
    if (rc == 0 && rows == 0) {
        rc = bbtoken_fail("%s has no grant on %s%s%s", u.name, t.key,
                          t.slug ? "/" : "", t.slug ? t.slug : "");
    }
    return rc;
}
