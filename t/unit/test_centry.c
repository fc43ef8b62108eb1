/* The cache's entries: keys, encoding, the validity rule, the verdict of
 * an entry, the throttle of last-use writes. */
#include "bbt_centry.h"
#include "tap.h"
#include "token_fixture.h"

#include <string.h>

static const unsigned char secret1[BBT_CKEY_SECRET_LEN] = {1, 2, 3};
static const unsigned char secret2[BBT_CKEY_SECRET_LEN] = {1, 2, 4};

static int same(const unsigned char *a, const unsigned char *b)
{
    return memcmp(a, b, BBT_CKEY_LEN) == 0;
}

static void test_keys(void)
{
    bbt_ckeyer_t *k1 = bbt_ckeyer_new(secret1, sizeof(secret1));
    bbt_ckeyer_t *k1b = bbt_ckeyer_new(secret1, sizeof(secret1));
    bbt_ckeyer_t *k2 = bbt_ckeyer_new(secret2, sizeof(secret2));
    bbt_token_t t = new_token(), u = t;
    unsigned char a[BBT_CKEY_LEN], b[BBT_CKEY_LEN], c[BBT_CKEY_LEN];
    char big[BBT_KEY_BUF + 1];

    ok(k1 && k1b && k2, "key makers made");
    ok(bbt_ckey_token(bbt_cthread(k1), &t, a) == 0 &&
           bbt_ckey_token(bbt_cthread(k1b), &t, b) == 0 && same(a, b),
       "the same token under the same key: the same entry key");
    ok(bbt_ckey_token(bbt_cthread(k2), &t, c) == 0 && !same(a, c),
       "another server key (another start): another entry key");
    u.raw[BBT_TOKEN_RAW_LEN - 1] ^= 1;
    ok(bbt_ckey_token(bbt_cthread(k1), &u, b) == 0 && !same(a, b),
       "one bit of the secret changed: another entry key");
    ok(!holds(a, BBT_CKEY_LEN, t.raw + BBT_TOKEN_ID_LEN + 1, 4),
       "the key does not hold the secret's bytes");

    ok(bbt_ckey_level(bbt_cthread(k1), 7, "PROJ", "repo", a) == 0 &&
           bbt_ckey_level(bbt_cthread(k1b), 7, "PROJ", "repo", b) == 0 &&
           same(a, b),
       "a level key is stable");
    ok(bbt_ckey_level(bbt_cthread(k1), 8, "PROJ", "repo", b) == 0 &&
           !same(a, b),
       "another owner");
    ok(bbt_ckey_level(bbt_cthread(k1), 7, "PROJ", "repo2", b) == 0 &&
           !same(a, b),
       "another slug");
    ok(bbt_ckey_level(bbt_cthread(k1), 7, "PROJX", "repo", b) == 0 &&
           !same(a, b),
       "another key");
    ok(bbt_ckey_level(bbt_cthread(k1), 7, "PROJ", NULL, a) == 0 &&
           bbt_ckey_level(bbt_cthread(k1), 7, "PROJ", "", b) == 0 &&
           !same(a, b),
       "the project itself is not an empty slug");
    ok(bbt_ckey_level(bbt_cthread(k1), 7, "PROJr", "epo", a) == 0 &&
           bbt_ckey_level(bbt_cthread(k1), 7, "PROJ", "repo", b) == 0 &&
           !same(a, b),
       "the boundary between key and slug counts");
    /* The thread keeps its last level key: asked again, the same key; asked
     * of another maker, that maker's; asked of another target, that
     * target's. */
    {
        unsigned char x[BBT_CKEY_LEN], y[BBT_CKEY_LEN], z[BBT_CKEY_LEN];

        ok(bbt_ckey_level(bbt_cthread(k1), 7, "PROJ", "repo", x) == 0 &&
               bbt_ckey_level(bbt_cthread(k1), 7, "PROJ", "repo", y) == 0 &&
               same(x, y),
           "the same level key twice running");
        ok(bbt_ckey_level(bbt_cthread(k2), 7, "PROJ", "repo", z) == 0 &&
               !same(x, z),
           "then from another maker: its own key, not the kept one");
        ok(bbt_ckey_level(bbt_cthread(k1), 7, "PROJ", "repo", y) == 0 &&
               same(x, y),
           "and back: the first maker's again");
        ok(bbt_ckey_level(bbt_cthread(k1), 7, "PROJ", "rep", z) == 0 &&
               !same(x, z) &&
               bbt_ckey_level(bbt_cthread(k1), 7, "PROJ", "repo", y) == 0 &&
               same(x, y),
           "a target one byte shorter is another key");
    }
    /* The level on every repository of a project: a key of its own, no
     * project's or repository's, kept by the thread apart from the last
     * of those. */
    {
        unsigned char x[BBT_CKEY_LEN], y[BBT_CKEY_LEN], z[BBT_CKEY_LEN];

        ok(bbt_ckey_level_any(bbt_cthread(k1), 7, "PROJ", x) == 0 &&
               bbt_ckey_level_any(bbt_cthread(k1b), 7, "PROJ", y) == 0 &&
               same(x, y),
           "every repository's level key is stable");
        ok(bbt_ckey_level(bbt_cthread(k1), 7, "PROJ", NULL, y) == 0 &&
               !same(x, y) &&
               bbt_ckey_level(bbt_cthread(k1), 7, "PROJ", "", z) == 0 &&
               !same(x, z),
           "not the project's, nor an empty slug's");
        ok(bbt_ckey_level_any(bbt_cthread(k1), 8, "PROJ", y) == 0 &&
               !same(x, y) &&
               bbt_ckey_level_any(bbt_cthread(k1), 7, "PROJX", z) == 0 &&
               !same(x, z),
           "another owner's, another project's");
        ok(bbt_ckey_level(bbt_cthread(k1), 7, "PROJ", "repo", y) == 0 &&
               bbt_ckey_level_any(bbt_cthread(k1), 7, "PROJ", z) == 0 &&
               !same(y, z) && same(x, z) &&
               bbt_ckey_level(bbt_cthread(k1), 7, "PROJ", "repo", z) == 0 &&
               same(y, z),
           "asked in turn with a repository's: each its own");
        ok(bbt_ckey_level_any(bbt_cthread(k2), 7, "PROJ", z) == 0 &&
               !same(x, z) &&
               bbt_ckey_level_any(bbt_cthread(k1), 7, "PROJ", y) == 0 &&
               same(x, y),
           "another maker's, and back");
    }
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ok(bbt_ckey_level(bbt_cthread(k1), 7, big, NULL, a) == -1,
       "an over-long key: -1");
    ok(bbt_ckey_level_any(bbt_cthread(k1), 7, big, a) == -1,
       "an over-long key for every repository: -1");
    bbt_ckeyer_free(k1);
    bbt_ckeyer_free(k1b);
    bbt_ckeyer_free(k2);
    bbt_ckeyer_free(NULL);
}

