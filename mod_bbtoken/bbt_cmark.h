/*
 * Which changes an entry of the cache must not have missed: its token's
 * mark.
 *
 * Every change that decides access is announced on the channel 'bbtoken'
 * (the schema's triggers).  A change of one token names it ("t:" and its
 * id, from schema version 46); anything else names a table.  The cache
 * keeps one counter that stamps what a request keeps, a floor that a
 * change of anything but a token raises (every entry is forgotten), and a
 * mark per group of token ids that a change of one of those tokens
 * raises: a token's entry is believed when its stamp is at or above the
 * floor and its mark.  So a user who changes their own tokens over and
 * over forgets the entries of a few marks' tokens, not everyone's.
 *
 * A mark holds the tokens whose id, as a number, leaves the same remainder
 * by BBT_CMARKS, a prime: ids are random, so each mark holds about one
 * token in BBT_CMARKS, and no id's digits choose a mark more than any
 * other's.  Anyone who changes a token forgets its mark's others too: they
 * are looked up once again, nothing worse.
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

/* The mark a notification's payload (NUL-terminated; NULL as "") moves:
 * "t:" and a token id names that token's; anything else, -1: every entry
 * is forgotten (a table's name, an older schema's payload, or bytes that
 * are neither: whoever may NOTIFY the channel may only make the cache
 * forget). */
long bbt_cmark_payload(const char *payload);

#endif
