/* The hint the cache gives shmcb: every segment BBTokenCacheSize can make
 * keeps the largest token entry in each of its subcaches, with the
 * average's hint wherever that already does. */
#include "bbt_centry.h"
#include "bbt_chint.h"
#include "tap.h"

/* BBTokenCacheSize's bounds (bbt_config.c), and the cache's four
 * segments (bbt_cache.c). */
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
}

static void test_range(void)
{
    size_t seg, hint, area, worst = (size_t)-1, worst_seg = 0, top = 0;
    size_t first_base = 0, last_other = 0;
    long bad = 0;

    /* Every segment size the accepted range gives, each once. */
    for (seg = CACHE_SIZE_MIN / SHARDS; seg <= CACHE_SIZE_MAX / SHARDS; seg++) {
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
            last_other = seg;
        } else if (!first_base) {
            first_base = seg;
        }
    }
    is_int(bad, 0,
           "every accepted BBTokenCacheSize keeps the largest entry "
           "(%d bytes and its key) in a subcache",
           (int)BBT_CENTRY_BUF);
    diag("the least data area: %zu bytes (segment %zu); the largest hint %zu; "
         "the average's hint from segment %zu, always from %zu",
         worst, worst_seg, top, first_base, last_other + 1);
    ok(last_other + 1 <= 1024 * 1024 / SHARDS,
       "the average's hint at every size from 1 MiB (the default is 4 MiB)");
    ok(top <= 4 * BBT_CHINT_BASE, "no hint over four times the average's");
}

int main(void)
{
    test_shmcb();
    test_range();
    return done_testing();
}
