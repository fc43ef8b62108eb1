/* A body's shape measured before jansson builds it (bbt_jshape): exactly
 * jansson's shape for JSON, whatever its strings hold and however it is
 * spaced; each bound refused one past it and not at it; what goes on to
 * jansson is read strictly. */
#include "bbt_jshape.h"
#include "jshape_oracle.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const bbt_jshape_t unbounded = {BBT_JSHAPE_DEPTH_MAX, 1u << 30, 1u << 30,
                                       0};

/* jansson's own count of j's shape, j at depth d (the top one's 1 if it
 * is an array or object). */
/* The measured shape of text is jansson's: 1, or 0 after saying why
 * (and with quiet non-zero, nothing printed when it is). */
static int same_shape_q(const char *text, size_t len, const char *name,
                        int quiet)
{
    json_error_t err;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY, &err);
    bbt_jshape_t want = {0, 0, 0, 0}, got;
    size_t at;
    int rc;

    if (!j) {
        return ok(0, "%s: jansson reads it (%s)", name, err.text);
    }
    jshape_oracle(j, 1, &want);
    json_decref(j);
    rc = bbt_jshape_measure(text, len, &unbounded, &got, &at);
    if (quiet && rc == BBT_JSHAPE_OK && got.depth == want.depth &&
        got.items == want.items && got.values == want.values) {
        return 1;
    }
    if (!ok(rc == BBT_JSHAPE_OK && got.depth == want.depth &&
                got.items == want.items && got.values == want.values,
            "%s: depth %u, items %u, values %u", name, want.depth, want.items,
            want.values)) {
        diag("measured rc %d: depth %u, items %u, values %u", rc, got.depth,
             got.items, got.values);
        diag("text: %.*s", (int)(len > 200 ? 200 : len), text);
        return 0;
    }
    return 1;
}

static int same_shape_s(const char *text, const char *name)
{
    return same_shape_q(text, strlen(text), name, 0);
}

/* Strings that look like structure, escapes that end in a quote or a
 * backslash. */
static const char *const tricky[] = {
    "",     "[",        "]",   "{}",     ",,,",      "\\",           "\"",
    "\\\"", "[\"],{\"", "a:b", "\\\\\"", "\xc3\xa9", "\xe2\x82\xac", "\x01",
};

static unsigned rnd_state = 12345;
static unsigned rnd(unsigned n)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return (rnd_state >> 16) % n;
}

static json_t *random_tree(unsigned depth)
{
    json_t *j;
    char key[32];
    unsigned i, n;

    switch (depth ? rnd(8) : rnd(5)) {
    case 0:
        return json_string(tricky[rnd(sizeof(tricky) / sizeof(*tricky))]);
    case 1:
        return json_integer((json_int_t)rnd(100000) - 50000);
    case 2:
        return json_real(rnd(1000) / 7.0);
    case 3:
        return rnd(2) ? json_true() : json_null();
    case 4:
        return json_string("plain");
    case 5:
    case 6:
        j = json_array();
        for (i = 0, n = rnd(6); i < n; i++) {
            json_array_append_new(j, random_tree(depth - 1));
        }
        return j;
    default:
        j = json_object();
        for (i = 0, n = rnd(6); i < n; i++) {
            snprintf(key, sizeof(key), "%s%u",
                     tricky[rnd(sizeof(tricky) / sizeof(*tricky))], i);
            json_object_set_new(j, key, random_tree(depth - 1));
        }
        return j;
    }
}

