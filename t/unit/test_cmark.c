/* The cache's marks: which token ids a change names, and what a
 * notification's payload forgets. */
#include "bbt_cmark.h"
#include "tap.h"

#include <stdio.h>
#include <string.h>

static long of(const char *s)
{
    return bbt_cmark_of(s, strlen(s));
}

static void test_of(void)
{
    char id[13];
    long m, seen_max = -1;
    int i, distinct = 0;
    static unsigned char used[BBT_CMARKS];

    is_int(of("000000000000"), 0, "id 0: mark 0");
    is_int(of("000000016381"), 0, "an id of BBT_CMARKS: mark 0 again");
    is_int(of("000000016382"), 1, "and one more: mark 1");
    is_int(of("999999999999"), (long)(999999999999ULL % BBT_CMARKS),
           "the highest id: no overflow");
    is_int(of("123456789012"), (long)(123456789012ULL % BBT_CMARKS),
           "an id's digits read as a number");
    is_int(bbt_cmark_of("1234567890123", 12),
           (long)(123456789012ULL % BBT_CMARKS), "only len bytes are read");
    is_int(of("12345678901"), -1, "11 digits: no token id");
    is_int(of("1234567890123"), -1, "13 digits: no token id");
    is_int(of(""), -1, "empty");
    is_int(bbt_cmark_of(NULL, 12), -1, "NULL");
    is_int(of("12345678901a"), -1, "a letter");
    is_int(of("-12345678901"), -1, "a sign");
    is_int(of(" 12345678901"), -1, "a space");
    is_int(bbt_cmark_of("12345\00078901", 12), -1, "a NUL inside");
    is_int(of("\xd9\xa1\xd9\xa2\xd9\xa3\xd9\xa4\xd9\xa5\xd9\xa6"), -1,
           "Arabic-Indic digits are not ASCII digits");
    /* Consecutive ids (an import's, say) spread over every mark. */
    memset(used, 0, sizeof(used));
    for (i = 0; i < BBT_CMARKS; i++) {
        snprintf(id, sizeof(id), "%012d", 500000 + i);
        m = of(id);
        if (m < 0 || m >= BBT_CMARKS) {
            break;
        }
        distinct += !used[m];
        used[m] = 1;
        seen_max = m > seen_max ? m : seen_max;
    }
    is_int(i, BBT_CMARKS, "every mark within 0 .. BBT_CMARKS - 1");
    is_int(distinct, BBT_CMARKS, "BBT_CMARKS consecutive ids: each its own");
    is_int(seen_max, BBT_CMARKS - 1, "the last mark is used");
}

/* What payload names, as "all", "t MARK" or "u MARK". */
static const char *named(const char *payload)
{
    static char buf[32];
    long m;
    bbt_cmark_kind_t k = bbt_cmark_payload(payload, &m);

    if (k == BBT_CMARK_ALL) {
        return m == -1 ? "all" : "all, with a mark";
    }
    snprintf(buf, sizeof(buf), "%c %ld", k == BBT_CMARK_TOKEN ? 't' : 'u', m);
    return buf;
}

static void test_payload(void)
{
    char want[32];

    is_str(named("t:000000016382"), "t 1", "a token's: its mark");
    snprintf(want, sizeof(want), "t %ld", (long)(123456789012ULL % BBT_CMARKS));
    is_str(named("t:123456789012"), want, "another token's");
    is_str(named("bbtoken_tokens"), "all", "a table's name: every entry");
    is_str(named("bbtoken_users"), "all", "a user's change too");
    is_str(named(""), "all", "empty (NOTIFY without a payload)");
    is_str(named(NULL), "all", "NULL");
    is_str(named("t"), "all", "a letter alone");
    is_str(named("t:"), "all", "no id");
    is_str(named("t:12345678901"), "all", "11 digits");
    is_str(named("t:1234567890123"), "all", "13 digits");
    is_str(named("t:123456789012 "), "all", "a space after");
    is_str(named(" t:123456789012"), "all", "a space before");
    is_str(named("T:123456789012"), "all", "upper case");
    is_str(named("t;123456789012"), "all", "another separator");
    is_str(named("t:123456789012\n"), "all", "a newline after");

    is_str(named("u:1"), "u 1", "an owner's: user 1");
    is_str(named("u:16382"), "u 1", "user 16382 shares its mark");
    is_str(named("u:16381"), "u 0", "user 16381: mark 0");
    snprintf(want, sizeof(want), "u %ld",
             (long)(9223372036854775807ULL % BBT_CMARKS));
    is_str(named("u:9223372036854775807"), want, "the largest bigint");
    is_str(named("u:9223372036854775808"), "all", "one more: every entry");
    is_str(named("u:99999999999999999999"), "all", "20 digits");
    is_str(named("u:18446744073709551617"), "all",
           "2^64 + 1, which would wrap an unsigned 64-bit value");
    is_str(named("u:"), "all", "no id");
    is_str(named("u:-1"), "all", "a negative id");
    is_str(named("u:+1"), "all", "a sign");
    is_str(named("u:1 "), "all", "a space after");
    is_str(named("u:1x"), "all", "a letter after");
    is_str(named("U:1"), "all", "upper case");
    is_str(named("x:1"), "all", "another letter");
    is_int(bbt_cmark_owner(-1), BBT_CMARKS - 1,
           "a negative owner's mark is still a mark");
    is_int(bbt_cmark_owner(0), 0, "owner 0: mark 0");
}

int main(void)
{
    test_of();
    test_payload();
    return done_testing();
}