static bbt_centry_t row_entry(void)
{
    bbt_centry_t e;

    memset(&e, 0, sizeof(e));
    e.stamp = 0x0102030405060708ULL;
    e.kind = BBT_CENTRY_TOKEN;
    e.owner_id = 42;
    e.expires_us = 1800000000000000LL;
    e.last_use_us = 1700000000000001LL;
    e.refused_us = 0;
    e.use_tried_us = 1700000000000003LL;
    e.refused_tried_us = 1700000000000005LL;
    e.group_failed_us = 1700000000000002LL;
    e.group_tried_us = 1700000000000004LL;
    e.revoked = 0;
    e.user_active = 1;
    e.tok_project = BBT_LEVEL_READ;
    e.tok_repo = BBT_LEVEL_ADMIN;
    strcpy(e.user_name, "alice");
    strcpy(e.token_name, "laptop \xc3\xa9");
    return e;
}

static void test_encoding(void)
{
    unsigned char buf[BBT_CENTRY_BUF], small[16];
    bbt_centry_t e = row_entry(), d;
    size_t n, i;
    int bad = 0;
    unsigned char ver;
/* Where a token entry's flags are: magic, version, kind, stamp, eight
 * times. */
#define BBT_TEST_FLAGS (3 + 8 + 8 * 8)

    n = bbt_centry_encode(&e, buf, sizeof(buf));
    ok(n > 0, "a row entry encodes (%zu bytes)", n);
    ok(bbt_centry_decode(buf, n, &d) == 0 && d.stamp == e.stamp &&
           d.kind == e.kind && d.owner_id == 42 &&
           d.expires_us == e.expires_us && d.last_use_us == e.last_use_us &&
           d.refused_us == 0 && d.use_tried_us == e.use_tried_us &&
           d.refused_tried_us == e.refused_tried_us &&
           d.group_failed_us == e.group_failed_us &&
           d.group_tried_us == e.group_tried_us && !d.revoked &&
           d.user_active && d.tok_project == BBT_LEVEL_READ &&
           d.tok_repo == BBT_LEVEL_ADMIN && !strcmp(d.user_name, "alice") &&
           !strcmp(d.token_name, "laptop \xc3\xa9"),
       "and decodes to the same");
    for (i = 0; i < n; i++) {
        bad += bbt_centry_decode(buf, i, &d) != -1;
    }
    ok(bad == 0, "every truncation is refused");
    buf[n] = 0;
    ok(bbt_centry_decode(buf, n + 1, &d) == -1, "a trailing byte is refused");
    buf[0] = 'X';
    ok(bbt_centry_decode(buf, n, &d) == -1, "another magic is refused");
    buf[0] = 'T';
    ver = buf[1];
    buf[1] = 4;
    ok(bbt_centry_decode(buf, n, &d) == -1,
       "version 4 (levels before create) is refused");
    buf[1] = 6;
    ok(bbt_centry_decode(buf, n, &d) == -1,
       "version 6 (a failed group's address among its bytes) is refused");
    buf[1] = ver;
    ok(bbt_centry_decode(buf, n, &d) == 0, "this version decodes");
    buf[2] = 9;
    ok(bbt_centry_decode(buf, n, &d) == -1, "an unknown kind is refused");
    buf[2] = BBT_CENTRY_TOKEN;
    buf[BBT_TEST_FLAGS + 1] = BBT_LEVEL_ADMIN + 1;
    ok(bbt_centry_decode(buf, n, &d) == -1, "a level over ADMIN is refused");
    buf[BBT_TEST_FLAGS + 1] = BBT_LEVEL_READ;
    buf[BBT_TEST_FLAGS] = 4;
    ok(bbt_centry_decode(buf, n, &d) == -1, "unknown flags are refused");
    buf[BBT_TEST_FLAGS] = 2;
    buf[BBT_TEST_FLAGS + 3 + 2 + 1] = '\0';
    ok(bbt_centry_decode(buf, n, &d) == -1, "a NUL in a name is refused");
    ok(bbt_centry_decode(buf, 0, &d) == -1, "nothing is refused");

    ok(bbt_centry_encode(&e, small, sizeof(small)) == 0,
       "a buffer too small: 0");
    e.tok_repo = (bbt_level_t)7;
    ok(bbt_centry_encode(&e, buf, sizeof(buf)) == 0, "a bad level: 0");
    e = row_entry();
    memset(e.token_name, 'n', BBT_CENTRY_NAME_MAX);
    e.token_name[BBT_CENTRY_NAME_MAX] = '\0';
    memset(e.user_name, 'u', BBT_USER_MAX);
    e.user_name[BBT_USER_MAX] = '\0';
    /* No real entry has both an owner and a scope; the buffer is sized for
     * the longest of each. */
    e.scope.kind = BBT_KIND_REPO;
    e.scope.key[0] = '~';
    memset(e.scope.key + 1, 'k', BBT_USER_MAX);
    memset(e.scope.slug, 's', BBT_SLUG_MAX);
    memset(e.nets, '1', BBT_NETS_TEXT_MAX);
    e.nets[BBT_NETS_TEXT_MAX] = '\0';
    for (e.ngroups = 0; e.ngroups < BBT_AGROUPS_MAX; e.ngroups++) {
        e.groups[e.ngroups].family = 6;
        e.groups[e.ngroups].net[0] = (unsigned char)e.ngroups;
    }
    n = bbt_centry_encode(&e, buf, sizeof(buf));
    ok(n == BBT_CENTRY_BUF, "the longest names fit BBT_CENTRY_BUF exactly");
    ok(bbt_centry_decode(buf, n, &d) == 0 &&
           strlen(d.token_name) == BBT_CENTRY_NAME_MAX &&
           strlen(d.user_name) == BBT_USER_MAX &&
           strlen(d.scope.key) == BBT_KEY_BUF - 1 &&
           strlen(d.scope.slug) == BBT_SLUG_MAX,
       "and decode");

    memset(&e, 0, sizeof(e));
    e.kind = BBT_CENTRY_UNKNOWN;
    e.stamp = 5;
    n = bbt_centry_encode(&e, buf, sizeof(buf));
    ok(n == 11 && bbt_centry_decode(buf, n, &d) == 0 &&
           d.kind == BBT_CENTRY_UNKNOWN && d.stamp == 5,
       "an unknown id: 11 bytes, round trip");
    e.kind = BBT_CENTRY_WRONG_SECRET;
    n = bbt_centry_encode(&e, buf, sizeof(buf));
    ok(n == 11 && bbt_centry_decode(buf, n, &d) == 0 &&
           d.kind == BBT_CENTRY_WRONG_SECRET,
       "a wrong secret: round trip");
    ok(bbt_centry_decode(buf, 12, &d) == -1,
       "a refusal with trailing bytes is refused");
    e.kind = (bbt_centry_kind_t)0;
    ok(bbt_centry_encode(&e, buf, sizeof(buf)) == 0, "kind 0 does not encode");
}

