/*
 * The cache's entries: their keys, their bytes, and the rule that says
 * whether one may be believed.
 *
 * Two kinds of entry, each under a 16-byte key:
 *   - a token's: keyed by 128 bits of SipHash-2-4 (bbt_keymac.h: two
 *     64-bit outputs under two server keys, of "T" || the token's raw 33
 *     bytes), so only the token itself finds it and the key reveals
 *     nothing (the server keys are random, made at each start).  SipHash
 *     is a keyed pseudo-random function made for exactly this, short
 *     inputs keyed by a secret: to find an entry without the token, one
 *     must guess a 128-bit value the server keys hide; to invert a key,
 *     one needs the server keys and then a token's 128 random bits.  It
 *     costs a tenth of HMAC-SHA-256, on every request.
 *     It says the id is unknown, or the secret is wrong, or it is the
 *     token's row (the secret matched it, or the key could not have been
 *     made);
 *   - an owner's level on a target: keyed by the MAC of (owner id, project
 *     key, slug), shared by every token of that owner; or, where the owner's
 *     level map gives every repository of the project the project's own
 *     level, one for all of them, keyed by (owner id, project key, every
 *     repository).
 * Each carries the stamp it was made with: the cache's counter read before
 * the database query that produced it.  An entry is believed only when its
 * stamp is at least the least one the changes since allow (the floor, and
 * its token's or its owner's mark: bbt_cmark.h) and the listener's
 * heartbeat is fresh (bbt_cache_usable); the listener raises the floor on
 * a notification that names a table, and a token's or an owner's mark on
 * one that names it.
 *
 * Nothing here knows httpd: APR's SipHash for the keys (bbt_keymac.c),
 * plain C for the rest.  The module's glue (bbt_cache.c) keeps the bytes in
 * httpd's socache.
 */
#ifndef BBT_CENTRY_H
#define BBT_CENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "bbt_agroup.h"
#include "bbt_input.h"
#include "bbt_keymac.h"
#include "bbt_kind.h"
#include "bbt_perm.h"
#include "bbt_token.h"
#include "bbt_verdict.h"

#define BBT_CKEY_LEN 16
/* The server keys' length, in bytes (two SipHash keys). */
#define BBT_CKEY_SECRET_LEN BBT_KEYMAC_SECRET_LEN

/* How old the listener's heartbeat may be, in microseconds of the
 * monotonic clock, for the cache to be believed.  This is the bound on how
 * late a committed change can be missed (README: The cache). */
#define BBT_CACHE_FRESH_US 500000

/* A key maker: SipHash-2-4 (128 bits) under the server keys.  Making keys
 * with one maker from several threads at once is safe (each thread makes them
 * on a copy of the maker's keys of its own).  Free a maker only when no thread
 * makes keys with it any more. */
typedef bbt_keymac_t bbt_ckeyer_t;

/* A maker for secret[0..len), len BBT_CKEY_SECRET_LEN; NULL if SipHash
 * fails its known answer or memory is short. */
bbt_ckeyer_t *bbt_ckeyer_new(const unsigned char *secret, size_t len);
void bbt_ckeyer_free(bbt_ckeyer_t *k);

/* This thread's state for maker k: its copy of k's keys (made the first
 * time, or anew after another maker's) and its copies of entries
 * (bbt_cnear_get); NULL if it cannot be had (no memory).
 * Looked up once for a request's look into the cache and handed to the
 * calls below, which use it without looking it up again: it is this
 * thread's only, and holds for k only until this thread asks for another
 * maker's.  Kept nowhere past the call that looked it up. */
typedef struct bbt_cthread bbt_cthread_t;
bbt_cthread_t *bbt_cthread(const bbt_ckeyer_t *k);

/* The key of a token's entry, made on t (bbt_cthread).  0, or -1 if t is
 * NULL. */
int bbt_ckey_token(bbt_cthread_t *t, const bbt_token_t *tok,
                   unsigned char out[BBT_CKEY_LEN]);

/* The key of owner's level on (key, slug), made on t; slug NULL for the
 * project itself.  0, or -1 if t is NULL or key or slug is too
 * long. */
int bbt_ckey_level(bbt_cthread_t *t, int64_t owner, const char *key,
                   const char *slug, unsigned char out[BBT_CKEY_LEN]);

