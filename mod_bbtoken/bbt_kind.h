/*
 * What kind of token a token is, and what it may reach.  Three kinds, as
 * Bitbucket Data Center has them:
 *
 *   personal    a user's: it reaches what its own permissions and its
 *               owner's live grants both allow, anywhere;
 *   project     a project's (held by no person): only that project and
 *               its repositories, with a project and a repository level;
 *   repository  a repository's: only that repository, with a repository
 *               level and no project level at all.
 *
 * A project or repository token has no owner to cap it: its own
 * permission is the ceiling, inside its scope.  Who made it, and whether
 * that person still may, does not matter (Bitbucket's rule: such tokens
 * belong to no person, so a pipeline survives its author leaving).
 *
 * Nothing here knows httpd, APR or libpq.
 */
#ifndef BBT_KIND_H
#define BBT_KIND_H

#include <stddef.h>

#include "bbt_input.h"
#include "bbt_perm.h"
#include "bbt_target.h"

typedef enum {
    BBT_KIND_PERSONAL = 0, /* a user's own (the zero value: the default) */
    BBT_KIND_PROJECT,
    BBT_KIND_REPO,
    BBT_KIND_INVALID /* a row no kind describes: fail closed */
} bbt_kind_t;

/* A token's kind and what it is bound to. */
typedef struct {
    bbt_kind_t kind;
    char key[BBT_KEY_BUF];       /* PROJECT, REPO: the canonical key */
    char slug[BBT_SLUG_MAX + 1]; /* REPO: the repository's slug */
} bbt_tokscope_t;

/* The Basic user name a project or repository token is presented with
 * (Bitbucket's, for tools that speak only Basic).  Any case. */
#define BBT_KIND_BASIC_USER "x-token-auth"

/* The longest identity bbt_kind_identity writes, with its NUL. */
#define BBT_KIND_ID_MAX (5 + (BBT_KEY_BUF - 1) + 1 + BBT_SLUG_MAX + 1)

/* The kind of a token row from its project_key and repo_slug columns (NULL
 * when SQL NULL): neither is personal, a key alone a project's, both a
 * repository's.  Anything else (a slug without a key, a value that is not
 * a canonical key or a slug) is BBT_KIND_INVALID; returns 0, or -1 then. */
int bbt_kind_from_row(const char *key, const char *slug, bbt_tokscope_t *out);

/* 1 if s is a well-formed scope of its kind (the cache checks what it
 * reads back). */
int bbt_kind_valid(const bbt_tokscope_t *s);

/* 1 if the token's own levels are a pair its kind may hold: the six
 * combinations for personal and project tokens; no project level and a
 * real repository level for a repository token. */
int bbt_kind_perms_valid(bbt_kind_t kind, bbt_level_t project,
                         bbt_level_t repo);

/* The token's own permissions as Bitbucket names them, space-separated,
 * for the backend (BBTOKEN_TOKEN_PERMISSIONS): "PROJECT_WRITE REPO_WRITE"
 * for a personal or a project token, "REPO_WRITE" alone for a repository
 * token, which holds no project permission.  A static string (no
 * formatting on the hot path); NULL for a pair the kind may not hold. */
const char *bbt_kind_perm_names(bbt_kind_t kind, bbt_level_t project,
                                bbt_level_t repo);

/* A list of permissions (as given to the CLI or the REST API) as the pair
 * a token of kind `kind` holds: bbt_perm_from_list's rules, but a
 * repository token takes REPO_ permissions alone, and its pair is (NONE,
 * that level; REPO_ADMIN for an empty list).  0, or -1 with *why. */
int bbt_kind_perms_from_list(bbt_kind_t kind, const bbt_perm_t *list, size_t n,
                             bbt_level_t *project, bbt_level_t *repo,
                             const char **why);

/* 1 if target t is inside scope s: anything for a personal token, the
 * project and its repositories for a project token, that one repository
 * for a repository token (never its project). */
int bbt_kind_covers(const bbt_tokscope_t *s, const bbt_target_t *t);

/* The decision for one needed permission of a token of kind `kind` holding
 * (project, repo), whose owner (a personal token's) has `owner` there.
 * A project or repository token is capped by no owner.  A repository
 * token holds no project permission: whatever needs one is refused. */
bbt_decision_t bbt_kind_decide(bbt_kind_t kind, bbt_perm_t need,
                               bbt_level_t project, bbt_level_t repo,
                               bbt_level_t owner);

/* Who a project or repository token is, for r->user and the access log:
 * "project:KEY" or "repo:KEY/slug".  User names hold neither ':' nor '/'
 * (bbt_input_user_name), and a password user's holds no ':' (a Basic
 * user name cannot, and bbt_authn.c refuses a provider's that does), so no
 * user can be mistaken for one.  Writes into
 * buf (at least BBT_KIND_ID_MAX bytes) and returns it; "" for a personal
 * token (its identity is its owner's name). */
const char *bbt_kind_identity(const bbt_tokscope_t *s, char *buf, size_t len);

/* "project PROJ", "repository PROJ/repo", for messages; as
 * bbt_kind_identity. */
const char *bbt_kind_describe(const bbt_tokscope_t *s, char *buf, size_t len);

#endif
