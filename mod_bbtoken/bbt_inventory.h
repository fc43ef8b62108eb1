/*
 * The token inventory for administrators: which live (not revoked) tokens a
 * filter selects, as one SQL statement, for `bbtoken list --all` and the
 * REST API's GET .../inventory alike, so the two cannot select
 * differently.  A filter is a conjunction; each part is optional:
 *
 *   owner       the owner's name, in any case (a user's tokens only)
 *   project     tokens that can reach project KEY: a user's whose owner
 *               holds a grant on the project or on one of its
 *               repositories, owns it (a personal project) or is a global
 *               admin, and the project's and its repositories' own
 *   kind        only tokens of that kind
 *   expired     only tokens past their expiry
 *   never_used  only tokens never used
 *   unused      only tokens not used (never used: since created) for this
 *               many seconds
 *   min         only tokens whose level in min's scope is at least min's
 *
 * A new part is a member here, a condition in bbt_inventory_sql, and an
 * option or argument in each interface.  Nothing here knows httpd, APR or
 * libpq: the module, the CLI and the unit tests link it.
 *
 * Every kind of token is listed: a user's (its owner), a project's and a
 * repository's (held by no person: their holder is named project:KEY or
 * repo:KEY/slug, as in the audit trail).
 */
#ifndef BBT_INVENTORY_H
#define BBT_INVENTORY_H

#include "bbt_input.h"
#include "bbt_perm.h"

/* A filter's parameters, and LIMIT and OFFSET. */
#define BBT_INVENTORY_MAX_PARAMS 8
/* The longest unused-for: the longest expiry. */
#define BBT_INVENTORY_UNUSED_MAX ((long long)BBT_EXPIRY_DAYS_MAX * 86400)

/* The kind filter's values. */
typedef enum {
    BBT_INV_KIND_ANY = 0,
    BBT_INV_KIND_PERSONAL,
    BBT_INV_KIND_PROJECT,
    BBT_INV_KIND_REPO
} bbt_inv_kind_t;

/* The words for the kinds, for messages. */
#define BBT_INV_KIND_NAMES "personal, project or repository"

typedef struct {
    const char *owner;   /* NULL: any */
    bbt_inv_kind_t kind; /* BBT_INV_KIND_ANY: any */
    const char *project; /* a project key, any spelling; NULL: any */
    int expired;
    int never_used;
    long long unused; /* seconds; 0: any */
    bbt_perm_t min;   /* level BBT_LEVEL_NONE: any */
} bbt_inventory_t;

/* The statement's columns, in order.  Times are ISO 8601 UTC text and
 * epoch milliseconds; NULL when unset. */
enum {
    BBT_INV_ID,
    BBT_INV_OWNER, /* the holder: the owner's name, project:KEY or
                      repo:KEY/slug */
    BBT_INV_NAME,
    BBT_INV_PROJECT,
    BBT_INV_REPO,
    BBT_INV_CREATED,
    BBT_INV_EXPIRES,
    BBT_INV_LAST,
    BBT_INV_CREATED_MS,
    BBT_INV_EXPIRES_MS,
    BBT_INV_LAST_MS,
    BBT_INV_EXPIRED, /* "t" or "f" */
    BBT_INV_ADDRS,   /* the last client addresses, newest first, "a,b" */
    BBT_INV_KEY,     /* a project's or a repository's token: its project */
    BBT_INV_SLUG,    /* a repository's token: its slug */
    BBT_INV_NETS,    /* the allow-list, "a,b"; NULL when there is none */
    BBT_INV_GROUPS,  /* how many address groups it was used from */
    BBT_INV_NCOLS
};

/* A statement and its text parameters (pointing into f and into nums). */
typedef struct {
    char sql[6144]; /* a page: two halves (bbt_inventory.c) */
    const char *params[BBT_INVENTORY_MAX_PARAMS];
    int nparams;
    char nums[BBT_INVENTORY_MAX_PARAMS][24];
    char key[BBT_KEY_BUF]; /* the project key, canonical */
} bbt_inventory_query_t;

/* The SELECT of what f selects, ordered by owner, creation and id; with
 * limit >= 0 at most limit rows from offset on.  With revoke (limit and
 * offset unused), the revocation by an administrator of a batch of what
 * the SELECT read: its last parameter, left NULL for the caller, is the
 * batch's ids, space-separated; it revokes those f still selects and
 * returns a row per id given, in order, a boolean: revoked.  0, or -1 if
 * f is out of range (an owner that is not a user name, a project that is
 * not a key...). */
int bbt_inventory_sql(const bbt_inventory_t *f, int revoke, long limit,
                      long offset, bbt_inventory_query_t *q);

/* "personal", "project" or "repository" as a kind: 0, or -1 for anything
 * else. */
int bbt_inventory_kind(const char *s, bbt_inv_kind_t *out);

/* 1 if f selects less than every live token. */
int bbt_inventory_filtered(const bbt_inventory_t *f);

#endif
