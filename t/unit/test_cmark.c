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

static void test_payload(void)
{
    is_int(bbt_cmark_payload("t:000000016382"), 1, "a token's: its mark");
    is_int(bbt_cmark_payload("t:123456789012"),
           (long)(123456789012ULL % BBT_CMARKS), "another token's");
    is_int(bbt_cmark_payload("bbtoken_tokens"), -1,
           "a table's name: every entry");
    is_int(bbt_cmark_payload("bbtoken_users"), -1, "a user's change too");
    is_int(bbt_cmark_payload(""), -1, "empty (NOTIFY without a payload)");
    is_int(bbt_cmark_payload(NULL), -1, "NULL");
    is_int(bbt_cmark_payload("t:"), -1, "no id");
    is_int(bbt_cmark_payload("t:12345678901"), -1, "11 digits");
    is_int(bbt_cmark_payload("t:1234567890123"), -1, "13 digits");
    is_int(bbt_cmark_payload("t:123456789012 "), -1, "a space after");
    is_int(bbt_cmark_payload(" t:123456789012"), -1, "a space before");
    is_int(bbt_cmark_payload("T:123456789012"), -1, "upper case");
    is_int(bbt_cmark_payload("t;123456789012"), -1, "another separator");
    is_int(bbt_cmark_payload("t:123456789012\n"), -1, "a newline after");
}

int main(void)
{
    test_of();
    test_payload();
    return done_testing();
}
