/*
 * The throttle's keyed set numbers (bbt_tset.c): the set of an address
 * depends on the secret, so addresses chosen to share a set under the old
 * public hash (FNV-1a of the key) no longer do; makers with one secret
 * agree (every child of a generation), and a thread follows whichever
 * maker it is asked through.
 */
#include <stdint.h>
#include <string.h>

#include "bbt_tset.h"
#include "tap.h"

/* The throttle's room at its least size (65536 bytes): its sets. */
#define SETS 341
#define MATES 8

/* The old public hash, as bbt_throttle.c picked a set with it. */
static size_t fnv_set(const unsigned char *key, size_t len)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < len; i++) {
        h = (h ^ key[i]) * 16777619u;
    }
    return h % SETS;
}

/* An IPv4 address's key: '4' and its bytes. */
static void key4(unsigned char key[5], unsigned a, unsigned b, unsigned c,
                 unsigned d)
{
    key[0] = '4';
    key[1] = (unsigned char)a;
    key[2] = (unsigned char)b;
    key[3] = (unsigned char)c;
    key[4] = (unsigned char)d;
}

int main(void)
{
    static const unsigned char s1[BBT_TSET_SECRET_LEN] = "0123456789abcdef";
    static const unsigned char s2[BBT_TSET_SECRET_LEN] = "fedcba9876543210";
    unsigned char victim[5], mates[MATES][5], key[5];
    bbt_tsetter_t *a = bbt_tsetter_new(s1, sizeof(s1));
    bbt_tsetter_t *a2 = bbt_tsetter_new(s1, sizeof(s1));
    bbt_tsetter_t *b = bbt_tsetter_new(s2, sizeof(s2));
    size_t n = 0, v, m, x, y, i, same_a = 0, same_b = 0, differ = 0, agree = 1,
           in_range = 1;
    unsigned c;

    ok(a && a2 && b, "makers made (SipHash passed its known answer)");
    ok(!bbt_tsetter_new(s1, sizeof(s1) - 1),
       "a secret of another length: none");
    if (!a || !a2 || !b) {
        return done_testing();
    }

    /* Eight addresses an attacker would choose: the victim's set under
     * FNV-1a. */
    key4(victim, 127, 0, 0, 1);
    for (c = 2; c < 65536 && n < MATES; c++) {
        key4(key, 127, 0, c >> 8, c & 0xff);
        if (fnv_set(key, 5) == fnv_set(victim, 5)) {
            memcpy(mates[n++], key, 5);
        }
    }
    is_int((long long)n, MATES, "eight addresses of 127.0.0.1's FNV-1a set");

    ok(bbt_tset_of(a, victim, 5, SETS, &v) == 0, "the victim's set, key A");
    for (i = 0; i < n; i++) {
        ok(bbt_tset_of(a, mates[i], 5, SETS, &m) == 0, "a mate's set, key A");
        same_a += m == v;
    }
    ok(same_a < MATES, "under key A, %zu of the eight share the victim's set",
       same_a);
    ok(bbt_tset_of(b, victim, 5, SETS, &v) == 0, "the victim's set, key B");
    for (i = 0; i < n; i++) {
        ok(bbt_tset_of(b, mates[i], 5, SETS, &m) == 0, "a mate's set, key B");
        same_b += m == v;
    }
    ok(same_b < MATES, "under key B, %zu of the eight share the victim's set",
       same_b);

    /* The set is the key's: two secrets place addresses apart, one secret
     * (two makers, as two children) alike, asked in turn on one thread. */
    for (c = 0; c < 256; c++) {
        key4(key, 10, 0, 0, c);
        if (bbt_tset_of(a, key, 5, SETS, &x) != 0 ||
            bbt_tset_of(b, key, 5, SETS, &y) != 0 ||
            bbt_tset_of(a2, key, 5, SETS, &m) != 0) {
            agree = 0;
            break;
        }
        differ += x != y;
        agree &= x == m;
        in_range &= x < SETS && y < SETS;
    }
    ok(differ > 200, "keys A and B place %zu of 256 addresses apart", differ);
    ok(agree, "two makers with one secret agree on every address");
    ok(in_range, "every set is below the number of sets");
    ok(bbt_tset_of(a, victim, 5, 0, &x) != 0, "no sets: refused");

    bbt_tsetter_free(a);
    bbt_tsetter_free(a2);
    bbt_tsetter_free(b);
    return done_testing();
}
