/* The Cache-Control value of a private response. */
#include "bbt_cachectl.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

static char *private_of(const char *value)
{
    static char out[1024];

    return bbt_cachectl_private(value, out, sizeof(out));
}

static void is_private(const char *value, const char *want)
{
    is_str(private_of(value), want, "%s%s%s -> %s", value ? "'" : "",
           value ? value : "none", value ? "'" : "", want);
}

static void test_values(void)
{
    is_private(NULL, "private");
    is_private("", "private");
    is_private(" , ,", "private");
    is_private("public", "private");
    is_private("public, max-age=31536000", "private, max-age=31536000");
    is_private("max-age=60, s-maxage=600", "private, max-age=60");
    is_private("PUBLIC,Max-Age=5", "private, Max-Age=5");
    is_private("private", "private");
    is_private("private, max-age=0", "private, max-age=0");
    is_private("no-cache", "private, no-cache");
    is_private("no-store", "private, no-store");
    is_private("public, no-store", "private, no-store");
    is_private("No-Store, max-age=0, public", "private, No-Store, max-age=0");
    /* RFC 9111's advice to backends: a cache that understands it ignores
     * no-store, and must-revalidate would let it share the answer. */
    is_private("must-understand, no-store, must-revalidate, max-age=600",
               "private, must-understand, no-store, must-revalidate, "
               "max-age=600");
    is_private("max-age=0,\tmust-revalidate ",
               "private, max-age=0, must-revalidate");
    is_private("a,b,c,d", "private, a, b, c, d");
    /* Only whole directive names count. */
    is_private("publicity", "private, publicity");
    is_private("s-maxage-ish=1", "private, s-maxage-ish=1");
    is_private("no-stored", "private, no-stored");
    is_private("s-maxage", "private");
    is_private("public=1", "private");
    /* Dropped whatever their case, kept when only the first letter is
     * theirs. */
    is_private("S-MaxAge=5, Private, PUBLIC", "private");
    is_private("\tpublic\t,  s-maxage=1 ", "private");
    is_private("proxy-revalidate, stale-if-error=60, p, s, privately",
               "private, proxy-revalidate, stale-if-error=60, p, s, "
               "privately");
    is_private("=public, s=1", "private, =public, s=1");
    /* A comma inside a quoted value does not end the directive: nothing
     * in the quotes is dropped, spaced or read as a directive. */
    is_private("no-cache=\"Set-Cookie,Authorization\"",
               "private, no-cache=\"Set-Cookie,Authorization\"");
    is_private("no-cache=\"x, public, y\", public",
               "private, no-cache=\"x, public, y\"");
    is_private("no-cache=\"x, no-store\"", "private, no-cache=\"x, no-store\"");
    is_private("no-cache=\"a\\\", public\", s-maxage=1",
               "private, no-cache=\"a\\\", public\"");
    /* An escaped backslash does not escape the quote after it. */
    is_private("no-cache=\"a\\\\\", public", "private, no-cache=\"a\\\\\"");
    /* Outside a quoted string a backslash escapes nothing. */
    is_private("max-age=5\\, public, x=\\\"", "private, max-age=5\\");
    is_private("a\\,b", "private, a\\, b");
    /* Quoted strings that are empty, or several in one directive. */
    is_private("no-cache=\"\", public", "private, no-cache=\"\"");
    is_private("x=\"a,\"\"b,\", public", "private, x=\"a,\"\"b,\"");
    /* A quoted string never closed: nothing after its opening quote is a
     * directive (a reader that splits at commas would see one), and the
     * directive it is in goes too, never passed on half-quoted. */
    is_private("no-cache=\"unterminated, public", "private");
    is_private("no-cache=\"x, no-store", "private");
    is_private("max-age=5, no-cache=\"x, no-store, public",
               "private, max-age=5");
    is_private("no-store, no-cache=\"x", "private, no-store");
    is_private("public, no-cache=\"s-maxage=60, public", "private");
    is_private("max-age=5, no-cache=\"a\\\"", "private, max-age=5");
    is_private("max-age=5, no-cache=\"a\\", "private, max-age=5");
    is_private("\"", "private");
    is_private("no-cache=\"x\", public, no-cache=\"",
               "private, no-cache=\"x\"");
    is_private("a\"b, no-store", "private");
}

/* The size bound holds for the worst case: many one-letter directives. */
static void test_size(void)
{
    char value[301], *out;
    size_t n, i;

    for (i = 0; i < 300; i++)
        value[i] = (i % 2) ? ',' : 'x';
    value[300] = '\0';
    n = bbt_cachectl_private_size(value);
    out = malloc(n);
    ok(out && bbt_cachectl_private(value, out, n) != NULL &&
           strlen(out) + 1 <= n && strncmp(out, "private, x, x", 13) == 0,
       "150 one-letter directives fit in the size given");
    free(out);
    ok(bbt_cachectl_private("public", (char[4]){0}, 4) == NULL,
       "a buffer that is too small is refused");
    ok(bbt_cachectl_private(NULL, NULL, 100) == NULL, "no buffer is refused");
    ok(bbt_cachectl_private_size(NULL) >= sizeof("private"),
       "room for 'private' when nothing was sent");
}

int main(void)
{
    test_values();
    test_size();
    return done_testing();
}
