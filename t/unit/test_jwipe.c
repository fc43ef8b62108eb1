/*
 * Wiping a secret out of jansson's copies (bbt_jwipe.c): a string member
 * is overwritten in place with zero bytes, its length kept, so what the
 * object frees holds nothing of it, and a dump of the object made after
 * shows none of it; other members and other objects are left as they
 * were; what is no object or no string member is not touched.  The
 * answer's text is written where jansson never holds it: of the buffers
 * jansson frees (seen through its allocation hooks), none holds the
 * token, where json_dumps leaves its own behind.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "bbt_jwipe.h"
#include "tap.h"

#define SECRET "BBDC-NDQ0NDQ0NDQ0NDQ0OkFBQUFBQUFBQUFBQUFBQUFBQUFB"

/* jansson's allocations, each with its size before it (in a header as
 * aligned as malloc's) and zeroed, so that a free can read all of what it
 * frees. */
#define HOOK_HEAD 16
static int freed_holding;

static void *hooked_malloc(size_t n)
{
    unsigned char *p = calloc(1, HOOK_HEAD + n);

    if (!p) {
        return NULL;
    }
    memcpy(p, &n, sizeof(n));
    return p + HOOK_HEAD;
}

static void hooked_free(void *v)
{
    unsigned char *p = v;
    size_t n;

    if (!p) {
        return;
    }
    p -= HOOK_HEAD;
    memcpy(&n, p, sizeof(n));
    if (memmem(p + HOOK_HEAD, n, "NDQ0NDQ0", 8)) {
        freed_holding++;
    }
    free(p);
}

/* An answer as the API makes one, its text by dump, then everything
 * freed as bbt_rest_send frees it: how many of jansson's buffers were
 * freed holding the token. */
static int answer_leaves(int by_jansson)
{
    json_t *o =
        json_pack("{s:s, s:s, s:[s, s], s:I}", "id", "123456789012", "name",
                  "a ci token for the build farm", "permissions", "REPO_READ",
                  "PROJECT_READ", "createdDate", (json_int_t)1700000000000);
    char *text;

    json_object_set_new(o, "token", json_string(SECRET));
    freed_holding = 0;
    text = by_jansson ? json_dumps(o, JSON_COMPACT)
                      : bbt_jwipe_dump(o, JSON_COMPACT);
    bbt_jwipe_member(o, "token");
    json_decref(o);
    if (!text || !strstr(text, "\"token\":\"" SECRET "\"")) {
        freed_holding = -1;
    }
    if (by_jansson) {
        OPENSSL_cleanse(text, strlen(text));
        hooked_free(text);
    } else {
        bbt_jwipe_free(text);
    }
    return freed_holding;
}

static int all_zero(const char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (p[i]) {
            return 0;
        }
    }
    return 1;
}

int main(void)
{
    int left;

    json_set_alloc_funcs(hooked_malloc, hooked_free);
    json_t *o =
        json_pack("{s:s, s:s, s:i}", "token", SECRET, "name", "ci", "id", 7);
    json_t *tok = json_object_get(o, "token");
    const char *v = json_string_value(tok);
    char *dump;

    ok(o && v && strcmp(v, SECRET) == 0, "the object holds the token");
    ok(bbt_jwipe_member(o, "token") == 1, "its token member is wiped");
    ok(json_string_value(json_object_get(o, "token")) == v,
       "  in place: the same buffer");
    ok(all_zero(v, strlen(SECRET)), "  every byte of it is zero");
    ok(json_string_length(tok) == strlen(SECRET), "  its length is kept");
    is_str(json_string_value(json_object_get(o, "name")), "ci",
           "  another member is as it was");
    dump = bbt_jwipe_dump(o, JSON_COMPACT);
    ok(dump && !strstr(dump, "BBDC-") && !strstr(dump, "NDQ0"),
       "a dump made after shows none of it");
    bbt_jwipe_free(dump);

    ok(bbt_jwipe_member(o, "id") == 0, "a member that is no string: not one");
    ok(json_integer_value(json_object_get(o, "id")) == 7, "  and left alone");
    ok(bbt_jwipe_member(o, "absent") == 0, "no such member: nothing");
    ok(bbt_jwipe_member(NULL, "token") == 0, "no object: nothing");
    {
        json_t *a = json_pack("[s]", SECRET);

        ok(bbt_jwipe_member(a, "token") == 0, "an array: nothing");
        is_str(json_string_value(json_array_get(a, 0)), SECRET,
               "  its string left as it was");
        json_decref(a);
    }
    bbt_jwipe_free(NULL);
    ok(1, "freeing no text is nothing");
    ok(bbt_jwipe_dump(NULL, 0) == NULL, "no JSON: no text");

    is_int(answer_leaves(0), 0,
           "an answer's text made and freed: no buffer of jansson's was "
           "freed holding the token");
    left = answer_leaves(1);
    ok(left != -1, "json_dumps' text holds the token too");
    if (left > 0) {
        diag("json_dumps left it in %d buffer(s) of its own", left);
    }
    json_decref(o);
    return done_testing();
}
