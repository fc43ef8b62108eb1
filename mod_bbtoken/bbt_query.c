/*
 * A request's query string read into its arguments (bbt_query.h).
 */
#include "apr_escape.h"
#include "apr_hash.h"
#include "apr_strings.h"

#include <string.h>

#include "bbt_input.h"
#include "bbt_query.h"

/* Decode s in place (the decoded text is never longer), "+" as a space as
 * Bitbucket's REST layer reads a query (Jersey, through Java's
 * URLDecoder): NULL, or why it is refused.  A %00 is refused rather than
 * decoded, because every value is used as a C string from here on: it
 * would silently end the value early. */
static const char *bbt_query_rest_decode(char *s)
{
    switch (apr_unescape_url(s, s, APR_ESCAPE_STRING, NULL, NULL, 1, NULL)) {
    case APR_SUCCESS:
    case APR_NOTFOUND: /* nothing needed decoding */
        break;
    case APR_BADCH:
        return "The query string is malformed: %00 (a NUL byte) is not "
               "allowed.";
    default:
        return "The query string is malformed: a % must be followed by two "
               "hexadecimal digits.";
    }
    /* Not echoed back: a message must itself be valid UTF-8 JSON. */
    if (!bbt_input_utf8(s)) {
        return "The query string is malformed: an argument's name or value "
               "is not UTF-8 text, or holds a control character.";
    }
    return NULL;
}

const char *bbt_query_rest(apr_pool_t *pool, const char *args, apr_hash_t **out)
{
    apr_hash_t *h = apr_hash_make(pool);
    char *p, *amp, *eq, *value;
    const char *why;

    *out = h;
    if (!args) {
        return NULL;
    }
    for (p = apr_pstrdup(pool, args); p; p = amp ? amp + 1 : NULL) {
        if ((amp = strchr(p, '&'))) {
            *amp = '\0';
        }
        if (!*p) {
            continue;
        }
        if ((eq = strchr(p, '='))) {
            *eq = '\0';
            value = eq + 1;
        } else {
            value = p + strlen(p);
        }
        if ((why = bbt_query_rest_decode(p)) ||
            (why = bbt_query_rest_decode(value))) {
            return why;
        }
        /* The first of a repeated name counts, as with Bitbucket's
         * REST layer (Jersey's single-valued @QueryParam). */
        if (!apr_hash_get(h, p, APR_HASH_KEY_STRING)) {
            apr_hash_set(h, p, APR_HASH_KEY_STRING, value);
        }
    }
    return NULL;
}

/* s decoded in place by APR ("+" a space), or NULL when it does not
 * decode: a broken %-escape, or a %00 (APR_BADCH), which would end the C
 * string early. */
static const char *bbt_query_unescape(char *s)
{
    apr_status_t rv =
        apr_unescape_url(s, s, APR_ESCAPE_STRING, NULL, NULL, 1, NULL);

    return rv == APR_SUCCESS || rv == APR_NOTFOUND ? s : NULL;
}

size_t bbt_query_params(apr_pool_t *pool, const char *args, bbt_qparam_t **out)
{
    const char *c;
    char *p, *next, *eq;
    size_t n = 1, i = 0;

    *out = NULL;
    if (!args) {
        return 0;
    }
    for (c = args; *c; c++) {
        n += *c == '&' || *c == ';';
    }
    *out = apr_palloc(pool, n * sizeof(**out));
    for (p = apr_pstrdup(pool, args); p; p = next, i++) {
        if ((next = strpbrk(p, "&;"))) {
            *next++ = '\0';
        }
        if ((eq = strchr(p, '='))) {
            *eq = '\0';
        }
        (*out)[i].name = bbt_query_unescape(p);
        (*out)[i].value = eq ? bbt_query_unescape(eq + 1) : "";
    }
    return i;
}
