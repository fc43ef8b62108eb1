/* How the cache cuts BBTokenCacheSize and the hints it gives shmcb: every
 * tokens' segment BBTokenCacheSize can make keeps the largest token entry
 * in each of its subcaches, with the average's hint wherever that already
 * does; the refusals have an eighth (at least two of shmcb's least
 * segments) and the owners' levels an eighth, in segments shmcb makes,
 * each subcache with room for one of theirs. */
#include "bbt_centry.h"
#include "bbt_chint.h"
#include "tap.h"

#include <stdint.h>

/* BBTokenCacheSize's bounds (bbt_config.c), and the cache's four
 * segments for tokens (bbt_cseg.h). */
#define CACHE_SIZE_MIN (64 * 1024)
#define CACHE_SIZE_MAX (64 * 1024 * 1024 - 1)
#define SHARDS 4
/* What a subcache's data area must hold: the key beside the entry. */
#define NEED (BBT_CKEY_LEN + BBT_CENTRY_BUF)

static void test_shmcb(void)
{
    /* What httpd's own shmcb said, on a 64-bit host, of a token entry of
     * 2,156 bytes under its key (AH00844: "larger (2172) than subcache
     * data area (N)"), with the average's hint: BBTokenCacheSize 65536
     * and 172032. */
    if (sizeof(unsigned long) == 8) {
        is_int((long long)bbt_chint_data_area(65536 / SHARDS, BBT_CKEY_LEN, 64),
               1416, "65536: 8 subcaches of 1416 bytes of data, as shmcb's");
        is_int(
            (long long)bbt_chint_data_area(172032 / SHARDS, BBT_CKEY_LEN, 64),
            1872, "172032: 16 subcaches of 1872 bytes of data, as shmcb's");
    } else {
        ok(1, "# skip shmcb's figures are a 64-bit host's");
        ok(1, "# skip shmcb's figures are a 64-bit host's");
    }
    is_int((long long)bbt_chint_data_area(100, BBT_CKEY_LEN, 64), 0,
           "a segment smaller than five headers: refused, as by shmcb");
    is_int((long long)bbt_chint_data_area(450, BBT_CKEY_LEN, 64), 0,
           "a segment of fewer than five slots a subcache: refused");
    is_int((long long)bbt_chint_obj_size(2048, BBT_CKEY_LEN, BBT_CENTRY_BUF), 0,
           "no hint fits the largest entry in 2048 bytes");
    /* A refusal's hint: its 11 bytes and a 24-byte index slot on a 64-bit
     * host, so that slots and data run out together. */
    if (sizeof(unsigned long) == 8) {
        is_int((long long)bbt_chint_fixed_obj_size(8192, BBT_CKEY_LEN,
                                                   BBT_CENTRY_REFUSAL_LEN),
               35, "a refusal's hint: 35 bytes");
    } else {
        ok(1, "# skip shmcb's figures are a 64-bit host's");
    }
}

static void test_split(void)
{
    bbt_chint_split_t sp;

    bbt_chint_split(CACHE_SIZE_MIN, SHARDS, &sp);
    ok(sp.refusal_segs == 2 && sp.refusal_seg == 8192 && sp.level_segs == 1 &&
           sp.level_seg == 8192 && sp.token_seg == 10240,
       "65536: two refusals' segments of 8192 bytes, one of 8192 for "
       "levels, four of 10240 for tokens (%u of %zu, %u of %zu, %zu)",
       sp.refusal_segs, sp.refusal_seg, sp.level_segs, sp.level_seg,
       sp.token_seg);
    bbt_chint_split(4 * 1024 * 1024, SHARDS, &sp);
    ok(sp.refusal_segs == 4 && sp.refusal_seg == 131072 && sp.level_segs == 4 &&
           sp.level_seg == 131072 && sp.token_seg == 786432,
       "4 MiB: an eighth for refusals and one for levels, in four segments "
       "each (%u of %zu, %u of %zu, %zu)",
       sp.refusal_segs, sp.refusal_seg, sp.level_segs, sp.level_seg,
       sp.token_seg);
}