static void test_levels(void)
{
    unsigned char b[BBT_CLEVEL_LEN];
    uint64_t stamp = 0;
    bbt_level_t l = BBT_LEVEL_NONE;

    bbt_clevel_encode(99, BBT_LEVEL_WRITE, b);
    ok(bbt_clevel_decode(b, sizeof(b), &stamp, &l) == 0 && stamp == 99 &&
           l == BBT_LEVEL_WRITE,
       "a level entry round trip");
    ok(bbt_clevel_decode(b, sizeof(b) - 1, &stamp, &l) == -1,
       "a short level entry is refused");
    bbt_clevel_encode(98, BBT_LEVEL_CREATE, b);
    ok(bbt_clevel_decode(b, sizeof(b), &stamp, &l) == 0 && stamp == 98 &&
           l == BBT_LEVEL_CREATE,
       "a create level entry round trip");
    b[9] = BBT_LEVEL_ADMIN + 1;
    ok(bbt_clevel_decode(b, sizeof(b), &stamp, &l) == -1,
       "a level over ADMIN is refused");
    bbt_clevel_encode(98, BBT_LEVEL_CREATE, b);
    b[0] = 'L';
    ok(bbt_clevel_decode(b, sizeof(b), &stamp, &l) == -1,
       "an entry of the levels before create ('L') is refused");
    b[9] = 0;
    b[0] = 'T';
    ok(bbt_clevel_decode(b, sizeof(b), &stamp, &l) == -1,
       "a token entry's magic is not a level entry");
}

