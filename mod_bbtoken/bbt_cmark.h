/*
 * Which changes an entry of the cache must not have missed: its token's
 * mark.
 *
 * Every change that decides access is announced on the channel 'bbtoken'
 * (the schema's triggers).  A change of one token names it ("t:" and its
 * id, from schema version 46), and a change of what a token's lookup row
 * says of its owner names the owner too ("u:" and the user's id);
 * anything else names a table.  The cache keeps one counter that stamps
 * what a request keeps, a floor that a change of anything else raises
 * (every entry is forgotten), a mark per group of token ids that a change
 * of one of those tokens raises, and a mark per group of owners that a
 * change of one of those owners raises: a token's entry is believed when
 * its stamp is at or above the floor and its token's mark, an owner's
 * level entry when at or above the floor and its owner's mark.  So a user
 * who changes their own tokens over and over forgets the entries of a few
 * marks' tokens and owners, not everyone's.
 *
 * A mark holds the tokens (or owners) whose id, as a number, leaves the
 * same remainder by BBT_CMARKS, a prime: token ids are random, user ids
 * a sequence, and no id's digits choose a mark more than any other's.
 * Anyone who changes a token forgets its mark's others too: they are
 * looked up once again, nothing worse.
 *
 * Nothing here knows httpd or APR.
 */
#ifndef BBT_CMARK_H
#define BBT_CMARK_H

#include <stddef.h>

/* How many marks: 128 KiB of shared memory at 8 bytes each. */
#define BBT_CMARKS 16381

/* The mark of a token id (s[0..len)): 0 to BBT_CMARKS - 1, or -1 when it
 * is not a token id (bbt_input_token_id: exactly 12 ASCII digits). */
long bbt_cmark_of(const char *s, size_t len);

/* The mark of an owner (a user's id). */
long bbt_cmark_owner(long long owner);

/* What a notification's payload (NUL-terminated; NULL as "") names: a
 * token ("t:" and a token id), an owner ("u:" and a user's id, 1 to 19
 * ASCII digits, at most 2^63 - 1), with its mark in *mark; or every entry
 * (a table's name, an older schema's payload, or bytes that are neither:
 * whoever may NOTIFY the channel may only make the cache forget). */
typedef enum {
    BBT_CMARK_ALL = 0,
    BBT_CMARK_TOKEN,
    BBT_CMARK_OWNER
} bbt_cmark_kind_t;
bbt_cmark_kind_t bbt_cmark_payload(const char *payload, long *mark);

#endif
