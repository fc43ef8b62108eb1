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

#include <string.h>

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
    "(SELECT '~' || u.slug UNION SELECT g.project_key"                         \
    " FROM bbtoken_project_grants g WHERE g.user_id = u.id)"
#define BBT_PLACES_SQL                                                         \
    "SELECT k.key, k.slug FROM bbtoken_users u,"                               \
    " LATERAL (SELECT '~' || u.slug, NULL::text"                               \
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
    " ORDER BY k.key = '~' || u.slug DESC, k.slug IS NOT NULL,"                \
    " k.key COLLATE \"C\", k.slug COLLATE \"C\""                               \
    " LIMIT $2::integer OFFSET $3::integer"

/* A global admin's places: every place the database knows of, which grows
 * with the site, so a page must not build and sort them all.  The list's
 * order has four groups: 0 the admin's personal project, 1 its
 * repositories, 2 the other projects, 3 the other repositories; within
 * each, key and slug in byte order.  Each group is read in that order
 * from the COLLATE "C" indexes of schema 31, without duplicates, and cut
 * at start + limit, so a page reads the places up to its end and sorts no
 * more than those.  bbtoken_may_manage() keeps the last word on
 * the page's places: it is true of every place for an active global admin
 * (bbtoken_owner_levels), so asking it of the page alone gives the same
 * page as asking it of all, and a place it refused would be left out. */
#define BBT_PLACES_ME "(SELECT '~' || slug FROM bbtoken_users WHERE id = $1)"
/* A group's cut, start + limit, as a query: PostgreSQL plans a LIMIT it
 * cannot read as one that takes a tenth of the rows, so a group is read
 * in index order whatever start is; given the number, it would sort a
 * whole group once start passed its guess of the group's size. */
#define BBT_PLACES_CUT " LIMIT (SELECT $2::bigint + $3::bigint)"
#define BBT_PLACES_KEY "project_key COLLATE \"C\""
#define BBT_PLACES_SLUG "repo_slug COLLATE \"C\""
/* Each source of a group is a plain column list, its conditions put on
 * the group: only so does PostgreSQL merge the sources in index order
 * (a source with a WHERE of its own is sorted instead); the conditions go
 * down into each source's index scan all the same. */
#define BBT_PLACES_REPOS                                                       \
    "SELECT " BBT_PLACES_KEY " AS key, " BBT_PLACES_SLUG " AS slug"            \
    "  FROM bbtoken_repo_grants"                                               \
    "  UNION ALL SELECT " BBT_PLACES_KEY ", " BBT_PLACES_SLUG                  \
    "  FROM bbtoken_tokens"
/* The projects, each once: the next key after the last is the least of
 * each source's next (an index probe each), since a source holds each key
 * many times over (a project's grants, tokens) and a merge of the sources
 * would read every one of them.  The walk starts after '', which no key
 * is, so that each probe has a bound the index can seek to. */
#define BBT_PLACES_MIN "(SELECT min(" BBT_PLACES_KEY ") FROM "
#define BBT_PLACES_AFTER " WHERE " BBT_PLACES_KEY " > k.key)"
#define BBT_PLACES_PROJECTS                                                    \
    "WITH RECURSIVE k (key) AS (SELECT ''::text COLLATE \"C\""                 \
    " UNION ALL SELECT least(" BBT_PLACES_MIN                                  \
    "bbtoken_project_grants" BBT_PLACES_AFTER ", " BBT_PLACES_MIN              \
    "bbtoken_repo_grants" BBT_PLACES_AFTER ", " BBT_PLACES_MIN                 \
    "bbtoken_projects" BBT_PLACES_AFTER ", " BBT_PLACES_MIN                    \
    "bbtoken_tokens" BBT_PLACES_AFTER ")"                                      \
    " FROM k WHERE k.key IS NOT NULL)"
/* The repositories, each once, the same way: each source's next (key,
 * slug) by a row comparison (the bound on the key alone is what lets the
 * partial index serve), and the least of the two. */
#define BBT_PLACES_REPO_AFTER                                                  \
    " WHERE " BBT_PLACES_KEY " >= r.key AND (" BBT_PLACES_KEY                  \
    ", " BBT_PLACES_SLUG ") > (r.key, r.slug)"
#define BBT_PLACES_REPO_MIN                                                    \
    "(SELECT " BBT_PLACES_KEY " AS key, " BBT_PLACES_SLUG " AS slug FROM "
