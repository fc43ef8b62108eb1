/*
 * libFuzzer target: the git route matcher.  The input is split at the first
 * two NUL bytes into method, path and query.  A match must always name a
 * canonical key, a valid slug and a REPO_ permission of read or write.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 3);
    char *method, *path, *args, *end;
    bbt_target_t t;
    char canon[BBT_KEY_BUF];

    if (!in) {
        return 0;
    }
    memcpy(in, data, size);
    in[size] = in[size + 1] = in[size + 2] = '\0';
    method = in;
    path = method + strlen(method) + 1;
    args = path + strlen(path) + 1;
    end = in + size + 2;
    if (path > end) {
        path = end;
    }
    if (args > end) {
        args = end;
    }
    if (bbt_route_git("/scm", method, path, *args ? args : NULL, &t) ==
        BBT_ROUTE_MATCH) {
        if (bbt_input_key(t.key, strlen(t.key), canon) != 0 ||
            strcmp(canon, t.key) != 0 ||
            !bbt_input_slug(t.slug, strlen(t.slug)) ||
            t.need.scope != BBT_SCOPE_REPO ||
            (t.need.level != BBT_LEVEL_READ &&
             t.need.level != BBT_LEVEL_WRITE)) {
            abort();
        }
    }
    free(in);
    return 0;
}
