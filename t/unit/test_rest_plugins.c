/* The built-in bitbucket-rest set over Bitbucket's REST plugins besides
 * /rest/api (branch-utils, git, insights, default-reviewers, keys,
 * branch-permissions, required-builds, default-tasks, comment-likes, jira,
 * sync): the permission and target each endpoint gets, never below what
 * Bitbucket requires, and what matches no route (the legacy build-status
 * API, which names no repository; a key by its id alone; a fork's
 * synchronization, which takes in its origin; OPTIONS). */
#include "bbt_rules.h"
#include "tap.h"
#include "rules_fixture.h"

#include <stdio.h>
#include <string.h>

#define BU "/rest/branch-utils/"
#define GIT "/rest/git/"
#define INS "/rest/insights/latest/projects/PROJ/repos/repo/commits/abc1"
#define DR "/rest/default-reviewers/"
#define KEYS "/rest/keys/"
#define BP "/rest/branch-permissions/"
#define RB "/rest/required-builds/"
#define DT "/rest/default-tasks/"
#define CL "/rest/comment-likes/"

static void test_branch_utils_git(const bbt_rules_t *rs)
{
    line_is(rs, "POST", BU "1.0/projects/PROJ/repos/repo/branches", NULL,
            "REPO_WRITE", "PROJ/repo");
    line_is(rs, "DELETE", BU "latest/projects/PROJ/repos/repo/branches/", NULL,
            "REPO_WRITE", "PROJ/repo");
    line_is(rs, "POST", BU "latest/projects/~alice/repos/mine/branches", NULL,
            "REPO_WRITE", "~alice/mine");
    line_is(rs, "POST", BU "latest/projects/proj/repos/repo/branches", NULL,
            "REPO_WRITE", "PROJ/repo");
    line_is(rs, "GET", BU "latest/projects/PROJ/repos/repo/branches/info/abc1",
            NULL, "REPO_READ", "PROJ/repo");
    line_is(rs, "HEAD", BU "1.0/projects/PROJ/repos/repo/branches/info/abc1",
            NULL, "REPO_READ", "PROJ/repo");
    /* The list of branches is /rest/api's; no other method or version. */
    line_is(rs, "GET", BU "latest/projects/PROJ/repos/repo/branches", NULL,
            NULL, NULL);
    line_is(rs, "PUT", BU "latest/projects/PROJ/repos/repo/branches", NULL,
            NULL, NULL);
    line_is(rs, "OPTIONS", BU "latest/projects/PROJ/repos/repo/branches", NULL,
            NULL, NULL);
    line_is(rs, "POST", BU "2.0/projects/PROJ/repos/repo/branches", NULL, NULL,
            NULL);
    line_is(rs, "POST", BU "latest/projects/PR-OJ/repos/repo/branches", NULL,
            NULL, NULL);
    line_is(rs, "POST", BU "latest/projects/PROJ/repos/re po/branches", NULL,
            NULL, NULL);
    line_is(rs, "POST", BU "latest/projects/PROJ/repos/repo/branches/x", NULL,
            NULL, NULL);

    line_is(rs, "POST", GIT "1.0/projects/PROJ/repos/repo/tags", NULL,
            "REPO_WRITE", "PROJ/repo");
    line_is(rs, "DELETE", GIT "latest/projects/PROJ/repos/repo/tags/v1.0", NULL,
            "REPO_WRITE", "PROJ/repo");
    line_is(rs, "DELETE", GIT "latest/projects/PROJ/repos/repo/tags/rel/1.0",
            NULL, "REPO_WRITE", "PROJ/repo");
    line_is(rs, "DELETE", GIT "latest/projects/PROJ/repos/repo/tags/", NULL,
            NULL, NULL);
    line_is(rs, "GET", GIT "latest/projects/PROJ/repos/repo/tags", NULL, NULL,
            NULL);
    /* A rebase writes to the pull request's source repository. */
    line_is(rs, "POST",
            GIT "latest/projects/PROJ/repos/repo/pull-requests/1/rebase", NULL,
            NULL, NULL);
    line_is(rs, "GET",
            GIT "latest/projects/PROJ/repos/repo/pull-requests/1/rebase", NULL,
            NULL, NULL);
}

