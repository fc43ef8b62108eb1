/*
 * Reading an owner's level map (see bbt_levelmap.h).  The whole map is
 * checked, not only up to a match, so that a malformed one is never half
 * believed: any flaw sends the caller to the database.
 */
#include "bbt_levelmap.h"

#include <string.h>

/* Whether target (n bytes) is key, or key/slug. */
static int bbt_levelmap_match(const char *target, size_t n, const char *key,
                              const char *slug)
{
    size_t k = strlen(key);

    if (n == 1 && target[0] == '*') {
        return 1;
    }
    if (n < k || memcmp(target, key, k) != 0) {
        return 0;
    }
    if (n == k) {
        return 1;
    }
    return slug && target[k] == '/' && n - k - 1 == strlen(slug) &&
           memcmp(target + k + 1, slug, n - k - 1) == 0;
}

int bbt_levelmap_level(const char *map, const char *key, const char *slug,
                       bbt_level_t *level)
{
    const char *p = map;
    bbt_level_t best = BBT_LEVEL_NONE;

    *level = BBT_LEVEL_NONE;
    if (!map || !*map || !key || !*key) {
        return -1;
    }
    for (;;) {
        const char *end = p + strcspn(p, " ");
        const char *colon;
        bbt_level_t l;

        /* target ":" one digit the database gives, the target not empty. */
        if (end - p < 3 || end[-2] != ':' || end[-1] < '0' || end[-1] > '9' ||
            bbt_level_from_db(end[-1] - '0', &l) != 0) {
            return -1;
        }
        colon = end - 2;
        if (memchr(p, ':', (size_t)(colon - p))) {
            return -1;
        }
        if (l > best && bbt_levelmap_match(p, (size_t)(colon - p), key, slug)) {
            best = l;
        }
        if (!*end) {
            break;
        }
        /* One space between entries, none at the end. */
        p = end + 1;
        if (!*p || *p == ' ') {
            return -1;
        }
    }
    *level = best;
    return 0;
}