static void test_exact(void)
{
    static const size_t flags[] = {JSON_COMPACT, JSON_INDENT(2),
                                   JSON_INDENT(1) | JSON_ENSURE_ASCII,
                                   JSON_ENCODE_ANY};
    int i, bad = 0;

    same_shape_s("{}", "an empty object");
    same_shape_s("[]", "an empty array");
    same_shape_s(" [ ] ", "an empty array, spaced");
    same_shape_s("0", "a number alone");
    same_shape_s("\"[[[,,,]]]\"", "a string of brackets alone");
    same_shape_s("[0]", "one item");
    same_shape_s("[[], {}, [[]]]", "empty ones inside");
    same_shape_s("{\"a\": {\"b\": {\"c\": [1, 2, 3]}}}", "members in members");
    same_shape_s("[\"a,b\", \"[\", \"{\", \"]\", \"}\", \":\"]",
                 "structure inside strings");
    same_shape_s("[\"\\\"\", \"\\\\\", \"\\\\\\\"\", \"\\\\\\\\\"]",
                 "escaped quotes and backslashes");
    same_shape_s("{\"\\\",[\": [\"\\\\\"], \"x\": \"\\u005b\"}",
                 "a name with a quote, a comma and a bracket");
    same_shape_s("\t[\r\n1\t,\n2 ,3]\n", "every kind of white space");
    same_shape_s("[true,false,null,-1.5e3,\"\xe2\x82\xac\"]", "every scalar");
    same_shape_s("{\"name\":\"laptop\",\"permissions\":[\"PROJECT_READ\","
                 "\"REPO_WRITE\"],\"expiryDays\":90,\"allowedAddresses\":"
                 "[\"10.0.0.0/8\"]}",
                 "a token's create body");
    for (i = 0; i < 2000 && !bad; i++) {
        json_t *t = random_tree(6);
        char *text = json_dumps(t, flags[i % 4] | JSON_ENCODE_ANY);

        if (!text) {
            bad = !ok(0, "dumped random tree %d", i);
        } else {
            bad = !same_shape_q(text, strlen(text), "random", 1);
        }
        free(text);
        json_decref(t);
    }
    if (!bad) {
        ok(1, "2000 random trees, four spacings: each measured exactly");
    }
}

/* text under lim: want (and for a refusal, the byte that passed it). */
static void bound(const char *text, const bbt_jshape_t *lim,
                  bbt_jshape_rc_t want, size_t want_at, const char *name)
{
    bbt_jshape_t seen;
    size_t at;
    bbt_jshape_rc_t rc =
        bbt_jshape_measure(text, strlen(text), lim, &seen, &at);

    if (!ok(rc == want && (want == BBT_JSHAPE_OK || at == want_at), "%s",
            name)) {
        diag("got rc %d at byte %zu, wanted %d at %zu", rc, at, want, want_at);
    }
}

/* n copies of item, comma-separated, between open and close. */
static char *fill(const char *open, const char *item, const char *close,
                  unsigned n)
{
    size_t il = strlen(item), l = strlen(open);
    char *b = malloc(l + n * (il + 1) + strlen(close) + 1);
    unsigned i;

    memcpy(b, open, l);
    for (i = 0; i < n; i++) {
        if (i) {
            b[l++] = ',';
        }
        memcpy(b + l, item, il);
        l += il;
    }
    strcpy(b + l, close);
    return b;
}

static void test_bounds(void)
{
    const bbt_jshape_t lim = {3, 4, 10, 0};
    char *t;

    bound("[[[0]]]", &lim, BBT_JSHAPE_OK, 0, "3 deep: within 3");
    bound("[[[[0]]]]", &lim, BBT_JSHAPE_DEEP, 3, "4 deep: over 3, at its [");
    bound("{\"a\":{\"b\":{\"c\":{}}}}", &lim, BBT_JSHAPE_DEEP, 15,
          "objects 4 deep");
    bound("[1,2,3,4]", &lim, BBT_JSHAPE_OK, 0, "4 items: within 4");
    bound("[1,2,3,4,5]", &lim, BBT_JSHAPE_ITEMS, 8,
          "5 items: over, at the comma");
    bound("{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5}", &lim, BBT_JSHAPE_ITEMS,
          24, "5 members");
    bound("[[1,2,3],[4,5,6],7]", &lim, BBT_JSHAPE_OK, 0, "10 values: within");
    bound("[[1,2,3],[4,5,6],[7]]", &lim, BBT_JSHAPE_VALUES, 18,
          "11 values: over, at the 11th");
    bound("[\"[[[[,,,,,\"]", &lim, BBT_JSHAPE_OK, 0,
          "brackets and commas in a string are not counted");
    bound("[\"\\\"[[[[\"]", &lim, BBT_JSHAPE_OK, 0,
          "nor after an escaped quote");
    bound("[\"\\\\\",[[[0]]]]", &lim, BBT_JSHAPE_DEEP, 8,
          "but after an escaped backslash the string has ended");
    /* Not JSON: what jansson would build before it stops is counted. */
    bound("[{},{},{},{},{}", &lim, BBT_JSHAPE_ITEMS, 12,
          "an array never closed is counted as far as it goes");
    bound("[1,,,,,]", &lim, BBT_JSHAPE_ITEMS, 5, "empty items count");
    bound("[[[[", &lim, BBT_JSHAPE_DEEP, 3, "brackets only");
    bound("]]]]]]]]{{{", &lim, BBT_JSHAPE_OK, 0,
          "closing brackets first are no depth (jansson refuses them)");
    t = fill("[", "{}", "]", 20000);
    bound(t, &lim, BBT_JSHAPE_ITEMS, 12, "20,000 objects: refused early");
    free(t);
}

