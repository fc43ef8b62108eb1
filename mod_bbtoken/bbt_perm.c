/*
 * Permission algebra.  Everything here fails closed: an unknown name, scope
 * or level never turns into access.
 */
#include "bbt_perm.h"

#include <string.h>

static const struct {
    const char *name;
    bbt_scope_t scope;
    bbt_level_t level;
} bbt_perm_names[] = {
    {"PROJECT_READ", BBT_SCOPE_PROJECT, BBT_LEVEL_READ},
    {"PROJECT_WRITE", BBT_SCOPE_PROJECT, BBT_LEVEL_WRITE},
    {"PROJECT_ADMIN", BBT_SCOPE_PROJECT, BBT_LEVEL_ADMIN},
    {"REPO_READ", BBT_SCOPE_REPO, BBT_LEVEL_READ},
    {"REPO_WRITE", BBT_SCOPE_REPO, BBT_LEVEL_WRITE},
    {"REPO_ADMIN", BBT_SCOPE_REPO, BBT_LEVEL_ADMIN},
    /* Bitbucket's name for the project grant, despite its prefix. */
    {"REPO_CREATE", BBT_SCOPE_PROJECT, BBT_LEVEL_CREATE},
};
#define BBT_PERM_COUNT (sizeof(bbt_perm_names) / sizeof(bbt_perm_names[0]))

/* A level some grant gives. */
static int bbt_level_real(int level)
{
    return level >= BBT_LEVEL_READ && level <= BBT_LEVEL_ADMIN;
}

/* A level a token may hold: never create. */
static int bbt_token_level_real(int level)
{
    return bbt_level_real(level) && level != BBT_LEVEL_CREATE;
}

static int bbt_scope_real(int scope)
{
    return scope == BBT_SCOPE_PROJECT || scope == BBT_SCOPE_REPO;
}

int bbt_perm_parse_grant(const char *name, bbt_perm_t *out)
{
    size_t i;

    if (!name || !out)
        return -1;
    for (i = 0; i < BBT_PERM_COUNT; i++) {
        if (strcmp(name, bbt_perm_names[i].name) == 0) {
            out->scope = bbt_perm_names[i].scope;
            out->level = bbt_perm_names[i].level;
            return 0;
        }
    }
    return -1;
}

/* A route's need alone: outside the table above, so that no grant, no
 * token's permission and no token= or body-project= minimum is ever
 * parsed as it. */
#define BBT_SITE_READ "SITE_READ"

int bbt_perm_parse_need(const char *name, bbt_perm_t *out)
{
    if (name && out && strcmp(name, BBT_SITE_READ) == 0) {
        out->scope = BBT_SCOPE_SITE;
        out->level = BBT_LEVEL_READ;
        return 0;
    }
    return bbt_perm_parse_grant(name, out);
}

int bbt_perm_parse(const char *name, bbt_perm_t *out)
{
    bbt_perm_t p;

    if (!out || bbt_perm_parse_grant(name, &p) != 0 ||
        !bbt_token_level_real((int)p.level))
        return -1;
    *out = p;
    return 0;
}

int bbt_level_to_db(bbt_level_t level)
{
    bbt_level_t l;
    int v;

    /* bbt_level_from_db's table, read the other way: one home for the
     * database's numbers. */
    for (v = 1; bbt_level_from_db(v, &l) == 0; v++) {
        if (l == level) {
            return v;
        }
    }
    return 0;
}

const char *bbt_perm_name(bbt_scope_t scope, bbt_level_t level)
{
    size_t i;

    if (scope == BBT_SCOPE_SITE)
        return level == BBT_LEVEL_READ ? BBT_SITE_READ : NULL;
    for (i = 0; i < BBT_PERM_COUNT; i++) {
        if (bbt_perm_names[i].scope == scope &&
            bbt_perm_names[i].level == level)
            return bbt_perm_names[i].name;
    }
    return NULL;
}

int bbt_perm_combination_valid(bbt_level_t project, bbt_level_t repo)
{
    return bbt_token_level_real((int)project) &&
           bbt_token_level_real((int)repo) && (int)repo >= (int)project;
}

int bbt_perm_from_list(const bbt_perm_t *list, size_t n, bbt_level_t *project,
                       bbt_level_t *repo, const char **why)
{
    bbt_level_t p = BBT_LEVEL_NONE, r = BBT_LEVEL_NONE;
    const char *reason = NULL;
    size_t i;

    if (project)
        *project = BBT_LEVEL_NONE;
    if (repo)
        *repo = BBT_LEVEL_NONE;
    if (!project || !repo || (n > 0 && !list)) {
        reason = "no permission list";
        goto fail;
    }

    if (n == 0) {
        /* The seed's default: the owner's full level; live grants cap it. */
        *project = BBT_LEVEL_ADMIN;
        *repo = BBT_LEVEL_ADMIN;
        if (why)
            *why = NULL;
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (!bbt_scope_real((int)list[i].scope) ||
            !bbt_level_real((int)list[i].level)) {
            reason = "unknown permission";
            goto fail;
        }
        if (list[i].level == BBT_LEVEL_CREATE) {
            reason = "REPO_CREATE is a user's project grant, never a token's";
            goto fail;
        }
        if (list[i].scope == BBT_SCOPE_PROJECT) {
            if (p != BBT_LEVEL_NONE) {
                reason = "more than one project permission";
                goto fail;
            }
            p = list[i].level;
        } else {
            if (r != BBT_LEVEL_NONE) {
                reason = "more than one repository permission";
                goto fail;
            }
            r = list[i].level;
        }
    }

    if (p == BBT_LEVEL_NONE)
        p = BBT_LEVEL_READ;
    /* Bitbucket's rule: repository permissions are inherited from the
     * project permission.  So a repository level below it (or none) is
     * raised to it; the project level is kept as given, never raised or
     * lowered.  Clients written against Bitbucket send such lists
     * (PROJECT_WRITE with REPO_READ) and expect them taken. */
    if ((int)r < (int)p)
        r = p;
    if (!bbt_perm_combination_valid(p, r)) {
        reason = "the repository permission is below the project permission";
        goto fail;
    }
    *project = p;
    *repo = r;
    if (why)
        *why = NULL;
    return 0;

fail:
    if (why)
        *why = reason;
    return -1;
}

bbt_decision_t bbt_perm_decide(bbt_perm_t need, bbt_level_t tok_project,
                               bbt_level_t tok_repo, bbt_level_t owner)
{
    int have;

    if (!bbt_scope_real((int)need.scope) || !bbt_level_real((int)need.level) ||
        !bbt_perm_combination_valid(tok_project, tok_repo))
        return BBT_DECIDE_TOKEN_SCOPE;

    /* A need of create is reached by a token's PROJECT_ADMIN alone, the
     * next level a token may hold: the order says so. */
    have = need.scope == BBT_SCOPE_REPO ? (int)tok_repo : (int)tok_project;
    if (have < (int)need.level)
        return BBT_DECIDE_TOKEN_SCOPE;

    /* An owner level outside the enum is garbage, not "more than admin". */
    if (!bbt_level_real((int)owner) || (int)owner < (int)need.level)
        return BBT_DECIDE_OWNER;
    return BBT_DECIDE_ALLOW;
}
