/*
 * An owner's level map, as the token lookup gives it
 * (bbtoken_owner_level_map, sql/migrations/0026_lookup.sql): every level
 * the owner has, "target:level" entries separated by single spaces, where
 * a target is "*" (every project), a project key or "key/slug".  The rules
 * that make it (an administrator, the personal project, each grant) are
 * the database's; here only the reading: the level on (key, slug) is the
 * largest of the entries "*", "key" and "key/slug" in Bitbucket's order,
 * each written as the database numbers it (bbt_level_from_db: create's 4
 * is below admin's 3).
 *
 * This file knows nothing of httpd.
 */
#ifndef BBT_LEVELMAP_H
#define BBT_LEVELMAP_H

#include "bbt_perm.h"

/* The level of map on project key (slug NULL) or repository key/slug into
 * *level: 0, or -1 (and *level NONE) if the map is NULL, empty (an active
 * owner's never is) or malformed anywhere: then the caller asks the
 * database instead. */
int bbt_levelmap_level(const char *map, const char *key, const char *slug,
                       bbt_level_t *level);

/* Whether map gives every repository of project key the project's own
 * level (into *level): no "key/slug" entry above it (none at all, or an
 * administrator's "*", or the personal project's admin).  1, 0 when a
 * repository's entry is above it (then *level is still the project's),
 * or -1 as bbt_levelmap_level refuses the map. */
int bbt_levelmap_spans(const char *map, const char *key, bbt_level_t *level);

#endif
