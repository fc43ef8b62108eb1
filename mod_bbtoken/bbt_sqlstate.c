/*
 * The one reading of a refused statement (bbt_sqlstate.h).  The names are
 * the schema's own: sql/migrations/0001 (bbtoken_tokens_pkey),
 * 0002 (bbtoken_policy_*, bbtoken_tokens_fixed, bbtoken_tokens_live_name)
 * and 0003 (the API functions' insufficient_privilege and no_data_found).
 */
#include "bbt_sqlstate.h"

#include <string.h>

static int bbt_is(const char *a, const char *b)
{
    return a && strcmp(a, b) == 0;
}

bbt_sql_class_t bbt_sql_classify(const char *state, const char *constraint,
                                 const char *message)
{
    if (!state) {
        return BBT_SQL_FAULT;
    }
    /* A random id already in use, or used once and purged: draw again. */
    if ((bbt_is(state, "23505") && bbt_is(constraint, "bbtoken_tokens_pkey")) ||
        (bbt_is(state, "23514") &&
         bbt_is(constraint, "bbtoken_policy_fresh_id"))) {
        return BBT_SQL_ID_TAKEN;
    }
    if (bbt_is(state, "42501")) {
        return BBT_SQL_NOT_PERMITTED;
    }
    if (bbt_is(state, "P0002")) {
        return message && strncmp(message, "no such user", 12) == 0
                   ? BBT_SQL_NO_SUCH_USER
                   : BBT_SQL_NO_SUCH_TOKEN;
    }
    if (bbt_is(state, "23505") &&
        bbt_is(constraint, "bbtoken_tokens_live_name")) {
        return BBT_SQL_NAME_TAKEN;
    }
    if (constraint && (strncmp(constraint, "bbtoken_policy", 14) == 0 ||
                       strcmp(constraint, "bbtoken_tokens_fixed") == 0)) {
        return BBT_SQL_POLICY;
    }
    if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0) {
        return BBT_SQL_REFUSED;
    }
    return BBT_SQL_FAULT;
}
