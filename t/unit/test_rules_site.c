/* SITE_READ, a route's read outside any one project: the keyword compiles,
 * what may not come with it is refused at load, and the REST set's reads
 * across projects match it (both API versions, any query string) while
 * its denies, and everything else, still win. */
#include "bbt_rules.h"
#include "tap.h"
#include "rules_fixture.h"

#include <string.h>

static void test_language(void)
{
    char err[BBT_RULES_ERR_MAX];
    bbt_rules_t *rs = bbt_rules_new();
    bbt_match_t out;

    ok(bbt_rules_load(rs,
                      "BBTokenRoute GET,HEAD /api/(projects|repos)/? "
                      "SITE_READ\n"
                      "BBTokenRoute GET /api/props SITE_READ query=\n"
                      "BBTokenRoute GET /api/(?<project>[A-Z]+) "
                      "PROJECT_READ\n",
                      NULL, "t", err, sizeof(err)) == 0,
       "SITE_READ compiles, with query= too");
    if (!rs || bbt_rules_count(rs) != 3) {
        diag("%s", err);
        bbt_rules_free(rs);
        return;
    }
    line_is(rs, "GET", "/api/projects", NULL, "SITE_READ", "");
    line_is(rs, "HEAD", "/api/repos/", "name=x&start=25", "SITE_READ", "");
    line_is(rs, "GET", "/api/props", NULL, "SITE_READ", "");
    /* A route is matched whole: projects/X is the project route's. */
    line_is(rs, "GET", "/api/PROJ", NULL, "PROJECT_READ", "PROJ");
    line_is(rs, "GET", "/api/projects/X", NULL, NULL, NULL);
    line_is(rs, "GET", "/api/props", "x=1", NULL, NULL);
    line_is(rs, "POST", "/api/projects", NULL, NULL, NULL);
    line_is(rs, "GET", "/api/projects/../x", NULL, NULL, NULL);

    memset(&out, 0x5a, sizeof(out));
    ok(bbt_rules_match(rs, "GET", "/api/repos", NULL, 0, &out) ==
               BBT_ROUTE_MATCH &&
           bbt_perm_site(out.target.need) &&
           out.target.need.level == BBT_LEVEL_READ && !out.target.key[0] &&
           !out.target.slug[0] && out.key_len == 0 && out.key_exact &&
           out.token_need.level == BBT_LEVEL_NONE && out.into == BBT_INTO_NONE,
       "a SITE_READ match: no key, no slug, nothing else to decide");
    ok(bbt_rules_match(rs, "GET", "/api/repos", NULL, 1, &out) ==
           BBT_ROUTE_NONE,
       "nor is it a Destination's route");
    bbt_rules_free(rs);
}

/* What httpd refuses to start with: its message names the route. */
static void test_refused(void)
{
    bad_route("BBTokenRoute * /p SITE_READ\n",
              "t:1: SITE_READ is a read: its methods are GET and HEAD "
              "alone, named (not *), not '*'");
    bad_route("BBTokenRoute GET,POST /p SITE_READ\n",
              "methods are GET and HEAD alone, named (not *), not 'POST'");
    bad_route("BBTokenRoute OPTIONS /p SITE_READ\n", "not 'OPTIONS'");
    bad_route("BBTokenRoute PROPFIND /p SITE_READ\n", "not 'PROPFIND'");
    bad_route("BBTokenRoute GET /p/(?<project>[A-Z]+) SITE_READ\n",
              "no (?<project>...) or (?<repo>...) capture in "
              "'/p/(?<project>[A-Z]+)'");
    bad_route("BBTokenRoute GET /p/(?<repo>[a-z]+) SITE_READ\n",
              "no (?<project>...) or (?<repo>...) capture");
    /* (?J) lets a name stand twice, which PCRE2 answers as no one group:
     * refused outright, for every route. */
    bad_route(
        "BBTokenRoute GET (?J)/a/(?<project>[A-Z]+)|/b/(?<project>[a-z]+) "
        "SITE_READ\n",
        "named more than once");
    bad_route("BBTokenRoute GET (?J)/a/(?<repo>[a-z]+)|/b/(?<repo>[0-9]+) "
              "SITE_READ\n",
              "named more than once");
    bad_route(
        "BBTokenRoute GET (?J)/(?<project>[A-Z]+)/x|/(?<project>[A-Z]+)/y "
        "PROJECT_READ\n",
        "named more than once");
    bad_route("BBTokenRoute GET /p SITE_READ project=PROJ\n",
              "it takes no option but query=, not 'project='");
    bad_route("BBTokenRoute GET /p SITE_READ token=REPO_READ\n",
              "no option but query=, not 'token='");
    bad_route("BBTokenRoute GET /p SITE_READ destination\n",
              "no option but query=, not 'destination'");
    bad_route("BBTokenRoute GET /p SITE_READ json=a:b\n",
              "no option but query=, not 'json='");
    bad_route("BBTokenRoute GET /p SITE_READ query-repo=fromRepo\n",
              "no option but query=, not 'query-repo='");
    bad_route("BBTokenRoute GET /p SITE_READ body-repo=a.b\n",
              "no option but query=, not 'body-repo='");
    bad_route("BBTokenRoute GET /p SITE_READ body-project=project.key:"
              "PROJECT_READ\n",
              "no option but query=, not 'body-project='");
    /* Not a grant, nor a token's: nowhere but as a route's need. */
    bad_route("BBTokenRoute GET /(?<project>[A-Z]+) PROJECT_READ "
              "token=SITE_READ\n",
              "unknown permission 'SITE_READ'");
    bad_route("BBTokenRoute POST /(?<project>[A-Z]+)/(?<repo>[a-z]+) "
              "REPO_READ body-project=project.key:SITE_READ\n",
              "SITE_READ");
    bad_route("BBTokenRoute GET /p SITE_WRITE\n",
              "unknown permission (PROJECT_READ, PROJECT_WRITE, REPO_CREATE, "
              "PROJECT_ADMIN, REPO_READ, REPO_WRITE or REPO_ADMIN, or "
              "SITE_READ, or deny): 'SITE_WRITE'");
    bad_route("BBTokenRoute GET /p site_read\n", "unknown permission");
}

