/*
 * libFuzzer target: the Cache-Control of a private response
 * (bbt_cachectl.h) from whatever a backend sent.  Held to the contract:
 *
 * - the value is written within the size bbt_cachectl_private_size
 *   says, and refused into less;
 * - it starts with the directive "private", or holds "no-store" as a
 *   directive of its own (outside any quoted string);
 * - no directive of it is "public" or "s-maxage", in any case;
 * - it is its own private value: applied again it changes nothing.
 *
 * Any broken rule aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bbt_cachectl.h"

/* Whether a directive of v (split at commas outside quoted strings,
 * trimmed) is name, alone or with a value. */
static int fz_has(const char *v, const char *name)
{
    size_t n = strlen(name);
    const char *p = v;

    while (*p) {
        const char *d = p, *end;
        int quoted = 0;

        while (*p && (quoted || *p != ',')) {
            if (quoted && *p == '\\' && p[1]) {
                p++;
            } else if (*p == '"') {
                quoted = !quoted;
            }
            p++;
        }
        end = p;
        if (*p) {
            p++;
        }
        while (d < end && (*d == ' ' || *d == '\t')) {
            d++;
        }
        while (end > d && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }
        if ((size_t)(end - d) >= n && strncasecmp(d, name, n) == 0 &&
            ((size_t)(end - d) == n || d[n] == '=')) {
            return 1;
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *v, *out, *again;
    size_t need, need2;

    if (!(v = malloc(size + 1))) {
        return 0;
    }
    memcpy(v, data, size);
    v[size] = '\0';
    need = bbt_cachectl_private_size(v);
    out = malloc(need);
    if (!out) {
        abort();
    }
    if (need > 0 && bbt_cachectl_private(v, out, need - 1) != NULL) {
        abort();
    }
    if (bbt_cachectl_private(v, out, need) != out || strlen(out) >= need) {
        abort();
    }
    if (!(strncmp(out, "private", 7) == 0 && (!out[7] || out[7] == ',')) &&
        !fz_has(out, "no-store")) {
        abort();
    }
    if (fz_has(out, "public") || fz_has(out, "s-maxage")) {
        abort();
    }
    need2 = bbt_cachectl_private_size(out);
    if (!(again = malloc(need2)) ||
        bbt_cachectl_private(out, again, need2) != again ||
        strcmp(again, out) != 0) {
        abort();
    }
    free(again);
    free(out);
    free(v);
    return 0;
}
