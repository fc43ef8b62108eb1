/*
 * libFuzzer target: an owner's level map (bbt_levelmap.h), the database's
 * bytes, read for a target.  The first byte picks the project key and the
 * slug asked about, the rest is the map.  Held to the contract:
 *
 * - nothing is read past the map's end (AddressSanitizer: the map is a
 *   block of exactly its length and its NUL);
 * - whether the map is read at all is the map's alone, the same for every
 *   target: a malformed map is never half believed;
 * - a map read gives a known level, and exactly the largest of its
 *   entries "*", KEY and KEY/SLUG (an oracle that splits the map as its
 *   format says); a map not read gives none;
 * - a repository's level is never below its project's.
 *
 * Any broken rule aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_levelmap.h"

static const char *const fz_keys[] = {"PROJ", "P", "~alice", "PROJ/repo"};
static const char *const fz_slugs[] = {NULL, "repo", "r", ""};

/* The largest level of the entries of map (one space between them, each
 * TARGET:DIGIT) that apply to key and slug, in Bitbucket's order: the
 * database writes admin 3 and create 4, and create is below admin. */
static int fz_oracle(const char *map, const char *key, const char *slug)
{
    size_t klen = strlen(key);
    const char *p = map;
    int best = BBT_LEVEL_NONE;

    while (*p) {
        size_t n = strcspn(p, " "), t = n - 2;
        static const int order[] = {BBT_LEVEL_NONE, BBT_LEVEL_READ,
                                    BBT_LEVEL_WRITE, BBT_LEVEL_ADMIN,
                                    BBT_LEVEL_CREATE};
        int l = order[p[n - 1] - '0'];

        if (l > best &&
            ((t == 1 && p[0] == '*') || (t == klen && !memcmp(p, key, t)) ||
             (slug && t == klen + 1 + strlen(slug) && !memcmp(p, key, klen) &&
              p[klen] == '/' && !memcmp(p + klen + 1, slug, t - klen - 1)))) {
            best = l;
        }
        p += n;
        p += *p == ' ';
    }
    return best;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *key, *slug;
    bbt_level_t level, project, any;
    char *map;
    int rc, k, other;

    if (size < 1) {
        return 0;
    }
    key = fz_keys[data[0] & 3];
    slug = fz_slugs[(data[0] >> 2) & 3];
    other = (data[0] >> 4) & 3;
    map = malloc(size);
    if (!map) {
        return 0;
    }
    memcpy(map, data + 1, size - 1);
    map[size - 1] = '\0';
    rc = bbt_levelmap_level(map, key, slug, &level);
    if (rc != 0) {
        if (rc != -1 || level != BBT_LEVEL_NONE) {
            abort();
        }
    } else if (level < BBT_LEVEL_NONE || level > BBT_LEVEL_ADMIN ||
               (int)level != fz_oracle(map, key, slug)) {
        abort();
    }
    /* The same map for another target: read or not alike. */
    for (k = 0; k < 4; k++) {
        if ((bbt_levelmap_level(map, fz_keys[k], fz_slugs[other], &any) == 0) !=
            (rc == 0)) {
            abort();
        }
    }
    if (rc == 0 && slug &&
        (bbt_levelmap_level(map, key, NULL, &project) != 0 ||
         project > level)) {
        abort();
    }
    free(map);
    return 0;
}