/* The REST set's reads across projects: SITE_READ, on both API versions,
 * with a query string or a trailing slash; their denies and every other
 * site-wide path still refused. */
static void test_rest_set(void)
{
    static const char *const site[] = {
        "projects",
        "repos",
        "application-properties",
        "dashboard/pull-requests",
        "dashboard/pull-request-suggestions",
        "inbox/pull-requests",
        "inbox/pull-requests/count",
        "profile/recent/repos",
    };
    static const char *const refused[] = {
        /* users and admin stay denied, a ';' and a .json suffix too */
        "users",
        "users/alice",
        "admin",
        "admin/users",
        "projects;x",
        "repos;jsessionid=1",
        "projects.json",
        "repos.xml",
        "dashboard/pull-requests.json",
        /* what the list is not */
        "dashboard",
        "dashboard/pull-requests/1",
        "inbox",
        "inbox/pull-requests/count/x",
        "profile",
        "profile/recent",
        "profile/recent/repos/x",
        "repos/x",
        "logs",
        "groups",
        "hooks",
        "markup/preview",
        "application-properties/x",
    };
    const char *const versions[] = {"1.0", "latest"};
    bbt_rules_t *rs = builtin_rules("bitbucket-rest", "");
    bbt_rules_t *pre = builtin_rules("bitbucket-rest", "/bb");
    /* Zeroed: PCRE2's JIT may read a few bytes past the subject's end,
     * which valgrind would call uninitialised. */
    char path[200] = "";
    size_t i, v;

    if (!rs || !pre) {
        bbt_rules_free(rs);
        bbt_rules_free(pre);
        return;
    }
    for (v = 0; v < 2; v++) {
        for (i = 0; i < sizeof(site) / sizeof(site[0]); i++) {
            snprintf(path, sizeof(path), "/rest/api/%s/%s", versions[v],
                     site[i]);
            line_is(rs, "GET", path, NULL, "SITE_READ", "");
            line_is(rs, "HEAD", path, "start=0&limit=25", "SITE_READ", "");
            line_is(rs, "POST", path, NULL, NULL, NULL);
            line_is(rs, "PUT", path, NULL, NULL, NULL);
            line_is(rs, "DELETE", path, NULL, NULL, NULL);
            line_is(rs, "OPTIONS", path, NULL, NULL, NULL);
            line_is(pre, "GET", path, NULL, NULL, NULL);
            snprintf(path, sizeof(path), "/rest/api/%s/%s/", versions[v],
                     site[i]);
            line_is(rs, "GET", path, NULL, "SITE_READ", "");
            snprintf(path, sizeof(path), "/bb/rest/api/%s/%s", versions[v],
                     site[i]);
            line_is(pre, "GET", path, NULL, "SITE_READ", "");
        }
        for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
            snprintf(path, sizeof(path), "/rest/api/%s/%s", versions[v],
                     refused[i]);
            line_is(rs, "GET", path, NULL, NULL, NULL);
        }
    }
    line_is(rs, "GET", "/rest/api/2.0/projects", NULL, NULL, NULL);
    line_is(rs, "GET", "/rest/branch-utils/1.0/projects", NULL, NULL, NULL);
    line_is(rs, "GET", "/rest/api/1.0/projects\n", NULL, NULL, NULL);
    line_is(rs, "GET", "/rest/api/1.0//projects", NULL, NULL, NULL);
    line_is(rs, "GET", "/rest/api/1.0/x/../projects", NULL, NULL, NULL);
    /* The project routes still decide a project's own reads. */
    line_is(rs, "GET", "/rest/api/1.0/projects/PROJ", NULL, "PROJECT_READ",
            "PROJ");
    line_is(rs, "GET", "/rest/api/latest/projects/PROJ/repos", "limit=5",
            "PROJECT_READ", "PROJ");
    bbt_rules_free(rs);
    bbt_rules_free(pre);
}

int main(void)
{
    test_language();
    test_refused();
    test_rest_set();
    return done_testing();
}
