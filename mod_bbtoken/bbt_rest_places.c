/*
 * The places whose tokens the caller may manage (bbt_rest_places.h), so
 * that the page can offer them rather than make its user type a key.
 *
 * Who may manage a place's tokens is bbtoken_may_manage()'s to say, the
 * very function bbtoken_api_may() asks before every change: this file only
 * gathers the places to ask it about.  Nothing lists every project and
 * repository (the repositories live on disk, or elsewhere), so the places
 * are those the database knows of: the caller's personal project, and each
 * project and repository that a grant names, a project's settings name or
 * a token is held by.  A global admin may manage any place, also one the
 * database has never heard of; those they type.
 */
#include "httpd.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include <jansson.h>
#include <libpq-fe.h>

#include "bbt_rest_args.h"
#include "bbt_rest_db.h"
#include "bbt_rest_json.h"
#include "bbt_rest_places.h"
#include "bbt_rest_req.h"

/* $1 the caller's id, $2 how many, $3 from where.  The personal key is
 * bbtoken_owner_levels' own spelling of it.  The candidates are only what
 * the caller could manage: their own project and grants, and the
 * repositories known in the projects they hold a grant on (a project's
 * admins manage its repositories' tokens); every place the database knows
 * of only for a global admin, whose arms the planner skips for anyone
 * else (a condition on the caller's row alone is checked once).  So a
 * page costs a user with a few grants a few index scans (by project, on
 * the repository grants and tokens: schema 29), not a pass over every
 * grant and token. */
#define BBT_PLACES_MINE                                                        \
    "(SELECT '~' || lower(u.name) UNION SELECT g.project_key"                  \
    " FROM bbtoken_project_grants g WHERE g.user_id = u.id)"
#define BBT_PLACES_SQL                                                         \
    "SELECT k.key, k.slug FROM bbtoken_users u,"                               \
    " LATERAL (SELECT '~' || lower(u.name), NULL::text"                        \
    "  UNION SELECT project_key, NULL FROM bbtoken_project_grants"             \
    "   WHERE user_id = u.id"                                                  \
    "  UNION SELECT project_key, repo_slug FROM bbtoken_repo_grants"           \
    "   WHERE user_id = u.id"                                                  \
    "  UNION SELECT project_key, repo_slug FROM bbtoken_repo_grants"           \
    "   WHERE project_key IN " BBT_PLACES_MINE                                 \
    "  UNION SELECT project_key, repo_slug FROM bbtoken_tokens"                \
    "   WHERE repo_slug IS NOT NULL AND project_key IN " BBT_PLACES_MINE       \
    "  UNION SELECT project_key, NULL FROM bbtoken_project_grants"             \
    "   WHERE u.is_admin"                                                      \
    "  UNION SELECT project_key, NULL FROM bbtoken_repo_grants"                \
    "   WHERE u.is_admin"                                                      \
    "  UNION SELECT project_key, repo_slug FROM bbtoken_repo_grants"           \
    "   WHERE u.is_admin"                                                      \
    "  UNION SELECT project_key, NULL FROM bbtoken_projects WHERE u.is_admin"  \
    "  UNION SELECT project_key, NULL FROM bbtoken_tokens"                     \
    "   WHERE u.is_admin AND project_key IS NOT NULL"                          \
    "  UNION SELECT project_key, repo_slug FROM bbtoken_tokens"                \
    "   WHERE u.is_admin AND repo_slug IS NOT NULL) AS k (key, slug)"          \
    " WHERE u.id = $1 AND bbtoken_may_manage(u, k.key, k.slug)"                \
    " ORDER BY k.key = '~' || lower(u.name) DESC, k.slug IS NOT NULL,"         \
    " k.key COLLATE \"C\", k.slug COLLATE \"C\""                               \
    " LIMIT $2::integer OFFSET $3::integer"

/* One place: {"project": {...}} or {"repository": {...}}. */
static json_t *bbt_places_one(const bbt_rest_t *x, const PGresult *res, int row,
                              const void *arg)
{
    int repo = !PQgetisnull(res, row, 1);

    (void)arg;
    return json_pack(
        "{s:o}", repo ? "repository" : "project",
        bbt_rest_place_json(x->r, PQgetvalue(res, row, 0),
                            repo ? PQgetvalue(res, row, 1) : NULL));
}

int bbt_rest_places_list(bbt_rest_t *x, const bbt_rest_user_t *caller,
                         const bbt_rest_user_t *owner)
{
    const char *params[3];
    PGresult *res;
    long start, limit;
    int rc;

    (void)owner;
    if (bbt_rest_page(x, &start, &limit, &rc) != 0) {
        return rc;
    }
    params[0] = caller->id;
    params[1] = apr_ltoa(x->r->pool, limit + 1);
    params[2] = apr_ltoa(x->r->pool, start);
    res = bbt_rest_exec(x, BBT_PLACES_SQL, 3, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        /* A privilege the API's role lacks is a 500 of its own. */
        rc = bbt_rest_refusal(x, res, NULL);
        return rc < 0 ? bbt_rest_unavailable(x, "listing the places") : rc;
    }
    return bbt_rest_send(
        x->r, HTTP_OK,
        bbt_rest_page_of(x, res, start, limit, bbt_places_one, NULL));
}
