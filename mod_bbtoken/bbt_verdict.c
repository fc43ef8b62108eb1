/*
 * The verdict on a presented token (see bbt_verdict.h).
 */
#include <stddef.h>
#include <strings.h>

#include "bbt_verdict.h"

bbt_verdict_t bbt_verdict(const bbt_tokrow_t *row, int secret_ok,
                          const char *basic_user)
{
    if (!row) {
        return BBT_VERDICT_UNKNOWN;
    }
    if (!secret_ok) {
        return BBT_VERDICT_WRONG_SECRET;
    }
    if (row->kind == BBT_KIND_INVALID) {
        return BBT_VERDICT_BROKEN;
    }
    if (row->revoked) {
        return BBT_VERDICT_REVOKED;
    }
    if (row->expired) {
        return BBT_VERDICT_EXPIRED;
    }
    if (row->kind != BBT_KIND_PERSONAL) {
        if (row->key && row->key[0] == '~' && !row->user_active) {
            return BBT_VERDICT_DISABLED;
        }
        if (basic_user && strcasecmp(basic_user, BBT_KIND_BASIC_USER) != 0) {
            return BBT_VERDICT_NOT_OWNER;
        }
    } else if (!row->user_active) {
        return BBT_VERDICT_DISABLED;
    } else if (basic_user && (!row->user_name ||
                              strcasecmp(basic_user, row->user_name) != 0)) {
        /* User names are ASCII (the schema's CHECK), and the schema tells
         * them apart in any case as the C locale's strcasecmp does (lower()
         * in COLLATE "C", whatever the database's locale). */
        return BBT_VERDICT_NOT_OWNER;
    }
    if (!bbt_kind_perms_valid(row->kind, row->tok_project, row->tok_repo)) {
        return BBT_VERDICT_BROKEN;
    }
    return BBT_VERDICT_OK;
}

int bbt_verdict_counted(bbt_verdict_t v)
{
    return v == BBT_VERDICT_UNKNOWN || v == BBT_VERDICT_WRONG_SECRET ||
           v == BBT_VERDICT_ADDRESS;
}

int bbt_verdict_fenceable(bbt_verdict_t v)
{
    return v == BBT_VERDICT_OK || v == BBT_VERDICT_NOT_OWNER ||
           v == BBT_VERDICT_REVOKED || v == BBT_VERDICT_EXPIRED ||
           v == BBT_VERDICT_DISABLED;
}

const char *bbt_verdict_str(bbt_verdict_t v)
{
    switch (v) {
    case BBT_VERDICT_OK:
        return "";
    case BBT_VERDICT_UNKNOWN:
        return "unknown token";
    case BBT_VERDICT_WRONG_SECRET:
        return "wrong secret";
    case BBT_VERDICT_REVOKED:
        return "token revoked";
    case BBT_VERDICT_EXPIRED:
        return "token expired";
    case BBT_VERDICT_DISABLED:
        return "owner disabled";
    case BBT_VERDICT_NOT_OWNER:
        return "user name is not the token's owner";
    case BBT_VERDICT_BROKEN:
        return "token has no valid permissions";
    case BBT_VERDICT_ADDRESS:
        return "client address not in the token's allow-list";
    }
    return "refused";
}
