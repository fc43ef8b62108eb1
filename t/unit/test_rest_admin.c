/* The built-in bitbucket-rest set's writes under /rest/api that Bitbucket
 * reserves to a repository's or a project's administrators, which the
 * catch-all of a repository's other changes (REPO_WRITE) must not take:
 * deleting an attachment or its metadata, hook scripts, the ref change
 * log, revoking all of a user's grants at once, retrying a creation; a
 * project's avatar, settings restrictions and secret scanning exemptions;
 * the default branch.  And the neighbours that stay where they were. */
#include "bbt_rules.h"
#include "tap.h"
#include "rules_fixture.h"

#include <stdio.h>
#include <string.h>

#define API "/rest/api/latest/projects/PROJ/repos/repo"
#define API10 "/rest/api/1.0/projects/PROJ/repos/repo"
#define MINE "/rest/api/latest/projects/~alice/repos/mine"

static void test_attachments(const bbt_rules_t *rs)
{
    line_is(rs, "DELETE", API "/attachments/17", NULL, "REPO_ADMIN",
            "PROJ/repo");
    line_is(rs, "DELETE", API10 "/attachments/17", NULL, "REPO_ADMIN",
            "PROJ/repo");
    line_is(rs, "DELETE", API "/attachments/17/metadata", NULL, "REPO_ADMIN",
            "PROJ/repo");
    line_is(rs, "DELETE", API10 "/attachments/17/metadata/", NULL, "REPO_ADMIN",
            "PROJ/repo");
    line_is(rs, "DELETE", MINE "/attachments/17", NULL, "REPO_ADMIN",
            "~alice/mine");
    line_is(rs, "DELETE",
            "/rest/api/latest/projects/proj/repos/repo/attachments/1", NULL,
            "REPO_ADMIN", "PROJ/repo");
    /* Reading is a read; storing metadata is REPO_READ in Bitbucket and a
     * write here, as before. */
    line_is(rs, "GET", API "/attachments/17", NULL, "REPO_READ", "PROJ/repo");
    line_is(rs, "GET", API "/attachments/17/metadata", NULL, "REPO_READ",
            "PROJ/repo");
    line_is(rs, "PUT", API "/attachments/17/metadata", NULL, "REPO_WRITE",
            "PROJ/repo");
}

static void test_hook_scripts(const bbt_rules_t *rs)
{
    line_is(rs, "PUT", API "/hook-scripts/3", NULL, "REPO_ADMIN", "PROJ/repo");
    line_is(rs, "DELETE", API10 "/hook-scripts/3", NULL, "REPO_ADMIN",
            "PROJ/repo");
    line_is(rs, "GET", API "/hook-scripts", "start=0", "REPO_ADMIN",
            "PROJ/repo");
    line_is(rs, "HEAD", MINE "/hook-scripts", NULL, "REPO_ADMIN",
            "~alice/mine");
    line_is(rs, "POST", API "/hook-scripts", NULL, "REPO_ADMIN", "PROJ/repo");
    line_is(rs, "GET", API "/ref-change-activities", "ref=refs/heads/main",
            "REPO_ADMIN", "PROJ/repo");
    line_is(rs, "GET", API10 "/ref-change-activities/branches", NULL,
            "REPO_ADMIN", "PROJ/repo");
    /* Methods the route does not list match no route, as before. */
    line_is(rs, "PATCH", API "/hook-scripts/3", NULL, NULL, NULL);
    line_is(rs, "OPTIONS", API "/hook-scripts", NULL, NULL, NULL);
    /* A project's: reading them is PROJECT_ADMIN, configuring them
     * matches no route. */
    line_is(rs, "GET", "/rest/api/latest/projects/PROJ/hook-scripts", NULL,
            "PROJECT_ADMIN", "PROJ");
    line_is(rs, "GET", "/rest/api/1.0/projects/~alice/hook-scripts", NULL,
            "PROJECT_ADMIN", "~alice");
    line_is(rs, "PUT", "/rest/api/latest/projects/PROJ/hook-scripts/3", NULL,
            NULL, NULL);
    line_is(rs, "DELETE", "/rest/api/latest/projects/PROJ/hook-scripts/3", NULL,
            NULL, NULL);
}

