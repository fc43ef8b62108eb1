/* Each thread's salts: kept per id, a few slots, refusals take none. */
#include "bbt_saltmemo.h"
#include "tap.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static const char *salt_of(int n, char *buf)
{
    snprintf(buf, BBT_SALT_HEX_LEN + 1, "%032x", n);
    return buf;
}

static const char *id_of(int n, char *buf)
{
    snprintf(buf, BBT_TOKEN_ID_LEN + 1, "%012d", n);
    return buf;
}

static void test_get_put(void)
{
    char s[BBT_SALT_HEX_LEN + 1], a[BBT_SALT_HEX_LEN + 1];
    char id[BBT_TOKEN_ID_LEN + 1];

    bbt_saltmemo_clear();
    ok(!bbt_saltmemo_get("000000000001", s), "empty: nothing");
    bbt_saltmemo_put("000000000001", salt_of(1, a), 0);
    ok(!bbt_saltmemo_get("000000000001", s), "not added unless asked");
    bbt_saltmemo_put("000000000001", salt_of(1, a), 1);
    ok(bbt_saltmemo_get("000000000001", s), "added");
    is_str(s, salt_of(1, a), "  its salt");
    bbt_saltmemo_put("000000000001", salt_of(2, a), 0);
    ok(bbt_saltmemo_get("000000000001", s) && strcmp(s, salt_of(2, a)) == 0,
       "a kept id is refreshed without adding");
    ok(!bbt_saltmemo_get("000000000002", s), "another id: nothing");
    bbt_saltmemo_put("0000000000031", salt_of(3, a), 1);
    ok(!bbt_saltmemo_get("0000000000031", s), "a malformed id: not kept");
    bbt_saltmemo_put("000000000003", "abc", 1);
    ok(!bbt_saltmemo_get("000000000003", s), "a malformed salt: not kept");
    bbt_saltmemo_put(NULL, salt_of(3, a), 1);
    ok(!bbt_saltmemo_get("", s) && !bbt_saltmemo_get(NULL, s),
       "no id: nothing");
    ok(bbt_saltmemo_get("000000000001", s) && strcmp(s, salt_of(2, a)) == 0,
       "  and the kept one stays");

    /* The slots are taken in turn: the oldest goes. */
    bbt_saltmemo_clear();
    for (int i = 1; i <= BBT_SALTMEMO_SLOTS; i++) {
        bbt_saltmemo_put(id_of(i, id), salt_of(i, a), 1);
    }
    ok(bbt_saltmemo_get(id_of(1, id), s) &&
           bbt_saltmemo_get(id_of(BBT_SALTMEMO_SLOTS, id), s),
       "as many ids as slots: all kept");
    bbt_saltmemo_put(id_of(100, id), salt_of(100, a), 1);
    ok(!bbt_saltmemo_get(id_of(1, id), s), "one more: the oldest went");
    ok(bbt_saltmemo_get(id_of(2, id), s) && bbt_saltmemo_get(id_of(100, id), s),
       "  the others and the new one are kept");
    for (int i = 200; i < 200 + 3 * BBT_SALTMEMO_SLOTS; i++) {
        bbt_saltmemo_put(id_of(i, id), salt_of(i, a), 0);
    }
    ok(bbt_saltmemo_get(id_of(100, id), s),
       "many refreshes of unknown ids push nothing out");
    bbt_saltmemo_clear();
    ok(!bbt_saltmemo_get(id_of(100, id), s), "cleared: nothing");
}

static void *other_thread(void *arg)
{
    char s[BBT_SALT_HEX_LEN + 1];

    *(int *)arg = bbt_saltmemo_get("000000000007", s);
    return NULL;
}

static void test_threads(void)
{
    char s[BBT_SALT_HEX_LEN + 1], a[BBT_SALT_HEX_LEN + 1];
    pthread_t t;
    int seen = -1;

    bbt_saltmemo_put("000000000007", salt_of(7, a), 1);
    ok(pthread_create(&t, NULL, other_thread, &seen) == 0 &&
           pthread_join(t, NULL) == 0 && seen == 0,
       "another thread does not see this thread's salts");
    ok(bbt_saltmemo_get("000000000007", s), "  this one does");
}

int main(void)
{
    test_get_put();
    test_threads();
    return done_testing();
}