static void test_insights(const bbt_rules_t *rs)
{
    line_is(rs, "GET", INS "/reports", NULL, "REPO_READ", "PROJ/repo");
    line_is(rs, "GET", INS "/reports/com.example.lint", NULL, "REPO_READ",
            "PROJ/repo");
    line_is(rs, "HEAD", INS "/reports/com.example.lint/annotations", NULL,
            "REPO_READ", "PROJ/repo");
    line_is(rs, "GET", INS "/annotations", "severity=HIGH", "REPO_READ",
            "PROJ/repo");
    line_is(rs, "GET",
            "/rest/insights/1.0/projects/PROJ/repos/repo/commits/abc1/reports",
            NULL, "REPO_READ", "PROJ/repo");
    line_is(rs, "PUT", INS "/reports/com.example.lint", NULL, "REPO_WRITE",
            "PROJ/repo");
    line_is(rs, "POST", INS "/reports/com.example.lint/annotations", NULL,
            "REPO_WRITE", "PROJ/repo");
    line_is(rs, "PUT", INS "/reports/com.example.lint/annotations/e1", NULL,
            "REPO_WRITE", "PROJ/repo");
    /* Bitbucket: REPO_READ for the report's author, REPO_ADMIN for anyone
     * else; the route cannot tell which. */
    line_is(rs, "DELETE", INS "/reports/com.example.lint", NULL, "REPO_ADMIN",
            "PROJ/repo");
    line_is(rs, "DELETE", INS "/reports/com.example.lint/annotations",
            "externalId=e1", "REPO_ADMIN", "PROJ/repo");
    line_is(rs, "PUT", INS "/reports", NULL, NULL, NULL);
    line_is(rs, "POST", INS "/reports/com.example.lint", NULL, NULL, NULL);
    line_is(rs, "DELETE", INS "/annotations", NULL, NULL, NULL);
    line_is(rs, "DELETE", INS "/reports/k/annotations/e1", NULL, NULL, NULL);
    line_is(rs, "OPTIONS", INS "/reports/com.example.lint", NULL, NULL, NULL);
    line_is(rs, "GET", INS "/reports/k/annotations/e1/x", NULL, NULL, NULL);
}

static void test_reviewers_keys(const bbt_rules_t *rs)
{
    line_is(rs, "GET", DR "1.0/projects/PROJ/conditions", NULL, "PROJECT_ADMIN",
            "PROJ");
    line_is(rs, "POST", DR "1.0/projects/PROJ/condition", NULL, "PROJECT_ADMIN",
            "PROJ");
    line_is(rs, "PUT", DR "latest/projects/PROJ/condition/3", NULL,
            "PROJECT_ADMIN", "PROJ");
    line_is(rs, "DELETE", DR "1.0/projects/PROJ/condition/3", NULL,
            "PROJECT_ADMIN", "PROJ");
    line_is(rs, "GET", DR "1.0/projects/PROJ/repos/repo/conditions", NULL,
            "REPO_ADMIN", "PROJ/repo");
    line_is(rs, "POST", DR "1.0/projects/PROJ/repos/repo/condition", NULL,
            "REPO_ADMIN", "PROJ/repo");
    line_is(rs, "DELETE", DR "1.0/projects/PROJ/repos/repo/condition/3", NULL,
            "REPO_ADMIN", "PROJ/repo");
    /* Whoever asks opens a pull request; the two repositories the query
     * names are query-repo='s (test_namedrepo). */
    line_is(rs, "GET", DR "1.0/projects/PROJ/repos/repo/reviewers",
            "sourceRepoId=1&targetRepoId=2", "REPO_WRITE", "PROJ/repo");
    line_is(rs, "HEAD", DR "latest/projects/PROJ/repos/repo/reviewers/", NULL,
            "REPO_WRITE", "PROJ/repo");
    line_is(rs, "POST", DR "1.0/projects/PROJ/repos/repo/reviewers", NULL, NULL,
            NULL);
    line_is(rs, "OPTIONS", DR "1.0/projects/PROJ/conditions", NULL, NULL, NULL);

    line_is(rs, "GET", KEYS "1.0/projects/PROJ/ssh", NULL, "PROJECT_ADMIN",
            "PROJ");
    line_is(rs, "POST", KEYS "latest/projects/PROJ/ssh", NULL, "PROJECT_ADMIN",
            "PROJ");
    line_is(rs, "GET", KEYS "1.0/projects/PROJ/ssh/5", NULL, "PROJECT_ADMIN",
            "PROJ");
    line_is(rs, "DELETE", KEYS "1.0/projects/PROJ/ssh/5", NULL, "PROJECT_ADMIN",
            "PROJ");
    line_is(rs, "PUT", KEYS "1.0/projects/PROJ/ssh/5/permission/PROJECT_WRITE",
            NULL, "PROJECT_ADMIN", "PROJ");
    line_is(rs, "GET", KEYS "1.0/projects/PROJ/repos/repo/ssh", NULL,
            "REPO_ADMIN", "PROJ/repo");
    line_is(rs, "HEAD", KEYS "latest/projects/PROJ/repos/repo/ssh/5", NULL,
            "REPO_ADMIN", "PROJ/repo");
    line_is(rs, "POST", KEYS "1.0/projects/PROJ/repos/repo/ssh", NULL,
            "REPO_ADMIN", "PROJ/repo");
    line_is(rs, "PUT",
            KEYS "1.0/projects/PROJ/repos/repo/ssh/5/permission/REPO_WRITE",
            NULL, "REPO_ADMIN", "PROJ/repo");
    /* A key by its id alone names no project. */
    line_is(rs, "DELETE", KEYS "latest/ssh/5", NULL, NULL, NULL);
    line_is(rs, "GET", KEYS "1.0/ssh/5/projects", NULL, NULL, NULL);
    line_is(rs, "OPTIONS", KEYS "1.0/projects/PROJ/ssh", NULL, NULL, NULL);
}

