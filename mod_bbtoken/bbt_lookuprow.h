/*
 * A token's row of bbtoken_lookup as httpd's lookup reads it: the one
 * text column packed (sql/migrations/0027_lookup_packed.sql), which holds
 * every field of the row.  Format version 1: "1", then each field
 * preceded by one space, in this order, and nothing after the last:
 *
 *   salt, secret_hash   BBT_SALT_HEX_LEN and BBT_HASH_HEX_LEN lower-case hex
 *   revoked             t or f
 *   user_active         t, f, or - (NULL)
 *   user_id, expires_us, last_use_us, refused_us
 *                       a decimal integer ("-" then digits when negative,
 *                       no leading zero, no "-0"), or - (NULL)
 *   project_perm, repo_perm, token_name, user_name, project_key,
 *   repo_slug, allowed_nets, seen_nets, levels
 *                       text: its length in bytes in decimal (no leading
 *                       zero), ":", then exactly that many bytes; or -.
 *                       The bytes are the text as httpd receives it, in
 *                       UTF-8 (the client_encoding bbt_dbenc sets)
 *
 * A name may hold any byte but NUL: only its length says where it ends.
 * The parser is strict, as for any bytes it did not make: anything but a
 * row the database's bbtoken_lookup_pack makes is refused whole.
 *
 * Nothing here knows httpd, APR or libpq.
 */
#ifndef BBT_LOOKUPROW_H
#define BBT_LOOKUPROW_H

#include <stddef.h>
#include <stdint.h>

#include "bbt_agroup.h"
#include "bbt_kind.h"
#include "bbt_perm.h"
#include "bbt_token.h"

/* The format this code reads (the column's first field). */
#define BBT_LOOKUPROW_VERSION "1"

/* The longest level map read: the database holds a map of at most
 * bbtoken_lookup_grants_max() (64) grants and the personal project's
 * entry, each under 400 bytes, about 26 KB; the bound leaves a later
 * schema room to raise that limit. */
#define BBT_LOOKUPROW_LEVELS_MAX (128 * 1024)

/* One token's row of the lookup, with its owner's.  Times are
 * microseconds since the epoch, 0 when unset.  A project's or a
 * repository's token (scope) has no owner: user_name NULL, user_id 0. */
/* Its pointers point into the parsed buffer, or at a constant: each is
 * moved by bbt_rowmemo_get, which must learn of a new one. */
typedef struct {
    unsigned char salt[BBT_SALT_LEN]; /* decoded from the row's hex */
    unsigned char hash[BBT_HASH_LEN]; /* HMAC-SHA-256(salt, raw) */
    const char *token_name;
    const char *user_name;
    int64_t user_id;
    int user_active; /* the owner's; for another kind of token in a
                        personal project, 0 until bbt_db_personal_active */
    bbt_level_t tok_project;
    bbt_level_t tok_repo;
    int revoked;
    /* Not in the row: the caller decides them by its clock. */
    int expired;
    int stale;            /* last_authenticated is due for a refresh */
    int refusal_due;      /* an expired-token refusal is due for the audit */
    int64_t expires_us;   /* expires_at; an expiry at the epoch itself is -1,
                             so that it never reads as none */
    int64_t last_use_us;  /* last_authenticated */
    int64_t refused_us;   /* expired_refused_at */
    bbt_tokscope_t scope; /* project_key, repo_slug */
    const char *nets;     /* allowed_nets, space-separated; "": any */
    int ngroups;          /* the address groups it was used from */
    bbt_agroup_t groups[BBT_AGROUPS_MAX];
    const char *levels; /* the owner's level map (bbt_levelmap.h), or
                           NULL: then the database is asked */
} bbt_lookuprow_t;

typedef enum {
    BBT_LOOKUPROW_OK = 0,
    BBT_LOOKUPROW_MALFORMED, /* not a row of the format */
    BBT_LOOKUPROW_UNKNOWN,   /* another format's version (a later schema's) */
    BBT_LOOKUPROW_ORPHAN     /* a personal token without an owner: its user
                                deleted where no cascade fired (a session
                                with session_replication_role = replica) */
} bbt_lookuprow_status_t;

/* Parse buf[0..len), which buf[len] == '\0' ends, into *out, cutting it in
 * place: out's strings point into buf, each ended by a NUL written over
 * the separator after it.  Anything but BBT_LOOKUPROW_OK leaves *out
 * zeroed and buf's contents unspecified. */
bbt_lookuprow_status_t bbt_lookuprow_parse(char *buf, size_t len,
                                           bbt_lookuprow_t *out);

#endif