/* The key of owner's level on every repository of project key, where it
 * is the project's own on each (bbt_levelmap_spans): another key than any
 * bbt_ckey_level makes.  0, or -1 as bbt_ckey_level. */
int bbt_ckey_level_any(bbt_cthread_t *t, int64_t owner, const char *key,
                       unsigned char out[BBT_CKEY_LEN]);

typedef enum {
    BBT_CENTRY_UNKNOWN = 1,  /* no token with this id */
    BBT_CENTRY_WRONG_SECRET, /* the id exists; this is not its secret */
    BBT_CENTRY_TOKEN         /* the token's row */
} bbt_centry_kind_t;

/* A token name is at most BBT_NAME_MAX characters of UTF-8. */
#define BBT_CENTRY_NAME_MAX (4 * BBT_NAME_MAX)

/* A token's entry.  Times are wall-clock microseconds since the epoch. */
typedef struct {
    uint64_t stamp;
    bbt_centry_kind_t kind;
    /* The row (BBT_CENTRY_TOKEN only). */
    int64_t owner_id;
    int64_t expires_us; /* 0: never */
    /* When last use was last written and an expired refusal last
     * audited, as far as known (0: never): real times of writes, or of
     * one the server will not take (a read-only database, an error),
     * which waits an interval as a write made does. */
    int64_t last_use_us;
    int64_t refused_us;
    /* When each of those two was last tried and not made yet (no
     * connection, a lock given up on), or claimed by a request about to
     * make it; 0: none.  Due again BBT_CENTRY_RETRY seconds on
     * (bbt_centry_owed).  Kept apart from the times written, not as a
     * time made to look due shortly: BBTokenLastUseInterval differs
     * between virtual hosts that share the entries, and a time shifted
     * by one host's interval is another host's write of minutes ago.
     * Each its own: a last use given up on just before the token expired
     * must not hold back its first expired refusal's audit. */
    int64_t use_tried_us;
    int64_t refused_tried_us;
    /* When a new address group's record was last refused for good (as
     * last_use_us's), and when one was last tried and not made yet, or
     * claimed (as use_tried_us); 0: never.  Every new group of the token
     * waits for them, so that a token used from several new groups does
     * not try (and fail) on every request, one group after the other. */
    int64_t group_failed_us;
    int64_t group_tried_us;
    int revoked;
    int user_active;
    bbt_level_t tok_project;
    bbt_level_t tok_repo;
    char user_name[BBT_USER_MAX + 1];
    char token_name[BBT_CENTRY_NAME_MAX + 1];
    /* The token's kind and scope: a project's or a repository's token
     * has no owner (owner_id 0, user_name empty) and no level entry. */
    bbt_tokscope_t scope;
    /* The allow-list as the database spells it ("10.0.0.0/8 ::1/128"; ""
     * for none), and the address groups the token is known to have been
     * used from, oldest first. */
    char nets[BBT_NETS_TEXT_MAX + 1];
    int ngroups;
    bbt_agroup_t groups[BBT_AGROUPS_MAX];
} bbt_centry_t;

/* The largest encoded token entry. */
#define BBT_CENTRY_BUF                                                         \
    (3 + 8 + 8 * 8 + 3 + 2 + BBT_USER_MAX + 2 + BBT_CENTRY_NAME_MAX + 1 + 2 +  \
     (BBT_KEY_BUF - 1) + 2 + BBT_SLUG_MAX + 2 + BBT_NETS_TEXT_MAX + 1 +        \
     BBT_AGROUPS_MAX * 9)

/* An encoded refusal (an unknown id, a wrong secret): its kind and stamp
 * alone. */
#define BBT_CENTRY_REFUSAL_LEN (3 + 8)

/* Encode e into buf[0..cap).  Returns the length, or 0 if e is not a valid
 * entry (a name too long or holding a NUL, a level out of range, a scope
 * bbt_kind_valid refuses, too many groups or one of no family) or cap is
 * too small. */
size_t bbt_centry_encode(const bbt_centry_t *e, unsigned char *buf, size_t cap);

/* Decode buf[0..len) into *e.  0, or -1 for anything but an entry this
 * code encoded: the bytes are shared memory, and a stray write must not
 * become a verdict. */
int bbt_centry_decode(const unsigned char *buf, size_t len, bbt_centry_t *e);