static void test_branch_permissions(const bbt_rules_t *rs)
{
    /* A repository's restrictions: REPO_ADMIN to read them too. */
    line_is(rs, "GET", BP "2.0/projects/PROJ/repos/repo/restrictions",
            "type=read-only", "REPO_ADMIN", "PROJ/repo");
    line_is(rs, "POST", BP "2.0/projects/PROJ/repos/repo/restrictions", NULL,
            "REPO_ADMIN", "PROJ/repo");
    line_is(rs, "GET", BP "latest/projects/PROJ/repos/repo/restrictions/7",
            NULL, "REPO_ADMIN", "PROJ/repo");
    line_is(rs, "DELETE", BP "latest/projects/proj/repos/repo/restrictions/7/",
            NULL, "REPO_ADMIN", "PROJ/repo");
    line_is(rs, "HEAD", BP "2.0/projects/~alice/repos/mine/restrictions", NULL,
            "REPO_ADMIN", "~alice/mine");
    /* A project's: PROJECT_ADMIN. */
    line_is(rs, "GET", BP "latest/projects/PROJ/restrictions", NULL,
            "PROJECT_ADMIN", "PROJ");
    line_is(rs, "POST", BP "2.0/projects/PROJ/restrictions", NULL,
            "PROJECT_ADMIN", "PROJ");
    line_is(rs, "DELETE", BP "latest/projects/PROJ/restrictions/7", NULL,
            "PROJECT_ADMIN", "PROJ");
    /* Not 1.0, no other method, no other path. */
    line_is(rs, "GET", BP "1.0/projects/PROJ/repos/repo/restrictions", NULL,
            NULL, NULL);
    line_is(rs, "POST", BP "1.0/projects/PROJ/restrictions", NULL, NULL, NULL);
    line_is(rs, "PUT", BP "2.0/projects/PROJ/repos/repo/restrictions/7", NULL,
            NULL, NULL);
    line_is(rs, "OPTIONS", BP "2.0/projects/PROJ/restrictions", NULL, NULL,
            NULL);
    line_is(rs, "GET", BP "2.0/projects/PROJ/repos/repo/restrictions/7/x", NULL,
            NULL, NULL);
    line_is(rs, "GET", BP "2.0/projects/PROJ/repos/repo/restrictions.json",
            NULL, NULL, NULL);
    line_is(rs, "POST", BP "2.0/projects/PR-OJ/restrictions", NULL, NULL, NULL);
}

static void test_branch_model(const bbt_rules_t *rs)
{
    line_is(rs, "GET", BU "latest/projects/PROJ/repos/repo/branchmodel", NULL,
            "REPO_READ", "PROJ/repo");
    line_is(rs, "GET", BU "1.0/projects/PROJ/repos/repo/branchmodel/", NULL,
            "REPO_READ", "PROJ/repo");
    /* Its configuration is a setting: admin, to read it too. */
    line_is(rs, "GET",
            BU "latest/projects/PROJ/repos/repo/branchmodel/configuration",
            NULL, "REPO_ADMIN", "PROJ/repo");
    line_is(rs, "PUT",
            BU "latest/projects/PROJ/repos/repo/branchmodel/configuration",
            NULL, "REPO_ADMIN", "PROJ/repo");
    line_is(rs, "DELETE",
            BU "1.0/projects/PROJ/repos/repo/branchmodel/configuration", NULL,
            "REPO_ADMIN", "PROJ/repo");
    line_is(rs, "GET", BU "latest/projects/PROJ/branchmodel/configuration",
            NULL, "PROJECT_ADMIN", "PROJ");
    line_is(rs, "PUT", BU "latest/projects/PROJ/branchmodel/configuration/",
            NULL, "PROJECT_ADMIN", "PROJ");
    line_is(rs, "DELETE", BU "1.0/projects/~alice/branchmodel/configuration",
            NULL, "PROJECT_ADMIN", "~alice");
    line_is(rs, "PUT", BU "latest/projects/PROJ/repos/repo/branchmodel", NULL,
            NULL, NULL);
    line_is(rs, "POST",
            BU "latest/projects/PROJ/repos/repo/branchmodel/configuration",
            NULL, NULL, NULL);
    line_is(rs, "GET", BU "latest/projects/PROJ/branchmodel", NULL, NULL, NULL);
}