static void test_range(void)
{
    size_t size, seg, prev = 0, hint = 0, area, worst = (size_t)-1;
    size_t worst_seg = 0;
    size_t top = 0, first_base = 0, last_other = 0;
    long bad = 0, badref = 0, badlev = 0;
    bbt_chint_split_t sp;
    /* Under memcheck (tap.h), every size up to 32 least segments, where
     * the shares take every form they have, and one in 4099 above (odd:
     * every remainder the shares' divisions leave). */
    size_t dense = tap_memcheck() ? 32 * BBT_CHINT_SEG_MIN + 16 : SIZE_MAX;

    /* Every size the accepted range has; shmcb's arithmetic once for each
     * tokens' segment size they make. */
    for (size = CACHE_SIZE_MIN; size <= CACHE_SIZE_MAX;
         size += size < dense ? 1 : 4099) {
        bbt_chint_split(size, SHARDS, &sp);
        seg = sp.token_seg;
        if (sp.level_segs < 1 || sp.level_segs > SHARDS ||
            sp.level_seg < BBT_CHINT_SEG_MIN ||
            sp.level_segs * sp.level_seg < size / 8 - SHARDS ||
            sp.level_segs * sp.level_seg > size / 8 ||
            !bbt_chint_fixed_obj_size(sp.level_seg, BBT_CKEY_LEN,
                                      BBT_CLEVEL_LEN)) {
            if (badlev++ < 5) {
                diag("size %zu: %u levels' segments of %zu", size,
                     sp.level_segs, sp.level_seg);
            }
        }
        if (sp.refusal_segs < 1 || sp.refusal_segs > SHARDS ||
            sp.refusal_seg < BBT_CHINT_SEG_MIN ||
            SHARDS * seg + sp.refusal_segs * sp.refusal_seg +
                    sp.level_segs * sp.level_seg >
                size ||
            SHARDS * seg + sp.refusal_segs * sp.refusal_seg +
                    sp.level_segs * sp.level_seg + 8 + 2 * SHARDS <
                size ||
            sp.refusal_segs * sp.refusal_seg < size / 8 - SHARDS ||
            (size >= 16 * BBT_CHINT_SEG_MIN + 8 &&
             sp.refusal_segs * sp.refusal_seg > size / 8) ||
            !bbt_chint_fixed_obj_size(sp.refusal_seg, BBT_CKEY_LEN,
                                      BBT_CENTRY_REFUSAL_LEN)) {
            if (badref++ < 5) {
                diag("size %zu: %u refusals' segments of %zu, tokens' %zu",
                     size, sp.refusal_segs, sp.refusal_seg, seg);
            }
        }
        if (seg == prev) {
            /* The same segment as the last size: the same hint. */
            if (hint && hint != BBT_CHINT_BASE) {
                last_other = size;
            }
            continue;
        }
        prev = seg;
        hint = bbt_chint_obj_size(seg, BBT_CKEY_LEN, BBT_CENTRY_BUF);
        area = hint ? bbt_chint_data_area(seg, BBT_CKEY_LEN, hint) : 0;
        if (area < NEED) {
            if (bad++ < 5) {
                diag("segment %zu: hint %zu, data area %zu", seg, hint, area);
            }
            continue;
        }
        if (area < worst) {
            worst = area;
            worst_seg = seg;
        }
        if (hint > top) {
            top = hint;
        }
        if (hint != BBT_CHINT_BASE) {
            last_other = size;
        } else if (!first_base) {
            first_base = size;
        }
    }
    is_int(bad, 0,
           "every accepted BBTokenCacheSize keeps the largest entry "
           "(%d bytes and its key) in a subcache",
           (int)BBT_CENTRY_BUF);
    is_int(badref, 0,
           "every accepted BBTokenCacheSize gives refusals an eighth (at "
           "least 16384 bytes) in segments shmcb makes and a refusal fits, "
           "and the rest to tokens");
    is_int(badlev, 0,
           "every accepted BBTokenCacheSize gives owners' levels an eighth "
           "in segments shmcb makes, and a level fits");
    diag("the least data area: %zu bytes (segment %zu); the largest hint %zu; "
         "the average's hint from size %zu, always from %zu",
         worst, worst_seg, top, first_base, last_other + 1);
    ok(last_other + 1 <= 1024 * 1024,
       "the average's hint at every size from 1 MiB (the default is 4 MiB)");
    /* At the least sizes the refusals' two least segments and the levels'
     * one leave the tokens' four some 10 KiB each: fewer, larger
     * subcaches there. */
    ok(top <= 6 * BBT_CHINT_BASE, "no hint over six times the average's");
}

int main(void)
{
    test_shmcb();
    test_split();
    test_range();
    return done_testing();
}
