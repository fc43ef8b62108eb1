/*
 * How the cache cuts BBTokenCacheSize into shmcb segments, and the
 * object-size hint it gives shmcb for each of them, so that the largest
 * entry fits in one subcache.
 *
 * Refusals (an unknown id, a wrong secret) have segments of their own, a
 * fixed share of the size: shmcb pushes out a full subcache's oldest
 * entries, and anyone can make up tokens whose refusals, in the segments
 * of the tokens' rows, would push every row out.  Apart, refusals only
 * push out refusals.  The owners' levels have theirs too, for the same
 * reason: any valid token, whatever its owner may do, makes a level entry
 * for each distinct target it names, and can name as many as it likes.
 *
 * shmcb (httpd's mod_socache_shmcb.c, socache_shmcb_init) cuts a segment
 * into subcaches (up to 256, a power of two) by its hints: the fewer bytes
 * an object is said to take, the more index slots and the more subcaches.
 * An object is kept in the one subcache its id's first byte names, and one
 * larger than a subcache's data area is never kept (AH00844).  With the
 * hint that suits the cache's entries on average, a segment of the smaller
 * sizes BBTokenCacheSize allows has subcaches too small for a token's
 * largest entry (a long owner name and token name, a full allow-list, all
 * its address groups), which then goes to the database on each child's
 * first request.  So the hint is the average's unless that leaves a
 * subcache too small, and then the least larger one that does not: fewer,
 * larger subcaches, with fewer index slots, for those sizes alone.
 *
 * The arithmetic is shmcb's, with its structures' sizes on this platform,
 * as it has been since httpd 2.4.10 (before, it aligned less).
 *
 * Nothing here knows httpd or APR.
 */
#ifndef BBT_CHINT_H
#define BBT_CHINT_H

#include <stddef.h>

/* The hint below which none is given for the tokens' segments: under a
 * token's row (85 to 130 bytes with everyday names, under a 16-byte key),
 * so that their index slots run out after their data area, never while it
 * still has room. */
#define BBT_CHINT_BASE 64

/* The data area of each subcache shmcb makes of a segment of seg bytes,
 * hinted objects of obj bytes under ids of id_len; 0 if shmcb would
 * refuse the segment (too small for its header or for five index slots a
 * subcache). */
size_t bbt_chint_data_area(size_t seg, size_t id_len, size_t obj);

/* The avg_obj_size hint for a segment of seg bytes whose every subcache
 * must hold an object of need bytes under an id of id_len: BBT_CHINT_BASE
 * if that does, else the least larger multiple of 8 that does; 0 if none
 * up to 4096 does (seg is too small). */
size_t bbt_chint_obj_size(size_t seg, size_t id_len, size_t need);

/* The least segment shmcb makes. */
#define BBT_CHINT_SEG_MIN 8192

/* A cache of size bytes (at least 8 * BBT_CHINT_SEG_MIN) cut into
 * `shards` segments of token_seg bytes for the tokens' rows,
 * refusal_segs (1 to shards) of refusal_seg bytes for refusals: an eighth
 * of the size, but at least two of shmcb's least segments, in as many
 * segments as that makes of at least the least, up to shards; and
 * level_segs of level_seg bytes for the owners' levels: an eighth too (at
 * least one least segment), cut the same way. */
typedef struct {
    size_t token_seg;
    size_t refusal_seg;
    unsigned refusal_segs;
    size_t level_seg;
    unsigned level_segs;
} bbt_chint_split_t;
void bbt_chint_split(size_t size, unsigned shards, bbt_chint_split_t *out);

/* The avg_obj_size hint for a segment of seg bytes that holds objects of
 * len bytes alone, under ids of id_len (the refusals'): len and an index
 * slot, so that shmcb runs out of index slots and of data area together;
 * 0 if a subcache could then not hold one object. */
size_t bbt_chint_fixed_obj_size(size_t seg, size_t id_len, size_t len);

#endif