/* Each thread's copies of the entries it last read from the shared cache
 * or wrote to it, under the same keys (of the maker bbt_cthread was last
 * asked for; another maker's are dropped).  The shared cache is behind locks
 * (one per segment) that every request of every child would take; under load
 * the threads queue on them.  A copy is believed by the very rule the shared
 * entry is (its stamp may be no lower than the changes allow, the heartbeat
 * fresh: bbt_cache_usable), so it is never staler than the shared one may be.
 * What a copy may lag on is the entry's record of throttled writes (last use,
 * an expired refusal, the address groups), which only ever moves forward: a
 * copy that says no write is due agrees with the shared entry, and one that
 * says a write is due must be checked against the shared entry first.  A
 * group's claim is the one exception: once that group is written, the
 * claim is taken back, and a copy that read it holds the token's other new
 * groups back until the copy finds the claim's retry due, no longer.  At
 * most BBT_CNEAR_SLOTS copies per thread, each at most BBT_CENTRY_BUF
 * bytes. */
#define BBT_CNEAR_SLOTS 8

/* This thread's copy under key (t from bbt_cthread): its bytes (*len of
 * them, valid until the thread's next bbt_cnear_put), or NULL. */
const unsigned char *bbt_cnear_get(bbt_cthread_t *t,
                                   const unsigned char key[BBT_CKEY_LEN],
                                   size_t *len);
/* Keep bytes[0..len) as this thread's copy under key, in place of an older
 * copy under it or of the thread's oldest. */
void bbt_cnear_put(bbt_cthread_t *t, const unsigned char key[BBT_CKEY_LEN],
                   const unsigned char *bytes, size_t len);

/* This thread's copy under key, decoded as a token's entry (read-only,
 * valid until the thread's next bbt_cnear_put), or NULL with no copy or
 * when its bytes are no entry.  The decoding is done once per copy and
 * kept with it (at most one bbt_centry_t more per slot). */
const bbt_centry_t *bbt_cnear_entry(bbt_cthread_t *t,
                                    const unsigned char key[BBT_CKEY_LEN]);

/* An owner's level entry. */
#define BBT_CLEVEL_LEN 10
void bbt_clevel_encode(uint64_t stamp, bbt_level_t level,
                       unsigned char out[BBT_CLEVEL_LEN]);
int bbt_clevel_decode(const unsigned char *buf, size_t len, uint64_t *stamp,
                      bbt_level_t *level);

/* May an entry stamped `stamp` be believed, when the changes heard since
 * allow no stamp below `least` (the floor, or the entry's mark if higher)
 * and the listener's heartbeat (monotonic microseconds; 0: none) is
 * `heartbeat`, at monotonic time now?  Read the heartbeat before the
 * floor and the mark: the listener raises them before it publishes a
 * heartbeat that covers the change. */
int bbt_cache_usable(uint64_t stamp, uint64_t least, int64_t heartbeat,
                     int64_t now);

/* The verdict of a token's entry at wall-clock time now_us (the row's
 * expiry is checked against it), for a request presenting that very token
 * (the key proved it) with Basic user name basic_user (NULL for Bearer).
 * row_out, when not NULL, receives the row (pointing into e). */
bbt_verdict_t bbt_centry_verdict(const bbt_centry_t *e, int64_t now_us,
                                 const char *basic_user, bbt_tokrow_t *row_out);

/* Has a token that expires at expires_us (0: never) expired at now_us? */
int bbt_centry_expired(int64_t expires_us, int64_t now_us);

/* Is a write throttled to once per `interval` seconds due, when the last
 * one was at last_us (0: never), at now_us?  Also when last_us is an
 * interval or more ahead of now_us (a clock behind the writer's). */
int bbt_centry_due(int64_t last_us, int interval, int64_t now_us);

/* How long, in seconds, a throttled write that could not be made waits
 * before a request tries it again: long enough that a pool kept busy, or a
 * lock a write gives up after 100 ms, costs the requests little, short
 * enough that a token used for a few minutes an interval still has its use
 * written. */
#define BBT_CENTRY_RETRY 5

/* Is a write throttled to once per `interval` seconds due at now_us, when
 * the last one was at last_us (as bbt_centry_due) and it was last tried
 * and not made, or claimed, at tried_us (0: not since)?  Not until
 * BBT_CENTRY_RETRY seconds after the try (the interval, if shorter), as
 * the reader's interval says: not on the very next request, nor a whole
 * interval later. */
int bbt_centry_owed(int64_t last_us, int64_t tried_us, int interval,
                    int64_t now_us);

#endif