static void test_project_admin(const bbt_rules_t *rs)
{
    /* All of a user's or a group's grants at once: PROJECT_ADMIN, on the
     * project; one at a time stays REPO_ADMIN. */
    line_is(rs, "DELETE", API "/permissions", "user=bob", "PROJECT_ADMIN",
            "PROJ");
    line_is(rs, "DELETE", API10 "/permissions/", "group=dev", "PROJECT_ADMIN",
            "PROJ");
    line_is(rs, "DELETE", MINE "/permissions", "user=bob", "PROJECT_ADMIN",
            "~alice");
    line_is(rs, "DELETE", API "/permissions/users", "name=bob", "REPO_ADMIN",
            "PROJ/repo");
    line_is(rs, "GET", API "/permissions", NULL, "REPO_ADMIN", "PROJ/repo");
    /* Retrying a failed creation or fork. */
    line_is(rs, "POST", API "/recreate", NULL, "PROJECT_ADMIN", "PROJ");
    line_is(rs, "POST", API10 "/recreate/", NULL, "PROJECT_ADMIN", "PROJ");
    line_is(rs, "POST", MINE "/recreate", NULL, "PROJECT_ADMIN", "~alice");
    line_is(rs, "GET", API "/recreate", NULL, "REPO_READ", "PROJ/repo");
}

static void test_project_settings(const bbt_rules_t *rs)
{
    /* A project's avatar, uploaded: PROJECT_ADMIN; read: a read.  Not a
     * personal project's, its owner's own. */
    line_is(rs, "POST", "/rest/api/latest/projects/PROJ/avatar.png", NULL,
            "PROJECT_ADMIN", "PROJ");
    line_is(rs, "POST", "/rest/api/1.0/projects/proj/avatar.png/", NULL,
            "PROJECT_ADMIN", "PROJ");
    line_is(rs, "GET", "/rest/api/latest/projects/PROJ/avatar.png", "s=48",
            "PROJECT_READ", "PROJ");
    line_is(rs, "POST", "/rest/api/latest/projects/~alice/avatar.png", NULL,
            NULL, NULL);
    line_is(rs, "DELETE", "/rest/api/latest/projects/PROJ/avatar.png", NULL,
            NULL, NULL);
    line_is(rs, "POST", "/rest/api/latest/projects/PROJ/avatarXpng", NULL, NULL,
            NULL);
    /* Settings restrictions: enforced and lifted by its administrators,
     * read by its readers. */
    line_is(rs, "POST", "/rest/api/latest/projects/PROJ/settings-restriction",
            NULL, "PROJECT_ADMIN", "PROJ");
    line_is(rs, "DELETE", "/rest/api/1.0/projects/PROJ/settings-restriction",
            "namespace=n&featureKey=f", "PROJECT_ADMIN", "PROJ");
    line_is(rs, "GET", "/rest/api/latest/projects/PROJ/settings-restriction",
            "namespace=n&featureKey=f", "PROJECT_READ", "PROJ");
    line_is(rs, "GET",
            "/rest/api/latest/projects/PROJ/settings-restriction/all", NULL,
            "PROJECT_READ", "PROJ");
    line_is(rs, "PUT", "/rest/api/latest/projects/PROJ/settings-restriction",
            NULL, NULL, NULL);
    /* The list of its repositories exempt from secret scanning is its
     * administrators'.  Exempting them in bulk names them in a JSON array
     * (any project's), which no route holds to a token's scope: none. */
    line_is(rs, "GET", "/rest/api/1.0/projects/PROJ/secret-scanning/exempt",
            NULL, "PROJECT_ADMIN", "PROJ");
    line_is(rs, "HEAD",
            "/rest/api/latest/projects/PROJ/secret-scanning/exempt/", NULL,
            "PROJECT_ADMIN", "PROJ");
    line_is(rs, "POST", "/rest/api/latest/projects/PROJ/secret-scanning/exempt",
            NULL, NULL, NULL);
    line_is(rs, "POST", "/rest/api/1.0/projects/PROJ/secret-scanning/exempt/",
            NULL, NULL, NULL);
    line_is(rs, "PUT", "/rest/api/latest/projects/PROJ/secret-scanning/exempt",
            NULL, NULL, NULL);
    line_is(rs, "DELETE",
            "/rest/api/latest/projects/PROJ/secret-scanning/exempt", NULL, NULL,
            NULL);
    line_is(rs, "POST", "/rest/api/latest/projects/PROJ/secret-scanning/rules",
            NULL, "PROJECT_ADMIN", "PROJ");
}