static void test_usable(void)
{
    const int64_t now = 1000000000;

    ok(bbt_cache_usable(3, 3, now - 1000, now),
       "a stamp at the least the changes allow, fresh");
    ok(!bbt_cache_usable(2, 3, now - 1000, now),
       "an older stamp: a change came since");
    ok(bbt_cache_usable(4, 3, now - 1000, now),
       "a later stamp: made after the last change it must have seen");
    ok(!bbt_cache_usable(0, 1, now - 1000, now),
       "stamp 0 (no entry's) is below any floor");
    ok(!bbt_cache_usable(UINT64_MAX - 1, UINT64_MAX, now - 1000, now),
       "nothing is below the least for a token that has no mark");
    ok(!bbt_cache_usable(3, 3, 0, now), "no heartbeat: the listener is down");
    ok(bbt_cache_usable(3, 3, now - BBT_CACHE_FRESH_US + 1, now),
       "a heartbeat just under the limit");
    ok(!bbt_cache_usable(3, 3, now - BBT_CACHE_FRESH_US, now),
       "a heartbeat exactly at the limit is too old");
    ok(!bbt_cache_usable(3, 3, now - 60000000, now), "a minute old");
    ok(bbt_cache_usable(3, 3, now + 10, now),
       "a heartbeat published after now was read");
}

