/*
 * Wiping a secret out of jansson's copies (bbt_jwipe.c): a string member
 * is overwritten in place with zero bytes, its length kept, so what the
 * object frees holds nothing of it, and a dump of the object made after
 * shows none of it; other members and other objects are left as they
 * were; what is no object or no string member is not touched.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bbt_jwipe.h"
#include "tap.h"

#define SECRET "BBDC-NDQ0NDQ0NDQ0NDQ0OkFBQUFBQUFBQUFBQUFBQUFBQUFB"

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
    dump = json_dumps(o, JSON_COMPACT);
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
    json_decref(o);
    return done_testing();
}