/* The default branch, under its current name and its legacy one
 * (branches/default): changing it is a repository setting, REPO_ADMIN in
 * Bitbucket; the catch-all of a repository's changes would make it
 * REPO_WRITE.  Reading it stays a read. */
static void test_default_branch(const bbt_rules_t *rs)
{
    static const char *const methods[] = {"POST", "PUT", "DELETE"};
    size_t i;

    for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        line_is(rs, methods[i], API "/branches/default", NULL, "REPO_ADMIN",
                "PROJ/repo");
        line_is(rs, methods[i], API10 "/default-branch", NULL, "REPO_ADMIN",
                "PROJ/repo");
    }
    line_is(rs, "PUT", MINE "/branches/default", NULL, "REPO_ADMIN",
            "~alice/mine");
    line_is(rs, "GET", API "/branches/default", NULL, "REPO_READ", "PROJ/repo");
}

static void test_neighbours(const bbt_rules_t *rs)
{
    /* Deleting someone else's comment or pull request is REPO_ADMIN in
     * Bitbucket, one's own is not: the route cannot tell the author, the
     * backend decides (BBTOKEN_TOKEN_PERMISSIONS). */
    line_is(rs, "DELETE", API "/commits/abc1/comments/5", NULL, "REPO_WRITE",
            "PROJ/repo");
    line_is(rs, "DELETE", API "/pull-requests/1/comments/5", NULL, "REPO_WRITE",
            "PROJ/repo");
    line_is(rs, "DELETE", API "/pull-requests/1/blocker-comments/5", NULL,
            "REPO_WRITE", "PROJ/repo");
    line_is(rs, "DELETE", API "/pull-requests/1", NULL, "REPO_WRITE",
            "PROJ/repo");
    line_is(rs, "POST", API "/labels", NULL, "REPO_ADMIN", "PROJ/repo");
    line_is(rs, "DELETE", API "/labels/x", NULL, "REPO_ADMIN", "PROJ/repo");
    line_is(rs, "PUT", API "/browse/README.md", NULL, "REPO_WRITE",
            "PROJ/repo");
    line_is(rs, "POST", API "/watch", NULL, "REPO_WRITE", "PROJ/repo");
}

/* A name the routes decide above the catch-alls, spelled with the
 * extension Atlassian's REST framework may strip (pull-requests.json
 * served as pull-requests): no route, never the catch-all's level. */