static void test_verdict(void)
{
    bbt_centry_t e = row_entry();
    bbt_tokrow_t row;
    const int64_t exp = e.expires_us;

    is_int(bbt_centry_verdict(&e, exp - 1, NULL, &row), BBT_VERDICT_OK,
           "a microsecond before the expiry: in");
    ok(row.user_name == e.user_name && row.tok_repo == BBT_LEVEL_ADMIN,
       "the row is handed back");
    is_int(bbt_centry_verdict(&e, exp, NULL, NULL), BBT_VERDICT_EXPIRED,
           "at the expiry: expired (as the database's expires_at <= now())");
    is_int(bbt_centry_verdict(&e, exp + 1000000, "alice", NULL),
           BBT_VERDICT_EXPIRED, "after it: expired");
    e.expires_us = 0;
    is_int(bbt_centry_verdict(&e, INT64_MAX, NULL, NULL), BBT_VERDICT_OK,
           "no expiry: never expires");
    is_int(bbt_centry_verdict(&e, 1, "bob", NULL), BBT_VERDICT_NOT_OWNER,
           "a Basic user name that is not the owner");
    e.revoked = 1;
    is_int(bbt_centry_verdict(&e, 1, NULL, NULL), BBT_VERDICT_REVOKED,
           "revoked");
    e.revoked = 0;
    e.user_active = 0;
    is_int(bbt_centry_verdict(&e, 1, NULL, NULL), BBT_VERDICT_DISABLED,
           "owner disabled");
    e.kind = BBT_CENTRY_UNKNOWN;
    is_int(bbt_centry_verdict(&e, 1, NULL, NULL), BBT_VERDICT_UNKNOWN,
           "an unknown id");
    e.kind = BBT_CENTRY_WRONG_SECRET;
    is_int(bbt_centry_verdict(&e, 1, "alice", NULL), BBT_VERDICT_WRONG_SECRET,
           "a wrong secret");
    e.kind = (bbt_centry_kind_t)0;
    is_int(bbt_centry_verdict(&e, 1, NULL, NULL), BBT_VERDICT_BROKEN,
           "no kind: never a way in");
}

/* A project's and a repository's token: the scope survives the round
 * trip, a broken one is refused either way, and no owner is asked. */
static void test_scope(void)
{
    unsigned char buf[BBT_CENTRY_BUF];
    bbt_centry_t e = row_entry(), d;
    size_t n;

    e.owner_id = 0;
    e.user_name[0] = '\0';
    e.user_active = 0;
    e.scope.kind = BBT_KIND_REPO;
    strcpy(e.scope.key, "PROJ");
    strcpy(e.scope.slug, "repo");
    e.tok_project = BBT_LEVEL_NONE;
    e.tok_repo = BBT_LEVEL_WRITE;
    n = bbt_centry_encode(&e, buf, sizeof(buf));
    ok(n > 0 && bbt_centry_decode(buf, n, &d) == 0 &&
           d.scope.kind == BBT_KIND_REPO && !strcmp(d.scope.key, "PROJ") &&
           !strcmp(d.scope.slug, "repo") && d.tok_project == BBT_LEVEL_NONE,
       "a repository token's entry: kind, key and slug round trip");
    is_int(bbt_centry_verdict(&d, 1, NULL, NULL), BBT_VERDICT_OK,
           "  in, with no owner to be active");
    is_int(bbt_centry_verdict(&d, 1, "X-Token-Auth", NULL), BBT_VERDICT_OK,
           "  Basic as x-token-auth, in any case");
    is_int(bbt_centry_verdict(&d, 1, "alice", NULL), BBT_VERDICT_NOT_OWNER,
           "  Basic as anyone else: refused");
    /* The tail: kind, 2 + "PROJ", 2 + "repo", then no allow-list (2 + "")
     * and no groups (1). */
    ok(buf[n - 16] == BBT_KIND_REPO && !memcmp(buf + n - 13, "PROJ", 4),
       "the scope is before the allow-list and the groups");
    buf[n - 16] = BBT_KIND_PROJECT;
    ok(bbt_centry_decode(buf, n, &d) == -1,
       "a project token's entry with a slug is refused");
    buf[n - 16] = 7;
    ok(bbt_centry_decode(buf, n, &d) == -1, "an unknown kind is refused");
    buf[n - 16] = BBT_KIND_REPO;
    ok(bbt_centry_decode(buf, n, &d) == 0, "put back, it decodes");
    buf[n - 13] = 'p';
    ok(bbt_centry_decode(buf, n, &d) == -1,
       "a key not spelled canonically is refused");
    strcpy(e.scope.key, "proj");
    ok(bbt_centry_encode(&e, buf, sizeof(buf)) == 0, "nor is one encoded");
    strcpy(e.scope.key, "PROJ");
    e.scope.kind = BBT_KIND_PROJECT;
    ok(bbt_centry_encode(&e, buf, sizeof(buf)) == 0,
       "a project token with a slug does not encode");
    e.scope.slug[0] = '\0';
    e.tok_project = BBT_LEVEL_READ;
    n = bbt_centry_encode(&e, buf, sizeof(buf));
    ok(n > 0 && bbt_centry_decode(buf, n, &d) == 0 &&
           d.scope.kind == BBT_KIND_PROJECT && !strcmp(d.scope.key, "PROJ") &&
           d.scope.slug[0] == '\0',
       "a project token's entry round trips");
    d.tok_project = BBT_LEVEL_NONE;
    is_int(bbt_centry_verdict(&d, 1, NULL, NULL), BBT_VERDICT_BROKEN,
           "  without a project level: broken (500), never in");
}

