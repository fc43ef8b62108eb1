/*
 * libFuzzer target: a token's packed lookup row (bbt_lookuprow.h) on raw
 * bytes.  The column is the database's, and a parser of it must never
 * read past what it is given nor turn garbage into a row: whatever it
 * accepts holds only what a row may (strings inside the column, within
 * their bounds, known levels, an owner exactly for a
 * personal token, a valid scope).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_centry.h"
#include "bbt_lookuprow.h"

static void within(const char *s, const char *buf, size_t len, size_t max)
{
    if (s < buf || s > buf + len || strlen(s) > max ||
        s + strlen(s) > buf + len) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const bbt_lookuprow_t zero;
    char *buf = malloc(size + 1);
    bbt_lookuprow_t r;
    int owner;

    if (!buf) {
        return 0;
    }
    memcpy(buf, data, size);
    buf[size] = '\0';
    switch (bbt_lookuprow_parse(buf, size, &r)) {
    case BBT_LOOKUPROW_OK:
        owner = r.user_name != NULL;
        within(r.token_name, buf, size, BBT_CENTRY_NAME_MAX);
        if (owner) {
            within(r.user_name, buf, size, BBT_USER_MAX);
        }
        if (r.nets[0]) {
            within(r.nets, buf, size, BBT_NETS_TEXT_MAX);
        }
        if (r.levels) {
            within(r.levels, buf, size, BBT_LOOKUPROW_LEVELS_MAX);
        }
        if (!r.token_name[0] || (owner && !r.user_name[0]) ||
            (r.revoked != 0 && r.revoked != 1) ||
            (r.user_active != 0 && r.user_active != 1) ||
            r.tok_project > BBT_LEVEL_ADMIN || r.tok_repo < BBT_LEVEL_READ ||
            r.tok_repo > BBT_LEVEL_ADMIN || r.ngroups < 0 ||
            r.ngroups > BBT_AGROUPS_MAX || !bbt_kind_valid(&r.scope) ||
            (r.scope.kind == BBT_KIND_PERSONAL) != owner ||
            owner != (r.user_id > 0) || (!owner && r.levels) ||
            (!owner && r.user_active) || r.expired || r.stale ||
            r.refusal_due) {
            abort();
        }
        break;
    case BBT_LOOKUPROW_MALFORMED:
    case BBT_LOOKUPROW_UNKNOWN:
    case BBT_LOOKUPROW_ORPHAN:
        /* Nothing of a refused row is left behind. */
        if (memcmp(&r, &zero, sizeof(r)) != 0) {
            abort();
        }
        break;
    default:
        abort();
    }
    free(buf);
    return 0;
}
