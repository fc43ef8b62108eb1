/*
 * The cache's segments and the object-size hints it gives shmcb (see
 * bbt_chint.h).
 */
#include "bbt_chint.h"

#include <stdint.h>

/* shmcb's structures, as mod_socache_shmcb.c declares them: only their
 * sizes matter here. */
typedef struct {
    unsigned long stats[8];
    unsigned int fields[5];
} bbt_shmcb_header_t;

typedef struct {
    unsigned int idx_pos, idx_used, data_pos, data_used;
} bbt_shmcb_subcache_t;

typedef struct {
    int64_t expires; /* apr_time_t */
    unsigned int data_pos, data_used, id_len;
    unsigned char removed;
} bbt_shmcb_index_t;

/* APR_ALIGN_DEFAULT: up to a multiple of 8. */
#define BBT_SHMCB_ALIGN(n) (((n) + 7) & ~(size_t)7)

/* The largest hint tried. */
#define BBT_CHINT_MAX 4096

size_t bbt_chint_data_area(size_t seg, size_t id_len, size_t obj)
{
    size_t header = BBT_SHMCB_ALIGN(sizeof(bbt_shmcb_header_t));
    size_t num_idx, num_sub = 256, sub_size, offset;

    if (seg < 5 * header || obj + id_len == 0) {
        return 0;
    }
    seg -= header;
    num_idx = seg / (obj + id_len);
    /* shmcb halves its 256 subcaches until each has at least twice as many
     * index slots as there are subcaches. */
    while (num_sub && num_idx / num_sub < 2 * num_sub) {
        num_sub /= 2;
    }
    if (!num_sub) {
        return 0;
    }
    num_idx /= num_sub;
    if (num_idx < 5) {
        return 0;
    }
    sub_size = seg / num_sub;
    sub_size -= sub_size % 8; /* rounded down to its alignment */
    offset = BBT_SHMCB_ALIGN(sizeof(bbt_shmcb_subcache_t)) +
             num_idx * BBT_SHMCB_ALIGN(sizeof(bbt_shmcb_index_t));
    return sub_size > offset ? sub_size - offset : 0;
}

size_t bbt_chint_obj_size(size_t seg, size_t id_len, size_t need)
{
    size_t obj;

    for (obj = BBT_CHINT_BASE; obj <= BBT_CHINT_MAX; obj += 8) {
        /* shmcb keeps the id and the object side by side in the data
         * area. */
        if (bbt_chint_data_area(seg, id_len, obj) >= id_len + need) {
            return obj;
        }
    }
    return 0;
}

/* share bytes in as many segments of at least the least as that makes,
 * up to shards: *segs of *seg bytes. */
static void bbt_chint_share(size_t share, unsigned shards, size_t *seg,
                            unsigned *segs)
{
    *segs = (unsigned)(share / BBT_CHINT_SEG_MIN);
    if (*segs > shards) {
        *segs = shards;
    }
    if (!*segs) {
        *segs = 1;
    }
    *seg = share / *segs;
}

void bbt_chint_split(size_t size, unsigned shards, bbt_chint_split_t *out)
{
    size_t share = size / 8, lshare = size / 8;

    /* At the smallest sizes an eighth would be one least segment: a few
     * hundred refusals are kept there all the same. */
    if (share < 2 * BBT_CHINT_SEG_MIN) {
        share = 2 * BBT_CHINT_SEG_MIN;
    }
    /* A level entry is a third of a short row's room: an eighth holds
     * about half as many as the rows' share holds rows, and one least
     * segment some hundred and fifty. */
    if (lshare < BBT_CHINT_SEG_MIN) {
        lshare = BBT_CHINT_SEG_MIN;
    }
    bbt_chint_share(share, shards, &out->refusal_seg, &out->refusal_segs);
    bbt_chint_share(lshare, shards, &out->level_seg, &out->level_segs);
    out->token_seg = (size - out->refusal_seg * out->refusal_segs -
                      out->level_seg * out->level_segs) /
                     (shards ? shards : 1);
}

size_t bbt_chint_fixed_obj_size(size_t seg, size_t id_len, size_t len)
{
    /* What an object takes of the segment: its slot in the subcache's
     * index and its bytes beside its id in the data area. */
    size_t obj = len + BBT_SHMCB_ALIGN(sizeof(bbt_shmcb_index_t));

    return bbt_chint_data_area(seg, id_len, obj) >= id_len + len ? obj : 0;
}
