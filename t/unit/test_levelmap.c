/* An owner's level map as the lookup gives it: the largest matching
 * entry in Bitbucket's order, exact matches only, and any malformed map
 * refused whole.  Levels are written as the database numbers them (3
 * admin, 4 create). */
#include "bbt_levelmap.h"
#include "tap.h"

static int level(const char *map, const char *key, const char *slug)
{
    bbt_level_t l = BBT_LEVEL_ADMIN;

    if (bbt_levelmap_level(map, key, slug, &l) != 0) {
        return l == BBT_LEVEL_NONE ? -1 : -2;
    }
    return bbt_level_to_db(l);
}

/* Whether map gives every repository of key the project's level: 1 and
 * that level as the database numbers it (1 is 10 + 1), 0, or -1. */
static int spans(const char *map, const char *key)
{
    bbt_level_t l = BBT_LEVEL_ADMIN;
    int rv = bbt_levelmap_spans(map, key, &l);

    return rv == 1 ? 10 + bbt_level_to_db(l) : rv;
}

static void test_spans(void)
{
    const char *m =
        "~alice:3 PROJ:1 TEAM:2 PROJ/repo:2 PROJ/re:3 OTHER/x.y-z:1 "
        "LOW:2 LOW/r:1 LOW/s:2";

    is_int(spans(m, "TEAM"), 12, "project grant alone: spans, its level");
    is_int(spans(m, "PROJ"), 0, "repositories' grants above it: not");
    is_int(spans(m, "OTHER"), 0, "a repository's grant and none above");
    is_int(spans(m, "LOW"), 12, "repositories' grants at or below it: spans");
    is_int(spans(m, "NONE"), 10, "nothing in the project: spans, level 0");
    is_int(spans(m, "PRO"), 10, "a key another's starts with: its own");
    is_int(spans(m, "~alice"), 13, "the personal project: admin everywhere");
    is_int(spans("~a:3 ~alice/r:3 ~alice:1", "~alice"), 0,
           "a repository of another's personal project above its grant");
    is_int(spans("*:3 PROJ/repo:3", "PROJ"), 13,
           "an administrator: admin on every repository");
    is_int(spans("~a:3 X:4 X/r:3", "X"), 0,
           "admin on a repository is above create on its project");
    is_int(spans("~a:3 X:4 X/r:2", "X"), 14,
           "write on a repository is below create on its project");
    is_int(spans("~a:3 X/:3", "X"), 0, "an entry of an empty slug counts");
    is_int(spans("~a:3 X:1 Y:9", "X"), -1, "a malformed map: refused");
    is_int(spans(NULL, "X"), -1, "no map");
    is_int(spans("~a:3", ""), -1, "no key");
}

int main(void)
{
    test_spans();

    const char *m =
        "~alice:3 PROJ:1 TEAM:2 PROJ/repo:2 PROJ/re:3 OTHER/x.y-z:1";

    is_int(level(m, "~alice", NULL), 3, "personal project");
    is_int(level(m, "~alice", "r"), 3, "a repository of the personal project");
    is_int(level(m, "PROJ", NULL), 1, "project grant");
    is_int(level(m, "PROJ", "repo"), 2, "repository grant above the project's");
    is_int(level(m, "PROJ", "re"), 3, "another repository's grant");
    is_int(level(m, "PROJ", "rep"), 1,
           "a slug that is a prefix of none: the project's");
    is_int(level(m, "PROJ", "repos"), 1, "a slug a grant's is a prefix of");
    is_int(level(m, "PRO", NULL), 0, "a key a grant's starts with");
    is_int(level(m, "PROJX", NULL), 0, "a key that starts with a grant's");
    is_int(level(m, "TEAM", "any"), 2,
           "project grant reaches its repositories");
    is_int(level(m, "OTHER", NULL), 0,
           "a repository grant is not the project's");
    is_int(level(m, "OTHER", "x.y-z"), 1, "repository grant");
    is_int(level(m, "~bob", NULL), 0, "someone else's personal project");
    is_int(level(m, "~alice/r", NULL), 0, "a key spelled with the separator");
    is_int(level("*:3", "ANY", "thing"), 3, "administrator");
    is_int(level("~a:3 *:3", "X", NULL), 3,
           "administrator anywhere in the map");
    is_int(level("~a:3 X:1 X:2", "X", NULL), 2, "the largest of two entries");
    is_int(level("~a:3 X:2 X:1", "X", NULL), 2, "whatever their order");
    is_int(level("~a:3 X:0", "X", NULL), 0, "level 0");
    is_int(level("~a:3", "", NULL), -1, "no key: refused");
    is_int(level("~a:3", NULL, NULL), -1, "NULL key: refused");
    is_int(level(NULL, "X", NULL), -1, "no map");
    is_int(level("", "X", NULL), -1, "empty map");
    is_int(level("~a:3 ", "X", NULL), -1, "trailing space");
    is_int(level(" ~a:3", "X", NULL), -1, "leading space");
    is_int(level("~a:3  X:1", "X", NULL), -1, "two spaces");
    is_int(level("~a:3 X:4", "X", NULL), 4, "level 4, create");
    is_int(level("~a:3 X:4 X/r:3", "X", "r"), 3,
           "admin on a repository is above create on its project");
    is_int(level("~a:3 X/r:3 X:4", "X", "r"), 3, "whatever their order");
    is_int(level("~a:3 X:4 X/r:2", "X", "r"), 4,
           "create on a project is above write on its repository");
    is_int(level("~a:3 X:4", "X", "r"), 4,
           "create on a project reaches its repositories");
    is_int(level("*:3 X:4", "X", NULL), 3, "an administrator with create");
    is_int(level("~a:3 X:5", "X", NULL), -1, "level 5");
    is_int(level("~a:3 X:9", "X", NULL), -1, "level 9");
    is_int(level("~a:3 X:", "X", NULL), -1, "no level");
    is_int(level("~a:3 X:12", "X", NULL), -1, "two digits");
    is_int(level("~a:3 :1", "X", NULL), -1, "no target");
    is_int(level("~a:3 X:1:1", "X", NULL), -1, "two colons");
    is_int(level("~a:3 X1", "X", NULL), -1, "no colon");
    is_int(level("X:1 ~a:9", "X", NULL), -1, "a bad entry after a match");
    return done_testing();
}