static void test_conditions_tasks(const bbt_rules_t *rs)
{
    line_is(rs, "GET", RB "latest/projects/PROJ/repos/repo/conditions",
            "start=0", "REPO_READ", "PROJ/repo");
    line_is(rs, "POST", RB "latest/projects/PROJ/repos/repo/condition", NULL,
            "REPO_ADMIN", "PROJ/repo");
    line_is(rs, "PUT", RB "1.0/projects/PROJ/repos/repo/condition/4", NULL,
            "REPO_ADMIN", "PROJ/repo");
    line_is(rs, "DELETE", RB "latest/projects/PROJ/repos/repo/condition/4",
            NULL, "REPO_ADMIN", "PROJ/repo");
    line_is(rs, "POST", RB "latest/projects/PROJ/repos/repo/conditions", NULL,
            NULL, NULL);
    line_is(rs, "GET", RB "latest/projects/PROJ/conditions", NULL, NULL, NULL);

    line_is(rs, "GET", DT "latest/projects/PROJ/repos/repo/tasks", NULL,
            "REPO_READ", "PROJ/repo");
    line_is(rs, "POST", DT "latest/projects/PROJ/repos/repo/tasks", NULL,
            "REPO_ADMIN", "PROJ/repo");
    line_is(rs, "DELETE", DT "latest/projects/PROJ/repos/repo/tasks", NULL,
            "REPO_ADMIN", "PROJ/repo");
    line_is(rs, "PUT", DT "1.0/projects/PROJ/repos/repo/tasks/2", NULL,
            "REPO_ADMIN", "PROJ/repo");
    line_is(rs, "GET", DT "latest/projects/PROJ/tasks", NULL, "PROJECT_READ",
            "PROJ");
    line_is(rs, "POST", DT "latest/projects/PROJ/tasks", NULL, "PROJECT_ADMIN",
            "PROJ");
    line_is(rs, "DELETE", DT "latest/projects/PROJ/tasks/2", NULL,
            "PROJECT_ADMIN", "PROJ");
    line_is(rs, "GET", DT "latest/projects/PROJ/repos/repo/tasks/2", NULL, NULL,
            NULL);
}

static void test_likes_jira_sync(const bbt_rules_t *rs)
{
    line_is(rs, "GET",
            CL
            "latest/projects/PROJ/repos/repo/pull-requests/1/comments/2/likes",
            NULL, "REPO_READ", "PROJ/repo");
    line_is(rs, "POST",
            CL
            "latest/projects/PROJ/repos/repo/pull-requests/1/comments/2/likes",
            NULL, "REPO_WRITE", "PROJ/repo");
    line_is(rs, "DELETE",
            CL "1.0/projects/PROJ/repos/repo/commits/abc1/comments/2/likes",
            NULL, "REPO_WRITE", "PROJ/repo");
    line_is(rs, "PUT",
            CL "latest/projects/PROJ/repos/repo/pull-requests/1/comments/2/"
               "reactions/thumbsup",
            NULL, "REPO_WRITE", "PROJ/repo");
    line_is(rs, "DELETE",
            CL "latest/projects/PROJ/repos/repo/commits/abc1/comments/2/"
               "reactions/thumbsup",
            NULL, "REPO_WRITE", "PROJ/repo");
    line_is(rs, "PUT",
            CL
            "latest/projects/PROJ/repos/repo/pull-requests/1/comments/2/likes",
            NULL, NULL, NULL);
    line_is(rs, "GET",
            CL "latest/projects/PROJ/repos/repo/pull-requests/1/comments/2/"
               "reactions/thumbsup",
            NULL, NULL, NULL);

    line_is(rs, "GET",
            "/rest/jira/latest/projects/PROJ/repos/repo/pull-requests/1/issues",
            NULL, "REPO_READ", "PROJ/repo");
    line_is(rs, "GET",
            "/rest/jira/1.0/projects/PROJ/primary-enhanced-entitylink", NULL,
            "PROJECT_READ", "PROJ");
    /* A comment by its id alone; an issue's commits everywhere. */
    line_is(rs, "POST", "/rest/jira/latest/comments/2/issues", NULL, NULL,
            NULL);
    line_is(rs, "GET", "/rest/jira/1.0/issues/ABC-1/commits", NULL, NULL, NULL);

    line_is(rs, "GET", "/rest/sync/latest/projects/PROJ/repos/fork", "at=x",
            "REPO_READ", "PROJ/fork");
    /* Enabling it or synchronizing takes in the origin's commits. */
    line_is(rs, "POST", "/rest/sync/latest/projects/PROJ/repos/fork", NULL,
            NULL, NULL);
    line_is(rs, "POST", "/rest/sync/1.0/projects/PROJ/repos/fork/synchronize",
            NULL, NULL, NULL);
    line_is(rs, "GET", "/rest/sync/latest/projects/PROJ/repos/fork.json", NULL,
            NULL, NULL);
}

