/*
 * The allow/deny decision for one verified request (see bbt_decide.h).
 */
#include "bbt_decide.h"

/* SITE_READ: a read on no project, which the backend answers with what
 * REMOTE_USER may see, project by project.  A person may: a personal
 * token's every pair holds PROJECT_READ and REPO_READ, so it reads
 * nothing there its owner could not read through the project routes; a
 * password user, their own account.  A project's or a repository's token
 * is nobody's (REMOTE_USER project:KEY), and no list across projects is
 * its scope's. */
static bbt_decision_t bbt_decide_site(const bbt_access_t *a)
{
    /* A SITE_READ route has none of these (bbt_rules_site_check). */
    if (a->has_dest || a->named_outside ||
        (!a->password && (a->token_need.level != BBT_LEVEL_NONE ||
                          a->into_id.need.level != BBT_LEVEL_NONE)) ||
        a->target.need.level != BBT_LEVEL_READ) {
        return BBT_DECIDE_TOKEN_SCOPE;
    }
    if (a->password) {
        /* Their level on their own personal project: admin for every
         * active user, none for a disabled one or one without a row. */
        return a->owner_level >= BBT_LEVEL_READ &&
                       a->owner_level <= BBT_LEVEL_ADMIN
                   ? BBT_DECIDE_ALLOW
                   : BBT_DECIDE_OWNER;
    }
    switch (a->scope.kind) {
    case BBT_KIND_PERSONAL:
        return bbt_perm_combination_valid(a->token_project_level,
                                          a->token_repo_level)
                   ? BBT_DECIDE_ALLOW
                   : BBT_DECIDE_TOKEN_SCOPE;
    case BBT_KIND_PROJECT:
    case BBT_KIND_REPO:
        return BBT_DECIDE_SITE_WIDE;
    case BBT_KIND_INVALID:
        break;
    }
    return BBT_DECIDE_TOKEN_SCOPE;
}

bbt_decision_t bbt_decide(const bbt_access_t *a, const bbt_target_t **on,
                          bbt_perm_t *what)
{
    bbt_level_t tp = a->password ? BBT_LEVEL_ADMIN : a->token_project_level;
    bbt_level_t tr = a->password ? BBT_LEVEL_ADMIN : a->token_repo_level;
    /* A password user is a person: their own grants, nothing else. */
    bbt_kind_t kind = a->password ? BBT_KIND_PERSONAL : a->scope.kind;
    bbt_decision_t d;

    *on = &a->target;
    *what = a->target.need;
    if (bbt_perm_site(a->target.need)) {
        return bbt_decide_site(a);
    }
    if (!a->password && !bbt_kind_covers(&a->scope, &a->target)) {
        return BBT_DECIDE_OUT_OF_SCOPE;
    }
    if (!a->password && a->named_outside) {
        *on = &a->named.repo;
        return BBT_DECIDE_OUT_OF_SCOPE;
    }
    d = bbt_kind_decide(kind, a->target.need, tp, tr, a->owner_level);
    if (d == BBT_DECIDE_ALLOW && !a->password &&
        a->token_need.level != BBT_LEVEL_NONE) {
        /* The owner's level on the target was checked above: token= is a
         * cap on the token alone. */
        *what = a->token_need;
        d = bbt_kind_decide(kind, a->token_need, tp, tr, BBT_LEVEL_ADMIN);
    }
    if (d == BBT_DECIDE_ALLOW && a->has_dest) {
        *on = &a->dest;
        *what = a->dest.need;
        if (!a->dest.key[0] ||
            (!a->password && !bbt_kind_covers(&a->scope, &a->dest))) {
            return BBT_DECIDE_OUT_OF_SCOPE;
        }
        d = bbt_kind_decide(kind, a->dest.need, tp, tr, a->dest_owner_level);
        if (d == BBT_DECIDE_ALLOW && !a->password &&
            a->dest_token_need.level != BBT_LEVEL_NONE) {
            *what = a->dest_token_need;
            d = bbt_kind_decide(kind, a->dest_token_need, tp, tr,
                                BBT_LEVEL_ADMIN);
        }
    }
    if (d == BBT_DECIDE_ALLOW && !a->password &&
        a->into_id.need.level != BBT_LEVEL_NONE) {
        *on = &a->into_id;
        *what = a->into_id.need;
        d = bbt_kind_decide(kind, a->into_id.need, tp, tr, BBT_LEVEL_ADMIN);
    }
    return d;
}