static void test_load(void)
{
    const bbt_jshape_t lim = {2, 4, 8, 0};
    json_error_t err;
    json_t *j;
    char *t;

    ok(bbt_jshape_load("{\"a\":[1,2]}", 11, &lim, &j, &err) == BBT_JSHAPE_OK &&
           json_is_object(j),
       "within the bound: loaded");
    json_decref(j);
    ok(bbt_jshape_load("\"s\"", 3, &lim, &j, &err) == BBT_JSHAPE_OK &&
           json_is_string(j),
       "any value at the top: the caller checks the type");
    json_decref(j);
    ok(bbt_jshape_load("{\"a\":1,\"a\":2}", 13, &lim, &j, &err) ==
               BBT_JSHAPE_MALFORMED &&
           !j && strstr(err.text, "duplicate object key"),
       "a member name twice: refused (%s)", err.text);
    ok(bbt_jshape_load("{\"a\":{\"b\":1,\"b\":2}}", 21, &lim, &j, &err) ==
               BBT_JSHAPE_MALFORMED &&
           !j,
       "twice inside another object too");
    ok(bbt_jshape_load("{\"a\":1,\"\\u0061\":2}", 18, &lim, &j, &err) ==
               BBT_JSHAPE_MALFORMED &&
           !j,
       "twice, once escaped: the same name, refused");
    ok(bbt_jshape_load("{} {}", 5, &lim, &j, &err) == BBT_JSHAPE_MALFORMED &&
           !j,
       "bytes after the value: refused");
    ok(bbt_jshape_load("[\"a\\u0000\"]", 11, &lim, &j, &err) ==
               BBT_JSHAPE_MALFORMED &&
           !j,
       "\\u0000: refused");
    ok(bbt_jshape_load("[\"\xff\"]", 5, &lim, &j, &err) ==
               BBT_JSHAPE_MALFORMED &&
           !j,
       "not UTF-8: refused");
    ok(bbt_jshape_load(NULL, 0, &lim, &j, &err) == BBT_JSHAPE_MALFORMED && !j,
       "nothing: refused, not a crash");
    ok(bbt_jshape_load("\xef\xbb\xbf{\"a\":1}", 10, &lim, &j, &err) ==
               BBT_JSHAPE_OK &&
           json_is_object(j) &&
           json_integer_value(json_object_get(j, "a")) == 1,
       "one UTF-8 byte-order mark before the value: skipped");
    json_decref(j);
    ok(bbt_jshape_load("\xef\xbb\xbf\xef\xbb\xbf{}", 8, &lim, &j, &err) ==
               BBT_JSHAPE_MALFORMED &&
           !j && err.position >= 3,
       "a second byte-order mark: refused, at byte %d", err.position);
    ok(bbt_jshape_load("{}\xef\xbb\xbf", 5, &lim, &j, &err) ==
               BBT_JSHAPE_MALFORMED &&
           !j,
       "a byte-order mark after the value: refused");
    ok(bbt_jshape_load("\xef\xbb\xbf", 3, &lim, &j, &err) ==
               BBT_JSHAPE_MALFORMED &&
           !j,
       "a byte-order mark alone: refused");
    ok(bbt_jshape_load("\xef\xbb\xbf[[[0]]]", 10, &lim, &j, &err) ==
               BBT_JSHAPE_DEEP &&
           !j && err.position == 5,
       "after a byte-order mark, the position counts it (%d)", err.position);
    ok(bbt_jshape_load("[[[0]]]", 7, &lim, &j, &err) == BBT_JSHAPE_DEEP && !j &&
           err.position == 2,
       "too deep: refused before jansson, at byte 2");
    is_str(err.text, "arrays and objects nest more than 2 deep",
           "  and says so");
    ok(bbt_jshape_load("[1,2,3,4,5]", 11, &lim, &j, &err) == BBT_JSHAPE_ITEMS &&
           !j,
       "too many items");
    is_str(err.text, "an array or object holds more than 4 items",
           "  and says so");
    ok(bbt_jshape_load("[[1,2],[3,4],[5]]", 17, &lim, &j, &err) ==
               BBT_JSHAPE_VALUES &&
           !j,
       "too many values");
    is_str(err.text, "it holds more than 8 values", "  and says so");
    /* A duplicate is jansson's to find, an oversized body ours: the
     * bound comes first, so such a body costs no tree. */
    t = fill("{", "\"a\":0", "}", 10000);
    ok(bbt_jshape_load(t, strlen(t), &lim, &j, &err) == BBT_JSHAPE_ITEMS && !j,
       "10,000 members of one name: refused by the bound");
    free(t);
}