static void test_build_status(const bbt_rules_t *rs)
{
    static const char *const legacy[] = {
        "/rest/build-status/1.0/commits/abc1",
        "/rest/build-status/latest/commits/abc1",
        "/rest/build-status/latest/commits/stats/abc1",
        "/rest/build-status/1.0/commits/stats"};
    static const char *const methods[] = {"GET", "HEAD", "POST", "DELETE"};
    size_t i, j;

    for (i = 0; i < sizeof(legacy) / sizeof(legacy[0]); i++)
        for (j = 0; j < sizeof(methods) / sizeof(methods[0]); j++)
            line_is(rs, methods[j], legacy[i], NULL, NULL, NULL);
    /* The repository's own: storing is a write here, deleting REPO_ADMIN
     * as in Bitbucket. */
    line_is(rs, "GET",
            "/rest/api/latest/projects/PROJ/repos/repo/commits/abc1/builds",
            "key=ci", "REPO_READ", "PROJ/repo");
    line_is(rs, "POST",
            "/rest/api/latest/projects/PROJ/repos/repo/commits/abc1/builds",
            NULL, "REPO_WRITE", "PROJ/repo");
    line_is(rs, "DELETE",
            "/rest/api/latest/projects/PROJ/repos/repo/commits/abc1/builds",
            "key=ci", "REPO_ADMIN", "PROJ/repo");
    line_is(rs, "DELETE",
            "/rest/api/1.0/projects/PROJ/repos/repo/commits/abc1/deployments",
            NULL, "REPO_ADMIN", "PROJ/repo");
    line_is(rs, "POST",
            "/rest/api/1.0/projects/PROJ/repos/repo/commits/abc1/deployments",
            NULL, "REPO_WRITE", "PROJ/repo");
}

int main(void)
{
    bbt_rules_t *rs = builtin_rules("bitbucket-rest", "");
    bbt_rules_t *pre = builtin_rules("bitbucket-rest", "/bb");

    if (!ok(rs && pre, "the bitbucket-rest set loads"))
        return done_testing();
    test_branch_utils_git(rs);
    test_insights(rs);
    test_reviewers_keys(rs);
    test_build_status(rs);
    test_branch_permissions(rs);
    test_branch_model(rs);
    test_conditions_tasks(rs);
    test_likes_jira_sync(rs);
    /* Under a prefix, the plugins are under it too. */
    line_is(pre, "POST", "/bb" BU "latest/projects/PROJ/repos/repo/branches",
            NULL, "REPO_WRITE", "PROJ/repo");
    line_is(pre, "POST", BU "latest/projects/PROJ/repos/repo/branches", NULL,
            NULL, NULL);
    line_is(pre, "GET", "/bb" KEYS "1.0/projects/PROJ/ssh", NULL,
            "PROJECT_ADMIN", "PROJ");
    line_is(pre, "POST", "/bb" BP "2.0/projects/PROJ/repos/repo/restrictions",
            NULL, "REPO_ADMIN", "PROJ/repo");
    line_is(pre, "POST", BP "2.0/projects/PROJ/repos/repo/restrictions", NULL,
            NULL, NULL);
    bbt_rules_free(rs);
    bbt_rules_free(pre);
    return done_testing();
}