static void test_extensions(const bbt_rules_t *rs)
{
    static const char *const ext[] = {"json", "xml",  "txt",
                                      "htm",  "html", "atom"};
    static const struct {
        const char *method, *path;
    } name[] = {
        {"POST", API "/pull-requests"},
        {"PUT", API10 "/pull-requests"},
        {"GET", API "/compare"},
        {"DELETE", API "/permissions"},
        {"POST", API "/recreate"},
        {"PUT", API "/settings"},
        {"POST", API "/webhooks"},
        {"PUT", API "/hooks"},
        {"PUT", API "/default-branch"},
        {"PUT", API "/branches/default"},
        {"POST", API "/labels"},
        {"PUT", API "/secret-scanning"},
        {"GET", API "/secret-scanning/rules"},
        {"GET", API10 "/secret-scanning/allowlist"},
        {"DELETE", API "/attachments"},
        {"GET", API "/hook-scripts"},
        {"GET", API "/ref-change-activities"},
        {"DELETE", API "/commits/abc123/builds"},
        {"DELETE", API "/commits/abc123/deployments"},
        {"GET", MINE "/permissions"},
        {"GET", "/rest/api/latest/projects/PROJ/permissions"},
        {"PUT", "/rest/api/latest/projects/PROJ/settings"},
        {"POST", "/rest/api/1.0/projects/PROJ/webhooks"},
        {"PUT", "/rest/api/latest/projects/PROJ/hooks"},
        {"GET", "/rest/api/latest/projects/PROJ/hook-scripts"},
        {"GET", "/rest/api/latest/projects/PROJ/secret-scanning/rules"},
        {"GET", "/rest/api/1.0/projects/PROJ/secret-scanning/allowlist"},
        {"GET", "/rest/api/latest/projects/PROJ/secret-scanning/exempt"},
    };
    /* Zeroed: PCRE2's JIT reads past the string's end (its own
     * business, but valgrind reports the bytes never written). */
    char path[256] = {0};
    size_t i, j;

    for (i = 0; i < sizeof(name) / sizeof(name[0]); i++) {
        for (j = 0; j < sizeof(ext) / sizeof(ext[0]); j++) {
            snprintf(path, sizeof(path), "%s.%s", name[i].path, ext[j]);
            line_is(rs, name[i].method, path, NULL, NULL, NULL);
        }
        snprintf(path, sizeof(path), "%s.json/", name[i].path);
        line_is(rs, name[i].method, path, NULL, NULL, NULL);
        snprintf(path, sizeof(path), "%s.JSON", name[i].path);
        line_is(rs, name[i].method, path, NULL, NULL, NULL);
    }
    /* A repository's slug or a personal project's key that ends the path
     * would be served as another repository or project: no route. */
    for (j = 0; j < sizeof(ext) / sizeof(ext[0]); j++) {
        static const char *const method[] = {"GET", "PUT", "DELETE", "POST"};

        for (i = 0; i < sizeof(method) / sizeof(method[0]); i++) {
            snprintf(path, sizeof(path),
                     "/rest/api/latest/projects/PROJ/repos/other.%s", ext[j]);
            line_is(rs, method[i], path, NULL, NULL, NULL);
            snprintf(path, sizeof(path),
                     "/rest/api/1.0/projects/~alice/repos/mine.%s/", ext[j]);
            line_is(rs, method[i], path, NULL, NULL, NULL);
            snprintf(path, sizeof(path), "/rest/api/latest/projects/~alice.%s",
                     ext[j]);
            line_is(rs, method[i], path, NULL, NULL, NULL);
        }
    }
    line_is(rs, "DELETE", "/rest/api/latest/projects/PROJ/repos/other.JSON",
            NULL, NULL, NULL);
    line_is(rs, "POST",
            "/rest/branch-utils/latest/projects/PROJ/repos/other.json", NULL,
            NULL, NULL);
    /* Where the extension is not the last segment's, or the name is
     * another, the routes decide as before: a slug with a dot of its own
     * too. */
    line_is(rs, "GET", "/rest/api/latest/projects/PROJ/repos/my.lib", NULL,
            "REPO_READ", "PROJ/my.lib");
    line_is(rs, "DELETE", "/rest/api/latest/projects/PROJ/repos/my.lib", NULL,
            "REPO_ADMIN", "PROJ/my.lib");
    line_is(rs, "GET", "/rest/api/latest/projects/PROJ/repos/x.json/browse",
            NULL, "REPO_READ", "PROJ/x.json");
    line_is(rs, "PUT", "/rest/api/latest/projects/~alice.smith", NULL,
            "PROJECT_ADMIN", "~alice.smith");
    line_is(rs, "POST", API "/pull-requests/1.json", NULL, "REPO_WRITE",
            "PROJ/repo");
    line_is(rs, "GET", API "/browse/package.json", NULL, "REPO_READ",
            "PROJ/repo");
    line_is(rs, "PUT", API "/browse/settings.json", NULL, "REPO_WRITE",
            "PROJ/repo");
    line_is(rs, "GET", API "/pull-requests.json/1", NULL, "REPO_READ",
            "PROJ/repo");
}

int main(void)
{
    bbt_rules_t *rs = builtin_rules("bitbucket-rest", "");
    bbt_rules_t *pre = builtin_rules("bitbucket-rest", "/bb");

    if (!ok(rs && pre, "the bitbucket-rest set loads"))
        return done_testing();
    test_attachments(rs);
    test_hook_scripts(rs);
    test_project_admin(rs);
    test_project_settings(rs);
    test_default_branch(rs);
    test_neighbours(rs);
    test_extensions(rs);
    line_is(pre, "DELETE", "/bb" API "/attachments/17", NULL, "REPO_ADMIN",
            "PROJ/repo");
    line_is(pre, "POST", "/bb" API "/recreate", NULL, "PROJECT_ADMIN", "PROJ");
    line_is(pre, "DELETE", API "/attachments/17", NULL, NULL, NULL);
    bbt_rules_free(rs);
    bbt_rules_free(pre);
    return done_testing();
}
