/*
 * The verdict on a presented token: what is known of its row (from the
 * database or from the cache) turned into "let in" or the one reason it
 * is refused.  The order of the checks is the rule: a wrong secret is
 * reported before anything else, so a guess learns nothing about the state
 * of a token it does not hold.
 *
 * Nothing here knows httpd, APR or libpq.
 */
#ifndef BBT_VERDICT_H
#define BBT_VERDICT_H

#include "bbt_kind.h"
#include "bbt_perm.h"

/* What a token's row says, as far as the verdict needs it. */
typedef struct {
    bbt_kind_t kind;       /* zero: a personal token */
    const char *user_name; /* the owner's name (a personal token's) */
    const char *key;       /* a project's or a repository's token's project
                              key (a personal token's: empty or NULL) */
    int user_active;       /* the owner's; for a token of a personal project
                              ~name, ~name's owner's */
    int revoked;
    int expired; /* by the clock of whoever read the row */
    bbt_level_t tok_project;
    bbt_level_t tok_repo;
} bbt_tokrow_t;

typedef enum {
    BBT_VERDICT_OK = 0,
    BBT_VERDICT_UNKNOWN,      /* no token with that id */
    BBT_VERDICT_WRONG_SECRET, /* the id exists, the secret is not its */
    BBT_VERDICT_REVOKED,
    BBT_VERDICT_EXPIRED,
    BBT_VERDICT_DISABLED,  /* the owner is disabled */
    BBT_VERDICT_NOT_OWNER, /* a Basic user name that is not the owner's (for
                              a project or repository token: not
                              BBT_KIND_BASIC_USER) */
    BBT_VERDICT_BROKEN,    /* a row without valid permissions: the server's
                              fault (500), never the client's (401) */
    BBT_VERDICT_ADDRESS    /* a usable token, from a client outside its
                              allow-list: decided by the caller (the row's
                              verdict must have been one
                              bbt_verdict_fenceable takes), refused as any
                              other */
} bbt_verdict_t;

/* The verdict on a token whose row is `row` (NULL: no such id).
 * secret_ok says whether the presented secret matched the row (for an
 * internal request whose token an earlier request proved, 1).  basic_user
 * is the Basic user name, or NULL for Bearer (and internal requests); it
 * must name the owner, regardless of case, or for a project or repository
 * token be BBT_KIND_BASIC_USER.  A project or repository token has no
 * owner to be disabled, except in a personal project ~name: it is refused
 * as disabled while ~name's owner is (or is gone), as everything in a
 * personal project follows its owner. */
bbt_verdict_t bbt_verdict(const bbt_tokrow_t *row, int secret_ok,
                          const char *basic_user);

/* Whether the failed-login throttle counts a refusal with verdict v: what
 * a guess can get ("no such id", "wrong secret"), and a right token from a
 * client outside its allow-list (BBT_VERDICT_ADDRESS).  Every other
 * refusal is reached only once the secret has proven right: its client
 * holds the token (a CI job retrying a revoked one), and counting it would
 * hold back everyone behind its address for no guess made.  A fenced token
 * is counted all the same: its client is where the owner said the token is
 * never used, and were it not counted, the throttle would answer it
 * otherwise than a wrong token and tell a stolen token's holder that the
 * token is right, and live. */
int bbt_verdict_counted(bbt_verdict_t v);

/* Whether verdict v, for a client outside the token's allow-list, becomes
 * BBT_VERDICT_ADDRESS: every verdict reached once the secret has proven
 * right (OK, a Basic user name that is not the owner's, revoked, expired,
 * owner disabled) but a broken row's.  From outside its list a right token
 * is refused for the address, counted as a wrong one, whatever became of
 * it: were a revoked or expired one not, the throttle would tell a stolen
 * token's holder whether it is still live (counted) or dead (not), and a
 * right secret sent with another user's name would be told apart from a
 * wrong one.  A broken row stands (500: the server's fault, which says
 * nothing of the token's life). */
int bbt_verdict_fenceable(bbt_verdict_t v);

/* A short English reason for the log ("token revoked"); "" for OK. */
const char *bbt_verdict_str(bbt_verdict_t v);

#endif
