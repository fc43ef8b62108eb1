/* The git route set under a repository's refs/: whatever the method, a
 * path there names refs as git would (git check-ref-format's rules), and
 * never a component that would make a directory under refs/ a repository
 * (routes/git.conf).  What git http-push sends still matches. */
#include "bbt_rules.h"
#include "tap.h"
#include "rules_fixture.h"

#include <stdio.h>
#include <string.h>

#define REFS "/scm/PROJ/repo.git/refs/"

static const char *const writes[] = {"PUT",    "MKCOL", "LOCK", "UNLOCK",
                                     "DELETE", "MOVE",  "COPY", "PROPPATCH"};
#define NWRITES (sizeof(writes) / sizeof(writes[0]))

/* The permission a path under refs/ needs, or NULL for none. */
static const char *need(const bbt_rules_t *rs, const char *method,
                        const char *path, int dest, const char **why)
{
    bbt_match_t out;

    memset(&out, 0x5a, sizeof(out));
    if (bbt_rules_match(rs, method, path, NULL, dest, &out) !=
        BBT_ROUTE_MATCH) {
        *why = out.target.why ? out.target.why : "?";
        return NULL;
    }
    *why = NULL;
    return bbt_perm_name(out.target.need.scope, out.target.need.level);
}

static void allowed(const bbt_rules_t *rs, const char *method, const char *rest,
                    const char *want)
{
    char path[600];
    const char *why, *got;

    snprintf(path, sizeof(path), REFS "%s", rest);
    got = need(rs, method, path, 0, &why);
    ok(got && strcmp(got, want) == 0, "%s refs/%s -> %s", method, rest, want);
    if (!got)
        diag("refused: %s", why);
    else if (strcmp(got, want))
        diag("got %s", got);
}

/* 1 if refs/REST ends as a service of git-http-backend's dumb HTTP does
 * (HEAD, info/refs, objects/...): it would take what comes before for a
 * repository. */
static int service(const char *rest)
{
    char s[600];
    size_t n;

    snprintf(s, sizeof(s), "/%s", rest);
    n = strlen(s);
    return (n >= 5 && strcmp(s + n - 5, "/HEAD") == 0) ||
           (n >= 10 && strcmp(s + n - 10, "/info/refs") == 0) ||
           strstr(s, "/objects/") != NULL;
}

/* Refused to every write by the wall itself (its deny route), with and
 * without a trailing slash, and as a COPY's or MOVE's Destination; read
 * (GET, PROPFIND) as any ref is, unless it names a dumb service. */
static void walled(const bbt_rules_t *rs, const char *rest)
{
    char path[600];
    const char *why, *got;
    size_t i;
    int bad = 0;

    for (i = 0; i < NWRITES; i++) {
        snprintf(path, sizeof(path), REFS "%s", rest);
        got = need(rs, writes[i], path, 0, &why);
        if (got || strcmp(why, "a deny route matched") != 0) {
            diag("%s %s: %s", writes[i], path, got ? got : why);
            bad = 1;
        }
        snprintf(path, sizeof(path), REFS "%s/", rest);
        if ((got = need(rs, writes[i], path, 0, &why)) != NULL) {
            diag("%s %s: %s", writes[i], path, got);
            bad = 1;
        }
    }
    snprintf(path, sizeof(path), REFS "%s", rest);
    if ((got = need(rs, "MOVE", path, 1, &why)) != NULL ||
        (got = need(rs, "COPY", path, 1, &why)) != NULL) {
        diag("destination %s: %s", path, got);
        bad = 1;
    }
    got = need(rs, "GET", path, 0, &why);
    if (service(rest) ? got != NULL : !got || strcmp(got, "REPO_READ") != 0) {
        diag("GET %s: %s", path, got ? got : why);
        bad = 1;
    }
    got = need(rs, "PROPFIND", path, 0, &why);
    if (!got || strcmp(got, "REPO_READ") != 0) {
        diag("PROPFIND %s: %s", path, got ? got : why);
        bad = 1;
    }
    ok(!bad, "refs/%s: refused to every write and as a Destination; %s", rest,
       service(rest) ? "a dumb service: not read" : "read as a ref");
}

/* What git http-push sent for a push of main, feature/x, v1.0 and
 * rel/v2.0 and the deletion of feature/x (t/41-git-dav-push's access log),
 * and names git takes that only look like the refused ones. */