static bbt_jshape_rc_t twins_load(const char *s, const bbt_jshape_t *lim,
                                  json_t **j, json_error_t *err)
{
    return bbt_jshape_load(s, strlen(s), lim, j, err);
}

static void test_twins(void)
{
    const bbt_jshape_t lim = {4, 8, 32, 1};
    const bbt_jshape_t lax = {4, 8, 32, 0};
    char long_a[80], long_b[80];
    json_error_t err;
    json_t *j;

    ok(bbt_jshape_twin("name", "Name") && bbt_jshape_twin("NAME", "name"),
       "twin: ASCII letters equal but for case");
    ok(!bbt_jshape_twin("name", "names") && !bbt_jshape_twin("name", "nam"),
       "twin: not of another length");
    ok(!bbt_jshape_twin("name", "nome") && !bbt_jshape_twin("a_b", "a-b"),
       "twin: not another letter, nor '_' for '-'");
    ok(bbt_jshape_twin("\xe2\x84\xaa"
                       "ey",
                       "key") &&
           bbt_jshape_twin("key", "\xe2\x84\xaa"
                                  "ey"),
       "twin: a character not ASCII (the Kelvin sign) matches either way");
    ok(!bbt_jshape_twin("\xc3\xa9t\xc3\xa9", "\xc3\xa9t"),
       "twin: counted in characters, not bytes");
    ok(twins_load("{\"name\":\"a\",\"Name\":\"b\"}", &lim, &j, &err) ==
               BBT_JSHAPE_TWIN &&
           !j,
       "load, twins asked: \"name\" beside \"Name\" refused");
    is_str(err.text,
           "the member names \"name\" and \"Name\" are one name but for case",
           "  saying which");
    ok(twins_load("{\"a\":[{\"x\":1,\"X\":2}]}", &lim, &j, &err) ==
               BBT_JSHAPE_TWIN &&
           !j,
       "  in an object in an array in an object too");
    ok(twins_load("{\"name\":\"a\",\"Name\":\"b\"}", &lax, &j, &err) ==
               BBT_JSHAPE_OK &&
           j,
       "load, twins not asked: loaded (the route reader asks per member)");
    json_decref(j);
    ok(twins_load("{\"name\":\"a\",\"nome\":{\"name\":1}}", &lim, &j, &err) ==
               BBT_JSHAPE_OK &&
           j,
       "one name in two objects, or two names: loaded");
    json_decref(j);
    /* Names cut to 48 bytes, never inside a character: the message
     * stays UTF-8, whole. */
    memset(long_a, 'a', 60);
    memcpy(long_a + 47, "\xc3\xa9", 2);
    long_a[60] = '\0';
    memcpy(long_b, long_a, sizeof(long_b));
    long_b[0] = 'A';
    {
        char buf[256];

        snprintf(buf, sizeof(buf), "{\"%s\":1,\"%s\":2}", long_a, long_b);
        ok(bbt_jshape_load(buf, strlen(buf), &lim, &j, &err) ==
                   BBT_JSHAPE_TWIN &&
               !strstr(err.text, "\xc3\"") && strstr(err.text, "aaa\" and") &&
               strlen(err.text) < sizeof(err.text) - 1,
           "long names: cut before a character 48 bytes would split (%s)",
           err.text);
    }
}

int main(void)
{
    test_exact();
    test_bounds();
    test_load();
    test_twins();
    return done_testing();
}
