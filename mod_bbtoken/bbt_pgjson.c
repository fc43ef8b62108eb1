/* Result values as JSON (bbt_pgjson.h). */
#include "bbt_pgjson.h"

#include <stdlib.h>

json_t *bbt_pgjson_int(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col)) {
        return NULL;
    }
    return json_integer(
        (json_int_t)strtoll(PQgetvalue(res, row, col), NULL, 10));
}
