/*
 * Result values as JSON, for the REST API and `bbtoken list --json` alike
 * (jansson and libpq; nothing of httpd).
 */
#ifndef BBT_PGJSON_H
#define BBT_PGJSON_H

#include <jansson.h>
#include <libpq-fe.h>

/* The integer (epoch milliseconds, a day count) at row, col as a new JSON
 * integer, or NULL when it is SQL NULL: json_pack's "o*" then leaves the
 * member out, as Bitbucket does with unset times. */
json_t *bbt_pgjson_int(const PGresult *res, int row, int col);

#endif
