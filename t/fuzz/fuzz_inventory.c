/*
 * libFuzzer target: the token inventory's statement (bbt_inventory.h), the
 * one `bbtoken list --all` and GET .../inventory both run, from hostile
 * filters: an owner and a project of any bytes, any kind, level, scope,
 * unused-for, limit and offset.  Held to its contract:
 *
 * - it is refused exactly when a part is out of range (an owner that is not
 *   a user name, a project that is not a key, a level no token holds:
 *   REPO_CREATE, ...), and otherwise always fits;
 * - the values travel as parameters only: the statement's text is the same
 *   for any owner, any spelling of a project, any number, and names as
 *   many parameters as it has; the project parameter is the canonical key;
 * - the kind's names are the three it documents.
 *
 * Any broken rule aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_inventory.h"

static uint64_t fz_take(const uint8_t **d, size_t *n, size_t bytes)
{
    uint64_t v = 0;

    while (bytes-- && *n) {
        v = (v << 8) | **d;
        (*d)++, (*n)--;
    }
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bbt_inventory_query_t q, ref;
    bbt_inventory_t f, g;
    char *owner, *project, *sep, key[BBT_KEY_BUF], want[8];
    uint64_t bits;
    long limit, offset;
    int rc, revoke, fit, i, nparams;
    bbt_inv_kind_t kind;

    bits = fz_take(&data, &size, 4);
    limit = (long)(int32_t)fz_take(&data, &size, 4);
    offset = (long)(int32_t)fz_take(&data, &size, 4);
    memset(&f, 0, sizeof(f));
    f.unused = (long long)(int64_t)fz_take(&data, &size, 8);
    /* The rest: owner NUL project. */
    if (!(owner = malloc(size + 2))) {
        return 0;
    }
    memcpy(owner, data, size);
    owner[size] = owner[size + 1] = '\0';
    sep = owner + strlen(owner);
    project = sep + 1;
    f.owner = (bits & 1) ? owner : NULL;
    f.project = (bits & 2) ? project : NULL;
    f.kind = (bbt_inv_kind_t)((bits >> 2) & 7);
    f.expired = !!(bits & 32);
    f.never_used = !!(bits & 64);
    f.min.level = (bbt_level_t)((int)((bits >> 7) & 7) - 1);
    f.min.scope = (bbt_scope_t)((bits >> 10) & 1);
    if (!(bits & 2048)) {
        f.unused = (long long)(bits >> 12) * 86400;
    }
    revoke = !!(bits & (1u << 30));
    rc = bbt_inventory_sql(&f, revoke, limit, offset, &q);
    fit = f.unused >= 0 && f.unused <= BBT_INVENTORY_UNUSED_MAX &&
          f.min.level >= BBT_LEVEL_NONE && f.min.level <= BBT_LEVEL_ADMIN &&
          f.min.level != BBT_LEVEL_CREATE &&
          (unsigned)f.kind <= BBT_INV_KIND_REPO &&
          (!f.owner || bbt_input_user_name(f.owner, strlen(f.owner))) &&
          (!f.project || bbt_input_key(f.project, strlen(f.project), key) == 0);
    if ((rc == 0) != fit) {
        abort();
    }
    if (rc != 0) {
        free(owner);
        return 0;
    }
    /* The same statement for other values of the same shape. */
    g = f;
    g.owner = f.owner ? "x" : NULL;
    g.project = f.project ? (f.project[0] == '~' ? "~x" : "X") : NULL;
    g.unused = f.unused > 0 ? 1 : 0;
    if (bbt_inventory_sql(&g, revoke, limit >= 0 ? 0 : -1, 0, &ref) != 0 ||
        strcmp(q.sql, ref.sql) || q.nparams != ref.nparams ||
        q.nparams > BBT_INVENTORY_MAX_PARAMS) {
        abort();
    }
    /* Every parameter is named, and no other. */
    for (i = 1, nparams = 0; i <= BBT_INVENTORY_MAX_PARAMS + 1; i++) {
        snprintf(want, sizeof(want), "$%d", i);
        if (strstr(q.sql, want)) {
            nparams = i;
        }
    }
    if (nparams != q.nparams) {
        abort();
    }
    /* A revocation's last parameter, the batch's ids, is the caller's:
     * left NULL, and every other one given. */
    for (i = 0; i < q.nparams; i++) {
        if (!q.params[i] != (revoke && i == q.nparams - 1)) {
            abort();
        }
    }
    if (f.owner && strcmp(q.params[0], f.owner)) {
        abort();
    }
    if (f.project &&
        (strcmp(q.params[f.owner ? 1 : 0], key) || strcmp(q.key, key))) {
        abort();
    }
    /* The kinds: their three names, and nothing else. */
    if (bbt_inventory_kind(owner, &kind) == 0 && strcmp(owner, "personal") &&
        strcmp(owner, "project") && strcmp(owner, "repository")) {
        abort();
    }
    free(owner);
    return 0;
}