static void test_due(void)
{
    const int64_t now = 1700000000000000LL;

    ok(!bbt_centry_expired(0, now), "no expiry: never expired");
    ok(!bbt_centry_expired(now + 1, now), "a microsecond before: not");
    ok(bbt_centry_expired(now, now), "at the expiry: expired");
    ok(bbt_centry_expired(now - 1, now), "after it: expired");

    ok(bbt_centry_due(0, 60, now), "never written: due");
    ok(!bbt_centry_due(now - 59999999, 60, now), "written 59.99 s ago: not");
    ok(bbt_centry_due(now - 60000000, 60, now), "written 60 s ago: due");
    ok(bbt_centry_due(now, 0, now), "interval 0: always due");
    ok(!bbt_centry_due(now, 86400, now + 1000000), "a day's interval");
    /* Written by a clock ahead of this one (the database's; this host's
     * before it was set back). */
    ok(!bbt_centry_due(now + 59999999, 60, now), "59.99 s ahead: not");
    ok(bbt_centry_due(now + 60000000, 60, now), "60 s ahead: due");
    ok(bbt_centry_due(now + 3LL * 3600 * 1000000, 60, now),
       "3 hours ahead (a clock set back): due, not in 3 hours");
    ok(bbt_centry_due(INT64_MAX, 60, now), "the end of 64-bit time: due");
    ok(bbt_centry_due(INT64_MIN, 60, now), "its beginning: due");
    ok(!bbt_centry_due(now + 1, 60, now), "a microsecond ahead: not");
}

/* A write that could not be made, or is claimed, is due again after the
 * retry: not on the next request, not an interval later, whatever the
 * interval of the host that tried it. */
static void test_retry(void)
{
    const int64_t now = 1700000000000000LL, s = 1000000LL;
    const int64_t old = now - 9LL * 86400 * s;
    const int64_t after = now + BBT_CENTRY_RETRY * s;

    ok(bbt_centry_owed(old, 0, 3600, now), "not tried since: due by its time");
    ok(!bbt_centry_owed(now - s, 0, 3600, now) &&
           !bbt_centry_owed(now - s, now - s, 3600, now + 10 * s),
       "written a second ago: not due, tried or not");
    ok(!bbt_centry_owed(old, now, 3600, now), "tried now: not due at once");
    ok(!bbt_centry_owed(old, now, 3600, after - 1),
       "  nor a moment before the retry");
    ok(bbt_centry_owed(old, now, 3600, after),
       "  due after BBT_CENTRY_RETRY seconds, not the interval");
    ok(bbt_centry_owed(old, now, 60, after) &&
           bbt_centry_owed(old, now, 86400, after),
       "  under any interval: a try is not a time written");
    ok(!bbt_centry_owed(old, now, 60, after - 1) &&
           !bbt_centry_owed(old, now, 86400, after - 1),
       "  and holds under any interval until then");
    ok(!bbt_centry_owed(old, now, 2, now + 1999999) &&
           bbt_centry_owed(old, now, 2, now + 2 * s),
       "an interval shorter than the retry: due after the interval");
    ok(bbt_centry_owed(now, now, 0, now),
       "interval 0: due on the next request, as every write is");
    ok(bbt_centry_owed(old, now + 3LL * 3600 * s, 3600, now),
       "tried by a clock hours ahead: due, not in hours");
}

