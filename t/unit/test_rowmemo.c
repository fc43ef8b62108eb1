/*
 * The thread's last parsed lookup row (bbt_rowmemo.c): the same text gives
 * what a parse of it gives, with every pointer in the caller's buffer and
 * none left in the buffer it was first parsed in; another text, a longer
 * one than it keeps, or another thread gets nothing.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bbt_rowmemo.h"
#include "tap.h"

#define SALT "00112233445566778899aabbccddeeff"
#define HASH SALT SALT

static const char row_a[] =
    "1 " SALT " " HASH " f t 42 - 1700000000000000 - 12:PROJECT_READ "
    "10:REPO_WRITE 9:my laptop 5:alice - - 10:10.0.0.0/8 "
    "29:10.1.2.0/24 2001:db8:1:2::/64 15:~alice:3 PROJ:2";
/* Another row: no allow-list (NULL in the database, "" in the row). */
static const char row_b[] =
    "1 " SALT " " HASH " f t 43 - 1700000000000001 - 12:PROJECT_READ "
    "9:REPO_READ 2:ci 3:bob - - - 0: 6:PROJ:1";

static char buf_a[BBT_ROWMEMO_MAX * 2 + 1], buf_b[sizeof(buf_a)];
static char buf_c[sizeof(buf_a)];

/* The row with its pointers taken out: what else it holds, to compare. */
static bbt_lookuprow_t flat(bbt_lookuprow_t r)
{
    r.token_name = r.user_name = r.nets = r.levels = NULL;
    return r;
}

/* Words of r that point into the len + 1 bytes at p. */
static int points_into(const bbt_lookuprow_t *r, const char *p, size_t len)
{
    uintptr_t lo = (uintptr_t)p, w;
    size_t off;
    int n = 0;

    for (off = 0; off + sizeof(w) <= sizeof(*r); off += sizeof(void *)) {
        memcpy(&w, (const char *)r + off, sizeof(w));
        n += w >= lo && w - lo <= len;
    }
    return n;
}

static int parsed(const char *text, char *buf, bbt_lookuprow_t *out)
{
    size_t len = strlen(text);

    memcpy(buf, text, len + 1);
    return bbt_lookuprow_parse(buf, len, out) == BBT_LOOKUPROW_OK;
}

static void *get_in_other_thread(void *arg)
{
    static char buf[sizeof(row_a)];
    bbt_lookuprow_t r;

    *(int *)arg = bbt_rowmemo_get(row_a, strlen(row_a), buf, &r);
    return NULL;
}

int main(void)
{
    size_t la = strlen(row_a), lb = strlen(row_b);
    bbt_lookuprow_t ra, rb, rc, fa, fb;
    char longer[BBT_ROWMEMO_MAX + 2], other[sizeof(row_a)];
    pthread_t th;
    int got = -1;

    ok(parsed(row_a, buf_a, &ra), "row A parses");
    ok(parsed(row_b, buf_c, &rc), "row B parses");
    ok(!bbt_rowmemo_get(row_a, la, buf_b, &rb), "nothing kept: nothing got");

    bbt_rowmemo_put(row_a, la, buf_a, &ra);
    memset(&rb, 0x7f, sizeof(rb));
    ok(bbt_rowmemo_get(row_a, la, buf_b, &rb), "row A kept: got");
    ok(points_into(&rb, buf_a, la) == 0,
       "no pointer left in the buffer it was parsed in");
    ok(points_into(&rb, buf_b, la) == 4,
       "its four pointers in the caller's buffer");
    fa = flat(ra);
    fb = flat(rb);
    ok(memcmp(&fa, &fb, sizeof(fa)) == 0, "the rest as the parse made it");
    memset(buf_a, 'X', la);
    ok(rb.token_name && strcmp(rb.token_name, "my laptop") == 0 &&
           rb.user_name && strcmp(rb.user_name, "alice") == 0 && rb.nets &&
           strcmp(rb.nets, "10.0.0.0/8") == 0 && rb.levels &&
           strcmp(rb.levels, "~alice:3 PROJ:2") == 0,
       "its texts read from the caller's buffer, the first one overwritten");
    ok(memcmp(buf_b, row_a, la) != 0 && buf_b[la] == '\0',
       "the caller's buffer holds the cut text");
    is_int(rb.user_id, 42, "the owner's id");
    is_int(rb.ngroups, 2, "its address groups");

    memcpy(other, row_a, la + 1);
    other[la - 1] = '3';
    memset(&rb, 0x7f, sizeof(rb));
    memset(buf_b, 'Y', la + 1);
    ok(!bbt_rowmemo_get(other, la, buf_b, &rb),
       "one byte of the text changed: nothing got");
    ok(buf_b[0] == 'Y' && rb.user_id == (int64_t)0x7f7f7f7f7f7f7f7fLL,
       "  the caller's buffer and row untouched");
    ok(!bbt_rowmemo_get(row_a, la - 1, buf_b, &rb),
       "a shorter text of the same bytes: nothing got");

    ok(pthread_create(&th, NULL, get_in_other_thread, &got) == 0 &&
           pthread_join(th, NULL) == 0 && got == 0,
       "another thread gets nothing of this one's");

    bbt_rowmemo_put(row_b, lb, buf_c, &rc);
    ok(!bbt_rowmemo_get(row_a, la, buf_b, &rb),
       "row B kept after it: row A no longer");
    ok(bbt_rowmemo_get(row_b, lb, buf_b, &rb) && rb.nets &&
           rb.nets[0] == '\0' && rb.user_name &&
           strcmp(rb.user_name, "bob") == 0 && points_into(&rb, buf_c, lb) == 0,
       "row B got: no allow-list, its texts in the caller's buffer");

    /* Parsed again and thrown away (a refusal's work): what is kept stays. */
    bbt_rowmemo_redo();
    ok(bbt_rowmemo_get(row_b, lb, buf_b, &rb) && rb.user_name &&
           strcmp(rb.user_name, "bob") == 0 && points_into(&rb, buf_c, lb) == 0,
       "after a redo, row B is still got as it was");

    memset(longer, '1', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    bbt_rowmemo_put(longer, sizeof(longer) - 1, longer, &rc);
    ok(!bbt_rowmemo_get(longer, sizeof(longer) - 1, buf_b, &rb),
       "a text longer than it keeps: not kept");
    ok(!bbt_rowmemo_get(row_b, lb, buf_b, &rb), "  and row B forgotten");
    bbt_rowmemo_redo();
    ok(!bbt_rowmemo_get(row_b, lb, buf_b, &rb),
       "a redo with nothing kept: nothing");
    return done_testing();
}
