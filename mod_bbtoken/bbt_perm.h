/*
 * Permission algebra: the seed's matrix, as plain C.
 *
 * A permission is a scope (project or repository) and a level (read, write,
 * admin).  A token carries one project and one repository level, and the
 * repository level is never below the project level: six combinations.
 * A request needs one permission; it is allowed when both the token and the
 * owner's live grants reach it.
 *
 * A user's project grant has one more level, Bitbucket's "Create
 * repository" (REPO_CREATE): write on every repository of the project and
 * the right to create repositories in it, below admin.  A token never holds
 * it: a token needs PROJECT_ADMIN to reach it, as in the seed's table, and
 * its owner's create grant then caps it there.
 */
#ifndef BBT_PERM_H
#define BBT_PERM_H

#include <stddef.h>

/* In Bitbucket's order, so that "at least" is ">=".  The database spells
 * levels otherwise (bbt_level_from_db). */
typedef enum {
    BBT_LEVEL_NONE = 0,
    BBT_LEVEL_READ = 1,
    BBT_LEVEL_WRITE = 2,
    BBT_LEVEL_CREATE = 3,
    BBT_LEVEL_ADMIN = 4
} bbt_level_t;

/* BBT_SCOPE_SITE is a route's need alone (SITE_READ: a read outside any
 * one project, such as the list of every project the user may see), never
 * a grant's or a token's: bbt_perm_decide refuses it, and bbt_decide
 * decides it by the token's kind (bbt_decide.h). */
typedef enum {
    BBT_SCOPE_PROJECT = 0,
    BBT_SCOPE_REPO = 1,
    BBT_SCOPE_SITE = 2
} bbt_scope_t;

typedef struct {
    bbt_scope_t scope;
    bbt_level_t level;
} bbt_perm_t;

/* A token's permission: "PROJECT_READ" ... "REPO_ADMIN", exact upper case.
 * 0 or -1 (REPO_CREATE too: no token holds it). */
int bbt_perm_parse(const char *name, bbt_perm_t *out);

/* What a grant gives or a request needs: the six, or REPO_CREATE (scope
 * project, level create).  0 or -1. */
int bbt_perm_parse_grant(const char *name, bbt_perm_t *out);

/* What a route may need: a grant's name (bbt_perm_parse_grant), or
 * SITE_READ (scope site, level read), which no grant gives and no token
 * holds.  0 or -1. */
int bbt_perm_parse_need(const char *name, bbt_perm_t *out);

/* Whether a route's need is SITE_READ's: no project, no repository. */
static inline int bbt_perm_site(bbt_perm_t need)
{
    return need.scope == BBT_SCOPE_SITE;
}

/* The name of a permission (SITE_READ too), or NULL for BBT_LEVEL_NONE /
 * out of range. */
const char *bbt_perm_name(bbt_scope_t scope, bbt_level_t level);

/* The database's number for a level (bbtoken_perm_level,
 * sql/migrations/0030_repo_create.sql): 0 none, 1 read, 2 write, 3 admin,
 * 4 create.  Create is 4, above admin's 3, so that a module from before it
 * reads it as garbage and refuses (never as admin).  bbt_level_from_db
 * gives -1 (and none) for any other number; inline, as the level map's
 * reader maps each entry of a map on every uncached request. */
static inline int bbt_level_from_db(int v, bbt_level_t *out)
{
    static const bbt_level_t from_db[] = {BBT_LEVEL_NONE, BBT_LEVEL_READ,
                                          BBT_LEVEL_WRITE, BBT_LEVEL_ADMIN,
                                          BBT_LEVEL_CREATE};

    *out = BBT_LEVEL_NONE;
    if (v < 0 || v >= (int)(sizeof(from_db) / sizeof(from_db[0])))
        return -1;
    *out = from_db[v];
    return 0;
}
int bbt_level_to_db(bbt_level_t level);

/* 1 if (project, repo) is one of the six combinations the seed allows. */
int bbt_perm_combination_valid(bbt_level_t project, bbt_level_t repo);

/* Turn a list of permissions (as given to the CLI or the REST API) into a
 * token's pair.  An empty list gives the owner's full level (PROJECT_ADMIN,
 * REPO_ADMIN).  A missing project level defaults to PROJECT_READ; a missing
 * repository level, or one below the project level, is the project level
 * (inherited, as Bitbucket has it: PROJECT_WRITE with REPO_READ is
 * PROJECT_WRITE with REPO_WRITE).  Refuses duplicates of a scope, unknown
 * levels and REPO_CREATE; *why then says why.  Returns 0 or -1. */
int bbt_perm_from_list(const bbt_perm_t *list, size_t n, bbt_level_t *project,
                       bbt_level_t *repo, const char **why);

typedef enum {
    BBT_DECIDE_ALLOW = 0,
    BBT_DECIDE_TOKEN_SCOPE,  /* the token's own permission is too low */
    BBT_DECIDE_OWNER,        /* the owner's live access is too low */
    BBT_DECIDE_OUT_OF_SCOPE, /* a project or repository token, elsewhere */
    BBT_DECIDE_SITE_WIDE     /* a project or repository token, SITE_READ */
} bbt_decision_t;

/* Decide a request that needs `need`, for a token holding (tok_project,
 * tok_repo) whose owner has `owner` on the target.  Fails closed: an invalid
 * token pair or need level decides BBT_DECIDE_TOKEN_SCOPE. */
bbt_decision_t bbt_perm_decide(bbt_perm_t need, bbt_level_t tok_project,
                               bbt_level_t tok_repo, bbt_level_t owner);

#endif