/* The allow-list and the known address groups ride in a row's entry. */
static void test_where(void)
{
    unsigned char buf[BBT_CENTRY_BUF];
    bbt_centry_t e = row_entry(), d;
    size_t n;

    strcpy(e.nets, "10.0.0.0/8 2001:db8::/32");
    e.ngroups = 2;
    e.groups[0].family = 4;
    memcpy(e.groups[0].net, "\x7f\x00\x00", 3);
    e.groups[1].family = 6;
    e.groups[1].net[7] = 1;
    n = bbt_centry_encode(&e, buf, sizeof(buf));
    ok(n > 0 && bbt_centry_decode(buf, n, &d) == 0 &&
           !strcmp(d.nets, "10.0.0.0/8 2001:db8::/32") && d.ngroups == 2 &&
           d.groups[0].family == 4 && d.groups[0].net[0] == 0x7f &&
           d.groups[1].family == 6 && d.groups[1].net[7] == 1,
       "the allow-list and the groups round trip");
    ok(bbt_centry_decode(buf, n - 1, &d) == -1, "a group cut short is refused");
    buf[n - 9] = 5;
    ok(bbt_centry_decode(buf, n, &d) == -1, "a group of no family is refused");
    buf[n - 9] = 6;
    buf[n - 19] = BBT_AGROUPS_MAX + 1;
    ok(bbt_centry_decode(buf, n, &d) == -1, "too many groups are refused");
    e.groups[1].family = 0;
    ok(bbt_centry_encode(&e, buf, sizeof(buf)) == 0,
       "nor does a group of no family encode");
    e.groups[1].family = 6;
    e.ngroups = BBT_AGROUPS_MAX + 1;
    ok(bbt_centry_encode(&e, buf, sizeof(buf)) == 0, "nor do too many groups");
}

/* Each thread's copies: found under their key only, the latest bytes,
 * at most BBT_CNEAR_SLOTS of them, another maker's never. */
static void test_near(void)
{
    bbt_ckeyer_t *k1 = bbt_ckeyer_new(secret1, sizeof(secret1));
    bbt_ckeyer_t *k2 = bbt_ckeyer_new(secret1, sizeof(secret1));
    unsigned char keys[BBT_CNEAR_SLOTS + 1][BBT_CKEY_LEN];
    unsigned char bytes[BBT_CENTRY_BUF + 1];
    const unsigned char *got;
    size_t len = 0;
    int i, found;

    memset(keys, 0, sizeof(keys));
    for (i = 0; i <= BBT_CNEAR_SLOTS; i++) {
        keys[i][0] = (unsigned char)(i + 1);
    }
    ok(bbt_cnear_get(bbt_cthread(k1), keys[0], &len) == NULL,
       "nothing before a put");
    bbt_cnear_put(bbt_cthread(k1), keys[0], (const unsigned char *)"first", 5);
    got = bbt_cnear_get(bbt_cthread(k1), keys[0], &len);
    ok(got && len == 5 && memcmp(got, "first", 5) == 0, "the bytes put");
    ok(bbt_cnear_get(bbt_cthread(k1), keys[1], &len) == NULL,
       "not under another key");
    bbt_cnear_put(bbt_cthread(k1), keys[0], (const unsigned char *)"second!",
                  7);
    got = bbt_cnear_get(bbt_cthread(k1), keys[0], &len);
    ok(got && len == 7 && memcmp(got, "second!", 7) == 0,
       "a put under the same key replaces the copy");
    for (i = 1; i <= BBT_CNEAR_SLOTS; i++) {
        bbt_cnear_put(bbt_cthread(k1), keys[i], (const unsigned char *)"x", 1);
    }
    for (found = 0, i = 0; i <= BBT_CNEAR_SLOTS; i++) {
        found += bbt_cnear_get(bbt_cthread(k1), keys[i], &len) != NULL;
    }
    ok(found == BBT_CNEAR_SLOTS, "at most BBT_CNEAR_SLOTS copies");
    ok(bbt_cnear_get(bbt_cthread(k1), keys[0], &len) == NULL,
       "the oldest went first");
    memset(bytes, 7, sizeof(bytes));
    bbt_cnear_put(bbt_cthread(k1), keys[1], bytes, BBT_CENTRY_BUF);
    got = bbt_cnear_get(bbt_cthread(k1), keys[1], &len);
    ok(got && len == BBT_CENTRY_BUF && memcmp(got, bytes, len) == 0,
       "the largest entry is kept whole");
    ok(bbt_cnear_get(bbt_cthread(k1), keys[2], &len) != NULL,
       "a copy under a key");
    bbt_cnear_put(bbt_cthread(k1), keys[2], bytes, BBT_CENTRY_BUF + 1);
    ok(bbt_cnear_get(bbt_cthread(k1), keys[2], &len) == NULL,
       "nothing larger than an entry is kept, nor the older copy");
    ok(bbt_cnear_get(bbt_cthread(k2), keys[1], &len) == NULL,
       "another key maker (a restart) finds none of them");
    bbt_cnear_put(bbt_cthread(k2), keys[3], (const unsigned char *)"k2", 2);
    ok(bbt_cnear_get(bbt_cthread(k1), keys[1], &len) == NULL,
       "nor does the first maker find them again");
    bbt_ckeyer_free(k1);
    bbt_ckeyer_free(k2);
}

