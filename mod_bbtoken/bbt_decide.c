/*
 * The allow/deny decision for one verified request (see bbt_decide.h).
 */
#include "bbt_decide.h"

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
