/*
 * What the commands look up before they act (lookup.h): a user by name, a
 * token by id, whether the database knows a project or a repository.
 * Each is one statement, run through bbtoken_exec.
 */
#include <stdio.h>

#include "db.h"
#include "lookup.h"
#include "tx.h"

/* Look a user up by name, regardless of case as the unique index does. */
static int bbtoken_user_find(bbtoken_ctx_t *ctx, const char *name,
                             bbtoken_user_t *u)
{
    const char *params[1] = {name};
    PGresult *res = bbtoken_exec(ctx, "looking up the user",
                                 "SELECT id, name, active FROM bbtoken_users"
                                 " WHERE " BBT_SQL_NAME_ANY_CASE("name", "$1"),
                                 1, params);

    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return bbtoken_fail("no such user: %s", bbtoken_repeatable(name));
    }
    snprintf(u->id, sizeof(u->id), "%s", PQgetvalue(res, 0, 0));
    snprintf(u->name, sizeof(u->name), "%s", PQgetvalue(res, 0, 1));
    u->active = PQgetvalue(res, 0, 2)[0] == 't';
    PQclear(res);
    return 0;
}

int bbtoken_token_missing(bbtoken_ctx_t *ctx, const char *id,
                          const char *revoked_msg)
{
    const char *params[1] = {id};
    PGresult *res = bbtoken_exec(
        ctx, "looking up the token",
        "SELECT revoked_at IS NOT NULL FROM bbtoken_tokens WHERE id = $1", 1,
        params);
    int rc;

    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    if (PQntuples(res) != 1) {
        rc = bbtoken_fail("no such token: %s", id);
    } else if (PQgetvalue(res, 0, 0)[0] == 't') {
        rc = bbtoken_fail("%s: %s", revoked_msg, id);
    } else {
        /* Changed between the two statements; rare enough to just say. */
        rc = bbtoken_fail("token %s changed meanwhile; try again", id);
    }
    PQclear(res);
    return rc;
}

/* Whether the database knows a project (a token of it or of one of its
 * repositories, a grant, its setting, its owner for ~slug) or a
 * repository (a token of it, a grant): which projects and repositories
 * exist is the disk's to say, which the CLI does not read.  A project's
 * key is compared in the C collation, the one of the indexes by project
 * alone (schema 31; equality is the same in any deterministic one):
 * compared in the default one, an unknown key read every token. */
static const char *const bbtoken_sql_known[2] = {
    "SELECT EXISTS (SELECT 1 FROM bbtoken_tokens"
    " WHERE project_key COLLATE \"C\" = $1)"
    " OR EXISTS (SELECT 1 FROM bbtoken_project_grants"
    " WHERE project_key COLLATE \"C\" = $1)"
    " OR EXISTS (SELECT 1 FROM bbtoken_repo_grants"
    " WHERE project_key COLLATE \"C\" = $1)"
    " OR EXISTS (SELECT 1 FROM bbtoken_projects"
    " WHERE project_key COLLATE \"C\" = $1)"
    " OR EXISTS (SELECT 1 FROM bbtoken_users WHERE left($1, 1) = '~'"
    " AND slug = substr($1, 2))",
    "SELECT EXISTS (SELECT 1 FROM bbtoken_tokens WHERE project_key = $1"
    " AND repo_slug = $2)"
    " OR EXISTS (SELECT 1 FROM bbtoken_repo_grants WHERE project_key = $1"
    " AND repo_slug = $2)"};

int bbtoken_exec_bool(bbtoken_ctx_t *ctx, const char *doing, const char *sql,
                      int nparams, const char *const *params)
{
    PGresult *res = bbtoken_exec(ctx, doing, sql, nparams, params);
    int yes;

    if (!res) {
        return -1;
    }
    yes = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return yes;
}

int bbtoken_scope_known(bbtoken_ctx_t *ctx, const char *what, const char *key,
                        const char *slug)
{
    const char *params[2] = {key, slug};
    int known = bbtoken_exec_bool(ctx, "looking up the target",
                                  bbtoken_sql_known[slug != NULL], slug ? 2 : 1,
                                  params);

    if (known < 0) {
        return BBTOKEN_EXIT_FAIL;
    }
    return known ? 0
                 : bbtoken_fail("no such %s: nothing in the database names it",
                                what);
}

int bbtoken_user_known(bbtoken_ctx_t *ctx, const char *name)
{
    bbtoken_user_t u;

    return bbtoken_user_find(ctx, name, &u);
}

int bbtoken_connect_user(bbtoken_ctx_t *ctx, const char *name,
                         bbtoken_user_t *u)
{
    int rc;

    if ((rc = bbtoken_check_user(name)) || (rc = bbtoken_connect(ctx))) {
        return rc;
    }
    return bbtoken_user_find(ctx, name, u);
}
