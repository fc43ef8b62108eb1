/*
 * The access-tokens REST API's query arguments (bbt_rest_args.h): read
 * once by the handler, decoded with APR's URL decoder, and looked up by
 * the endpoints.
 */
#include "httpd.h"
#include "apr_escape.h"
#include "apr_hash.h"
#include "apr_strings.h"

#include <string.h>

#include "bbt_input.h"
#include "bbt_rest_args.h"
#include "bbt_rest_json.h"
#include "bbt_rest_req.h"

/* Decode s in place (the decoded text is never longer), "+" as a space as
 * Bitbucket's REST layer reads a query (Jersey, through Java's
 * URLDecoder): NULL, or why it is refused.  A %00 is refused rather than
 * decoded, because every value is used as a C string from here on: it
 * would silently end the value early. */
static const char *bbt_rest_args_decode(char *s)
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

const char *bbt_rest_args_read(request_rec *r, apr_hash_t **out)
{
    apr_hash_t *h = apr_hash_make(r->pool);
    char *p, *amp, *eq, *value;
    const char *why;

    *out = h;
    if (!r->args) {
        return NULL;
    }
    for (p = apr_pstrdup(r->pool, r->args); p; p = amp ? amp + 1 : NULL) {
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
        if ((why = bbt_rest_args_decode(p)) ||
            (why = bbt_rest_args_decode(value))) {
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

const char *bbt_rest_arg(const bbt_rest_t *x, const char *name)
{
    return x->args ? apr_hash_get(x->args, name, APR_HASH_KEY_STRING) : NULL;
}

int bbt_rest_page(bbt_rest_t *x, long *start, long *limit, int *rc)
{
    if (bbt_rest_page_args(bbt_rest_arg(x, "start"), bbt_rest_arg(x, "limit"),
                           start, limit) == 0) {
        return 0;
    }
    *rc = bbt_rest_error(x->r, HTTP_BAD_REQUEST, BBT_REST_EX_ARG,
                         "start and limit must be whole numbers");
    return -1;
}
