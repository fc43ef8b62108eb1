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

/* The map's entries that reach (key, slug): the largest of "*" and "key"
 * into *project, of "key/slug" into *repo, and of every "key/..." into
 * *repos.  0, or -1 (all NONE) for a map that is not one. */
static int bbt_levelmap_scan(const char *map, const char *key, const char *slug,
                             bbt_level_t *project, bbt_level_t *repo,
                             bbt_level_t *repos)
{
    const char *p = map;
    size_t k = key ? strlen(key) : 0;

    *project = *repo = *repos = BBT_LEVEL_NONE;
    if (!map || !*map || !k) {
        return -1;
    }
    for (;;) {
        const char *end = p + strcspn(p, " ");
        const char *colon;
        size_t n;
        bbt_level_t l;

        /* target ":" one digit the database gives, the target not empty. */
        if (end - p < 3 || end[-2] != ':' || end[-1] < '0' || end[-1] > '9' ||
            bbt_level_from_db(end[-1] - '0', &l) != 0) {
            goto bad;
        }
        colon = end - 2;
        n = (size_t)(colon - p);
        if (memchr(p, ':', n)) {
            goto bad;
        }
        if (bbt_levelmap_match(p, n, key, NULL)) {
            *project = l > *project ? l : *project;
        } else if (bbt_levelmap_match(p, n, key, slug)) {
            *repo = l > *repo ? l : *repo;
        }
        /* Any repository's of the project: "key/" and a slug (an empty
         * one too, which bbt_levelmap_match would take for "" as well). */
        if (n > k && memcmp(p, key, k) == 0 && p[k] == '/' && l > *repos) {
            *repos = l;
        }
        if (!*end) {
            return 0;
        }
        /* One space between entries, none at the end. */
        p = end + 1;
        if (!*p || *p == ' ') {
            goto bad;
        }
    }
bad:
    *project = *repo = *repos = BBT_LEVEL_NONE;
    return -1;
}

int bbt_levelmap_level(const char *map, const char *key, const char *slug,
                       bbt_level_t *level)
{
    bbt_level_t project, repo, repos;

    if (bbt_levelmap_scan(map, key, slug, &project, &repo, &repos) != 0) {
        *level = BBT_LEVEL_NONE;
        return -1;
    }
    *level = repo > project ? repo : project;
    return 0;
}

int bbt_levelmap_spans(const char *map, const char *key, bbt_level_t *level)
{
    bbt_level_t project, repo, repos;

    if (bbt_levelmap_scan(map, key, NULL, &project, &repo, &repos) != 0) {
        *level = BBT_LEVEL_NONE;
        return -1;
    }
    *level = project;
    return repos > project ? 0 : 1;
}