#define BBT_PLACES_OTHER_REPOS                                                 \
    "WITH RECURSIVE r (key, slug) AS (SELECT ''::text COLLATE \"C\","          \
    " ''::text COLLATE \"C\" UNION ALL SELECT n.key, n.slug FROM r,"           \
    " LATERAL (SELECT * FROM (" BBT_PLACES_REPO_MIN                            \
    "bbtoken_repo_grants" BBT_PLACES_REPO_AFTER " ORDER BY 1, 2 LIMIT 1)"      \
    " UNION ALL " BBT_PLACES_REPO_MIN "bbtoken_tokens" BBT_PLACES_REPO_AFTER   \
    " AND repo_slug IS NOT NULL ORDER BY 1, 2 LIMIT 1)) x"                     \
    " ORDER BY 1, 2 LIMIT 1) n)"
/* Past the end, a page is empty, and deep pages are walked place by
 * place: a start beyond the places the rows could name (a project grant
 * or settings one, a repository grant or token two: the repository and
 * its project) is answered without the walk.  Counting those rows reads every
 * one of them (166,000 on a site of 55,000 places), so it is done only for a
 * start past 10,000 places, whose walk reads as many index entries (four or
 * five a place). */
#define BBT_PLACES_NOT_PAST                                                    \
    " AND ($3::bigint < 10000 OR $3::bigint < (SELECT 1"                       \
    " + (SELECT count(*) FROM bbtoken_project_grants)"                         \
    " + 2 * (SELECT count(*) FROM bbtoken_repo_grants)"                        \
    " + (SELECT count(*) FROM bbtoken_projects)"                               \
    " + 2 * (SELECT count(*) FROM bbtoken_tokens"                              \
    " WHERE project_key IS NOT NULL)))"
/* The repositories come last: they fill what the groups before them left
 * of start + limit, so that a page among the projects walks no
 * repository. */
#define BBT_PLACES_ADMIN_SQL                                                   \
    "WITH firsts AS MATERIALIZED (SELECT * FROM ("                             \
    "(SELECT 0 AS o, " BBT_PLACES_ME " COLLATE \"C\" AS key,"                  \
    "  NULL::text COLLATE \"C\" AS slug)"                                      \
    " UNION ALL (SELECT DISTINCT 1, key, slug FROM (" BBT_PLACES_REPOS ") g"   \
    "  WHERE key = " BBT_PLACES_ME " AND slug IS NOT NULL"                     \
    "  ORDER BY 2, 3" BBT_PLACES_CUT ")"                                       \
    " UNION ALL (" BBT_PLACES_PROJECTS " SELECT 2, key, NULL FROM k"           \
    "  WHERE key > '' AND key <> " BBT_PLACES_ME BBT_PLACES_NOT_PAST           \
        BBT_PLACES_CUT ")) f)"                                                 \
    " SELECT p.key, p.slug FROM bbtoken_users u, (SELECT * FROM ("             \
    "SELECT * FROM firsts"                                                     \
    " UNION ALL (" BBT_PLACES_OTHER_REPOS " SELECT 3, key, slug FROM r"        \
    "  WHERE key > '' AND key <> " BBT_PLACES_ME BBT_PLACES_NOT_PAST           \
    "  LIMIT (SELECT greatest(0, $2::bigint + $3::bigint"                      \
    "  - (SELECT count(*) FROM firsts))))"                                     \
    ") s ORDER BY o, key, slug LIMIT $2::integer OFFSET $3::integer) p"        \
    " WHERE u.id = $1 AND u.is_admin AND bbtoken_may_manage(u, p.key, p.slug)" \
    " ORDER BY p.o, p.key, p.slug"

/* The schema whose indexes (0031) the walk above probes.  The module
 * serves older schemas too (BBT_SCHEMA_MIN): there each step of the walk
 * would read whole tables, a page thousands of times over, where the
 * statement of every caller reads each a few times. */
#define BBT_PLACES_WALK_SCHEMA "31"

/* 1 if the database has the indexes of the admin's walk.  One round trip,
 * only for a global admin's page: not the hot path. */
static int bbt_places_walkable(bbt_rest_t *x)
{
    PGresult *res = bbt_rest_exec(
        x,
        "SELECT max(version) >= " BBT_PLACES_WALK_SCHEMA " FROM bbtoken_schema",
        0, NULL);
    int yes = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
              strcmp(PQgetvalue(res, 0, 0), "t") == 0;

    PQclear(res);
    return yes;
}

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
    res = bbt_rest_exec(x,
                        caller->admin && bbt_places_walkable(x)
                            ? BBT_PLACES_ADMIN_SQL
                            : BBT_PLACES_SQL,
                        3, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        /* A privilege the API's role lacks is a 500 of its own. */
        rc = bbt_rest_refusal(x, res, NULL);
        return rc < 0 ? bbt_rest_unavailable(x, "listing the places") : rc;
    }
    return bbt_rest_send(
        x->r, HTTP_OK,
        bbt_rest_page_of(x, res, start, limit, bbt_places_one, NULL));
}