static void test_push(const bbt_rules_t *rs)
{
    static const char *const refs[] = {"heads/main",
                                       "heads/feature/x",
                                       "tags/v1.0",
                                       "tags/rel/v2.0",
                                       "heads/fix/x.y-z_1",
                                       "heads/heads-up",
                                       "heads/configure",
                                       "heads/my.gitx",
                                       "heads/x.git.y",
                                       "heads/info2",
                                       "heads/HEADS",
                                       "heads/objects-x",
                                       "heads/x.locked",
                                       "heads/lock",
                                       "heads/x@y",
                                       "heads/@",
                                       "heads/r\xc3\xa9sum\xc3\xa9",
                                       "heads/a.b/c",
                                       "notes/commits",
                                       "heads/git"};
    static const char *const dirs[] = {
        "", "heads/", "tags/", "heads/feature/", "tags/rel/", "heads/a.b/"};
    size_t i;

    for (i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
        allowed(rs, "LOCK", refs[i], "REPO_WRITE");
        allowed(rs, "PUT", refs[i], "REPO_WRITE");
        allowed(rs, "UNLOCK", refs[i], "REPO_WRITE");
        allowed(rs, "DELETE", refs[i], "REPO_WRITE");
        allowed(rs, "GET", refs[i], "REPO_READ");
    }
    for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        allowed(rs, "MKCOL", dirs[i], "REPO_WRITE");
        allowed(rs, "PROPFIND", dirs[i], "REPO_READ");
    }
}

/* A repository's own names, in any case, at any depth. */
static void test_repository_names(const bbt_rules_t *rs)
{
    static const char *const names[] = {
        "heads/x/objects",
        "heads/x/HEAD",
        "heads/x/head",
        "heads/x/Head",
        "HEAD",
        "heads/x/config",
        "heads/x/CONFIG",
        "heads/evil.git",
        "heads/evil.GIT",
        "heads/evil.git/HEAD",
        "heads/x/info/refs",
        "heads/x/info",
        "heads/x/hooks/post-update",
        "heads/x/refs/heads/z",
        "heads/x/packed-refs",
        "heads/x/commondir",
        "heads/x/gitdir",
        "heads/x/objects/info/packs",
        "heads/x/objects/2d/2d711642b726b04401627ca9fbac32f5c8530f",
        "heads/refs",
        "objects",
        "heads/.git"};
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        walled(rs, names[i]);
}

/* git check-ref-format's own rules. */
static void test_git_rules(const bbt_rules_t *rs)
{
    static const char *const names[] = {
        "heads/.hidden", "heads/x/.y",   "heads/x.",     "heads/x./y",
        "heads/a..b",    "heads/x.lock", "heads/x.LOCK", "heads/x.lock/y",
        "heads/a@{1}",   "heads/a b",    "heads/a\tb",   "heads/a\nb",
        "heads/a\x01",   "heads/a\x7f",  "heads/a~1",    "heads/a^",
        "heads/a:b",     "heads/a?b",    "heads/a*b",    "heads/a[b",
        "heads/a\\b",    "heads/...",    "heads/.lock",  ".x"};
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        walled(rs, names[i]);
}

/* A ref is a file: no write route takes a trailing slash but MKCOL's, and
 * no Destination is under refs/ at all (git http-push moves only objects
 * into place). */
static void test_shapes(const bbt_rules_t *rs)
{
    const char *why;

    ok(!need(rs, "PUT", REFS "heads/x/", 0, &why), "PUT refs/heads/x/: none");
    ok(!need(rs, "LOCK", REFS "heads/x/", 0, &why), "LOCK refs/heads/x/: none");
    ok(!need(rs, "DELETE", REFS "heads/", 0, &why), "DELETE refs/heads/: none");
    ok(!need(rs, "MOVE", REFS "heads/main", 1, &why),
       "MOVE to refs/heads/main: no Destination route");
    ok(!need(rs, "COPY", REFS "heads/main", 1, &why),
       "COPY to refs/heads/main: no Destination route");
    ok(!need(rs, "PROPPATCH", REFS "heads/main", 0, &why),
       "PROPPATCH refs/heads/main: none");
}

int main(void)
{
    bbt_rules_t *rs = git_rules();

    ok(rs != NULL, "the git set loads");
    if (rs) {
        test_push(rs);
        test_repository_names(rs);
        test_git_rules(rs);
        test_shapes(rs);
    }
    bbt_rules_free(rs);
    return done_testing();
}
