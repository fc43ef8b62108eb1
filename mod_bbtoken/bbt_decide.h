/*
 * The allow/deny decision for one verified request: what its route asks for
 * (a target, perhaps the token's own minimum, and for COPY and MOVE the
 * Destination as a second target), against what the token and its owner
 * hold.  The permission matrix itself is bbt_perm_decide; this file knows
 * which of a request's permissions to hold against which levels, and in
 * what order.  Nothing here knows httpd.
 */
#ifndef BBT_DECIDE_H
#define BBT_DECIDE_H

#include "bbt_kind.h"
#include "bbt_namedrepo.h"
#include "bbt_perm.h"
#include "bbt_target.h"

/* What is known about a verified, routed request. */
typedef struct {
    /* Verified by a user's password: no token caps the user's own grants. */
    int password;
    /* The token's own levels; unused for a password user. */
    bbt_level_t token_project_level;
    bbt_level_t token_repo_level;
    /* The token's kind and what it is bound to: a project or repository
     * token reaches only its own, and no owner caps it (owner_level and
     * dest_owner_level are not read).  Zeroed: a personal token. */
    bbt_tokscope_t scope;
    /* The route's target, and the owner's (or the password user's) live
     * level on it.  SITE_READ has no target (key and slug empty): no
     * owner's level is asked for a token, and a password user's is the
     * one on their own personal project. */
    bbt_target_t target;
    bbt_level_t owner_level;
    /* The route's token= minimum, level NONE when it has none; a password
     * user has no token to hold it against. */
    bbt_perm_t token_need;
    /* COPY and MOVE: the Destination is a second target, with its own
     * route's token= minimum (level NONE when it has none).  A route with
     * body-project= makes the project its body names one (no minimum).
     * dest_personal: that is the personal project of whoever asks, its key
     * filled in once the user is known; a project's or a repository's
     * token has none, and a second target without a key is refused. */
    int has_dest;
    int dest_personal;
    bbt_target_t dest;
    bbt_level_t dest_owner_level;
    bbt_perm_t dest_token_need;
    /* A project's or a repository's token: a repository the request names
     * outside its path (query-repo=, body-repo=) was not shown to lie
     * inside the token's scope; named says which, or why not. */
    int named_outside;
    bbt_named_t named;
    /* A body-project= route whose body gives its project an "id" too:
     * Bitbucket may take the project by it, which the module cannot map to
     * a key, so a personal token must hold the route's permission itself
     * (anywhere: its owner's level there is the backend's to check); need
     * at level NONE when the body gives none.  A project's or a
     * repository's token is refused such a body (named_outside). */
    bbt_target_t into_id;
} bbt_access_t;

/* Decide a request: a SITE_READ target (no project, no repository) by
 * who asks alone: allowed to a personal token (it holds at least
 * PROJECT_READ and REPO_READ wherever its owner reads, and its owner is
 * live, or it was refused before this), and to a password user whose
 * owner_level, the level on their own personal project, says their
 * account is live; a project's or a repository's token is refused
 * (BBT_DECIDE_SITE_WIDE); anything more asked with it (a second target, a
 * token= minimum, a named repository) is refused, never weighed.
 * Otherwise its target, then the token's own minimum, then the
 * Destination and its route's minimum must all be allowed, and for a
 * project or repository token both targets, and any repository the
 * request names elsewhere, must lie inside its scope
 * (BBT_DECIDE_OUT_OF_SCOPE, as for a second target without a key; *on is
 * &a->named.repo for a named one).  *on and
 * *what say which target and which permission decided (the one refused, or the
 * last one checked). */
bbt_decision_t bbt_decide(const bbt_access_t *a, const bbt_target_t **on,
                          bbt_perm_t *what);

#endif