/* A thread's copy decoded as a token's entry: the latest bytes under the
 * key, decoded again after every put, none for bytes that are no entry. */
static void test_near_entry(void)
{
    bbt_ckeyer_t *k1 = bbt_ckeyer_new(secret1, sizeof(secret1));
    bbt_ckeyer_t *k2 = bbt_ckeyer_new(secret1, sizeof(secret1));
    unsigned char key[BBT_CKEY_LEN], other[BBT_CKEY_LEN];
    unsigned char buf[BBT_CENTRY_BUF];
    const bbt_centry_t *got, *again;
    bbt_centry_t e;
    size_t n;

    memset(key, 0x31, sizeof(key));
    memset(other, 0x32, sizeof(other));
    memset(&e, 0, sizeof(e));
    e.kind = BBT_CENTRY_TOKEN;
    e.stamp = 7;
    e.owner_id = 42;
    e.user_active = 1;
    e.tok_project = BBT_LEVEL_NONE;
    e.tok_repo = BBT_LEVEL_READ;
    e.scope.kind = BBT_KIND_PERSONAL;
    strcpy(e.user_name, "alice");
    strcpy(e.token_name, "ci");
    ok(bbt_cnear_entry(bbt_cthread(k1), key) == NULL, "no copy: no entry");
    n = bbt_centry_encode(&e, buf, sizeof(buf));
    bbt_cnear_put(bbt_cthread(k1), key, buf, n);
    got = bbt_cnear_entry(bbt_cthread(k1), key);
    ok(got && got->owner_id == 42 && strcmp(got->user_name, "alice") == 0 &&
           got->stamp == 7 && strcmp(got->token_name, "ci") == 0,
       "a copy decodes to its entry");
    again = bbt_cnear_entry(bbt_cthread(k1), key);
    ok(again == got && again->owner_id == 42,
       "and is kept decoded for the next request");
    e.stamp = 8;
    e.revoked = 1;
    strcpy(e.user_name, "bob");
    n = bbt_centry_encode(&e, buf, sizeof(buf));
    bbt_cnear_put(bbt_cthread(k1), key, buf, n);
    got = bbt_cnear_entry(bbt_cthread(k1), key);
    ok(got && got->stamp == 8 && got->revoked &&
           strcmp(got->user_name, "bob") == 0,
       "a put under the key: the new bytes are decoded, not the old");
    ok(bbt_cnear_entry(bbt_cthread(k1), other) == NULL,
       "not under another key");
    bbt_cnear_put(bbt_cthread(k1), other, (const unsigned char *)"junk", 4);
    ok(bbt_cnear_entry(bbt_cthread(k1), other) == NULL,
       "bytes that are no entry: none");
    ok(bbt_cnear_entry(bbt_cthread(k1), other) == NULL, "and none again");
    bbt_cnear_put(bbt_cthread(k1), other, buf, n);
    got = bbt_cnear_entry(bbt_cthread(k1), other);
    ok(got && got->stamp == 8, "an entry put where junk was decodes");
    bbt_cnear_put(bbt_cthread(k1), key, (const unsigned char *)"junk", 4);
    ok(bbt_cnear_entry(bbt_cthread(k1), key) == NULL,
       "junk put over an entry: its decoding is gone too");
    ok(bbt_cnear_entry(bbt_cthread(k2), other) == NULL,
       "another key maker finds no decoded copy");
    bbt_ckeyer_free(k1);
    bbt_ckeyer_free(k2);
}

int main(void)
{
    test_keys();
    test_encoding();
    test_levels();
    test_usable();
    test_verdict();
    test_scope();
    test_due();
    test_retry();
    test_where();
    test_near();
    test_near_entry();
    return done_testing();
}
