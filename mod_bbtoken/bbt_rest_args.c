/*
 * The access-tokens REST API's query arguments (bbt_rest_args.h): read
 * once by the handler (bbt_query.c, which decodes them with APR's URL
 * decoder), and looked up by the endpoints.
 */
#include "httpd.h"
#include "apr_hash.h"

#include <string.h>

#include "bbt_query.h"
#include "bbt_rest_args.h"
#include "bbt_rest_json.h"
#include "bbt_rest_req.h"

const char *bbt_rest_args_read(request_rec *r, apr_hash_t **out)
{
    return bbt_query_rest(r->pool, r->args, out);
}

const char *bbt_rest_arg(const bbt_rest_t *x, const char *name)
{
    return x->args ? apr_hash_get(x->args, name, APR_HASH_KEY_STRING) : NULL;
}

int bbt_rest_arg_bool(const bbt_rest_t *x, const char *name, int *out)
{
    const char *v = bbt_rest_arg(x, name);

    *out = v && strcmp(v, "true") == 0;
    return !v || *out || strcmp(v, "false") == 0 ? 0 : -1;
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
