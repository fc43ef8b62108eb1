/* The route option body-project= (bbt_bodyproj): what a route file may say
 * and what it may not, and the second project a fork's or a move's body
 * gives a request, in a route of its own and in the shipped bitbucket-rest
 * set. */
#include "bbt_body.h"
#include "bbt_rules.h"
#include "tap.h"
#include "rules_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define P "/(?<project>[A-Za-z~]+)/(?<repo>[a-z]+)"

static void test_errors(void)
{
    bad_route("BBTokenRoute POST " P " REPO_READ body-project=project.key\n",
              "body-project= needs PATH:PERMISSION");
    bad_route("BBTokenRoute POST " P " REPO_READ body-project=:PROJECT_ADMIN\n",
              "body-project= needs PATH:PERMISSION");
    bad_route("BBTokenRoute POST " P
              " REPO_READ body-project=project.key:REPO_ADMIN\n",
              "body-project= needs a PROJECT_ permission");
    bad_route("BBTokenRoute POST " P
              " REPO_READ body-project=project.key:deny\n",
              "body-project= needs a PROJECT_ permission");
    bad_route("BBTokenRoute POST " P
              " REPO_READ body-project=project.key:PROJECT_CREATE\n",
              "body-project= needs a PROJECT_ permission or REPO_CREATE");
    bad_route("BBTokenRoute POST " P
              " REPO_READ body-project=project..key:PROJECT_ADMIN\n",
              "body-project= PATH is 1 to 8 names");
    bad_route("BBTokenRoute POST " P
              " REPO_READ body-project=project.:PROJECT_ADMIN\n",
              "body-project= PATH ends in '.'");
    bad_route("BBTokenRoute POST " P
              " REPO_READ body-project=a.b.c.d.e.f.g.h.i:PROJECT_ADMIN\n",
              "body-project= PATH is 1 to 8 names");
    bad_route("BBTokenRoute POST " P
              " REPO_READ body-project=pro/ject.key:PROJECT_ADMIN\n",
              "body-project= names may hold only");
    bad_route("BBTokenRoute POST " P
              " REPO_READ body-project-absent=personal\n",
              "need body-project=");
    bad_route("BBTokenRoute POST " P " REPO_READ body-project-same=skip\n",
              "need body-project=");
    bad_route("BBTokenRoute POST " P
              " REPO_READ body-project=p.k:PROJECT_ADMIN "
              "body-project-absent=mine\n",
              "body-project-absent= takes personal");
    bad_route("BBTokenRoute POST " P
              " REPO_READ body-project=p.k:PROJECT_ADMIN "
              "body-project-same=check\n",
              "body-project-same= takes skip");
    bad_route("BBTokenRoute POST " P
              " REPO_READ body-project=p.k:PROJECT_ADMIN "
              "body-project=q.k:PROJECT_ADMIN\n",
              "route option given twice");
    bad_route("BBTokenRoute POST " P " deny body-project=p.k:PROJECT_ADMIN\n",
              "body-project= cannot be on a deny route");
    bad_route("BBTokenRoute PUT " P
              " REPO_WRITE destination body-project=p.k:PROJECT_ADMIN\n",
              "body-project= cannot decide a destination route");
    bad_route("BBTokenRoute * " P " REPO_READ body-project=p.k:PROJECT_ADMIN\n",
              "body-project= needs its methods named");
    bad_route("BBTokenRoute POST,MOVE " P
              " REPO_READ body-project=p.k:PROJECT_ADMIN\n",
              "body-project= cannot be on a COPY or MOVE route");
    bad_route("BBTokenRoute COPY " P
              " REPO_READ body-project=p.k:PROJECT_ADMIN\n",
              "body-project= cannot be on a COPY or MOVE route");
}

static bbt_rules_t *load(const char *text, const char *prefix)
{
    char err[BBT_RULES_ERR_MAX];
    bbt_rules_t *rs = bbt_rules_new();

    if (!rs || bbt_rules_load(rs, text, prefix, "t", err, sizeof(err)) != 0) {
        diag("load failed: %s", err);
        bbt_rules_free(rs);
        return NULL;
    }
    return rs;
}

/* Match method path with the body s (NULL: none read) into *m; -1 when s
 * does not parse. */
static int match(const bbt_rules_t *rs, const char *method, const char *path,
                 const char *s, bbt_match_t *m)
{
    bbt_body_t *b = NULL;
    bbt_route_result_t rv;

    if (s && bbt_body_parse(s, strlen(s), &b, NULL, 0) != NULL)
        return -1;
    memset(m, 0x5a, sizeof(*m));
    rv = bbt_rules_match_body(rs, method, path, NULL, 0, b, m);
    bbt_body_free(b);
    return (int)rv;
}

/* A match whose second project is `into` (want_key for BBT_INTO_KEY). */
static void into_level(const bbt_rules_t *rs, const char *method,
                       const char *path, const char *s, bbt_into_t want,
                       const char *want_key, bbt_level_t level,
                       const char *what)
{
    bbt_match_t m;
    int rv = match(rs, method, path, s, &m);

    ok(rv == BBT_ROUTE_MATCH && m.into == want &&
           (want == BBT_INTO_NONE || (m.into_need.scope == BBT_SCOPE_PROJECT &&
                                      m.into_need.level == level)) &&
           (want != BBT_INTO_KEY || strcmp(m.into_key, want_key) == 0),
       "%s", what);
    if (rv != BBT_ROUTE_MATCH)
        diag("result %d: %s", rv, rv >= 0 && m.target.why ? m.target.why : "");
    else if (m.into != want)
        diag("into %d (%s)", (int)m.into, m.into_key);
}

/* The same, where the project named needs PROJECT_ADMIN. */
static void into(const bbt_rules_t *rs, const char *method, const char *path,
                 const char *s, bbt_into_t want, const char *want_key,
                 const char *what)
{
    into_level(rs, method, path, s, want, want_key, BBT_LEVEL_ADMIN, what);
}

/* A body refused as naming its project in a way it cannot be decided by. */
static void refused(const bbt_rules_t *rs, const char *method, const char *path,
                    const char *s, const char *what)
{
    bbt_match_t m;
    int rv = match(rs, method, path, s, &m);

    ok(rv == BBT_ROUTE_BAD_PROJECT && m.target.why && m.rule &&
           m.target.need.level == BBT_LEVEL_NONE,
       "refused: %s", what);
    if (rv != BBT_ROUTE_BAD_PROJECT)
        diag("result %d", rv);
}

static void test_match(void)
{
    bbt_rules_t *rs =
        load("BBTokenRoute POST " P " REPO_READ "
             "body-project=project.key:PROJECT_ADMIN "
             "body-project-absent=personal\n"
             "BBTokenRoute PUT " P " REPO_ADMIN "
             "body-project=project.key:PROJECT_ADMIN body-project-same=skip\n"
             "BBTokenRoute PATCH " P " REPO_ADMIN "
             "body-project=project.key:PROJECT_ADMIN\n"
             "BBTokenRoute DELETE " P " REPO_ADMIN\n"
             "BBTokenRoute POST " P "/x REPO_READ json=op:go "
             "body-project=to:PROJECT_ADMIN\n",
             NULL);
    bbt_match_t m;

    if (!ok(rs != NULL, "body-project= routes load"))
        return;
    ok(match(rs, "POST", "/proj/repo", NULL, &m) == BBT_ROUTE_NEED_BODY &&
           m.key_off == 1 && m.key_len == 4 && !m.key_exact &&
           strcmp(m.target.key, "PROJ") == 0,
       "no body yet: read it; the key's place is known");
    ok(match(rs, "DELETE", "/PROJ/repo", NULL, &m) == BBT_ROUTE_MATCH &&
           m.into == BBT_INTO_NONE,
       "a route without it reads no body");

    into(rs, "POST", "/PROJ/repo", "{\"project\":{\"key\":\"OTHER\"}}",
         BBT_INTO_KEY, "OTHER", "fork into OTHER");
    into(rs, "POST", "/PROJ/repo", "{\"project\":{\"key\":\"other\"}}",
         BBT_INTO_KEY, "OTHER", "  its key canonical");
    into(rs, "POST", "/PROJ/repo", "{\"project\":{\"key\":\"~Bob\"}}",
         BBT_INTO_KEY, "~bob", "  a personal project's too");
    into(rs, "POST", "/PROJ/repo", "{\"project\":{\"key\":\"PROJ\"}}",
         BBT_INTO_KEY, "PROJ",
         "a fork into its own project still creates a repository there");
    into(rs, "POST", "/PROJ/repo", "{\"name\":\"f\"}", BBT_INTO_PERSONAL, NULL,
         "a fork without project: the personal project");
    into(rs, "POST", "/PROJ/repo", "{}", BBT_INTO_PERSONAL, NULL,
         "  an empty body too");

    into(rs, "PUT", "/PROJ/repo", "{\"project\":{\"key\":\"OTHER\"}}",
         BBT_INTO_KEY, "OTHER", "a move into OTHER");
    into(rs, "PUT", "/PROJ/repo", "{\"name\":\"renamed\"}", BBT_INTO_NONE, NULL,
         "a rename: no second project");
    into(rs, "PUT", "/proj/repo", "{\"project\":{\"key\":\"Proj\"}}",
         BBT_INTO_NONE, NULL, "a move into its own project moves nothing");
    into(rs, "PUT", "/~alice/repo", "{\"project\":{\"key\":\"~ALICE\"}}",
         BBT_INTO_NONE, NULL, "  a personal project's own, in any case");
    /* Its own project is the whole key: one that starts like it (or that
     * it starts with) is another project, a move that needs the second
     * permission there. */
    into(rs, "PUT", "/PROJ/repo", "{\"project\":{\"key\":\"PROJX\"}}",
         BBT_INTO_KEY, "PROJX", "  a key the route's is a prefix of moves");
    into(rs, "PUT", "/PROJ/repo", "{\"project\":{\"key\":\"PROJ_1\"}}",
         BBT_INTO_KEY, "PROJ_1", "  PROJ_1 is not PROJ");
    into(rs, "PUT", "/PROJ/repo", "{\"project\":{\"key\":\"PR\"}}",
         BBT_INTO_KEY, "PR", "  a prefix of the route's key moves");
    into(rs, "PUT", "/~alice/repo", "{\"project\":{\"key\":\"~alicex\"}}",
         BBT_INTO_KEY, "~alicex", "  ~alicex is not ~alice");
    into(rs, "PATCH", "/PROJ/repo", "{\"project\":{\"key\":\"PROJ\"}}",
         BBT_INTO_KEY, "PROJ",
         "without body-project-same=skip its own project is checked");
    into(rs, "PATCH", "/PROJ/repo", "{}", BBT_INTO_NONE, NULL,
         "without body-project-absent=personal no member is no project");

    refused(rs, "PUT", "/PROJ/repo", "{\"project\":null}", "project null");
    refused(rs, "PUT", "/PROJ/repo", "{\"project\":\"OTHER\"}",
            "project a string");
    refused(rs, "POST", "/PROJ/repo", "{\"project\":{}}",
            "project without key (no personal default then)");
    refused(rs, "PUT", "/PROJ/repo", "{\"project\":{\"key\":1}}",
            "key a number");
    refused(rs, "PUT", "/PROJ/repo", "{\"project\":{\"key\":\"\"}}",
            "key empty");
    refused(rs, "PUT", "/PROJ/repo", "{\"project\":{\"key\":\"1ABC\"}}",
            "key not a key");
    refused(rs, "PUT", "/PROJ/repo", "{\"project\":{\"key\":\"A-B\"}}",
            "key with a dash");
    refused(rs, "PUT", "/PROJ/repo", "{\"project\":{\"key\":\"PROJ/x\"}}",
            "key with a slash");
    refused(rs, "PUT", "/PROJ/repo", "{\"project\":{\"key\":\"~\"}}",
            "a personal key without a name");
    refused(rs, "POST", "/PROJ/repo",
            "{\"project\":{\"key\":\"PROJ\"},\"Project\":{\"key\":\"X\"}}",
            "a twin of project");
    refused(rs, "POST", "/PROJ/repo", "{\"PROJECT\":{\"key\":\"X\"}}",
            "only a twin of project (not absent: no personal default)");
    refused(rs, "PUT", "/PROJ/repo",
            "{\"project\":{\"key\":\"PROJ\",\"Key\":\"X\"}}", "a twin of key");
    ok(match(rs, "PUT", "/PROJ/repo",
             "{\"project\":{\"key\":\"A\"},\"project\":{\"key\":\"B\"}}",
             &m) == -1,
       "a duplicate project is no JSON at all (bbt_body_parse)");

    into(rs, "POST", "/PROJ/repo/x", "{\"op\":\"go\",\"to\":\"Q\"}",
         BBT_INTO_KEY, "Q", "json= and body-project= on one route");
    ok(match(rs, "POST", "/PROJ/repo/x", "{\"op\":\"stop\",\"to\":\"Q\"}",
             &m) == BBT_ROUTE_NONE,
       "  json= still selects");
    ok(match(rs, "POST", "/PROJ/repo/x", "{\"op\":\"go\",\"to\":\"1\"}", &m) ==
           BBT_ROUTE_BAD_PROJECT,
       "  and body-project= still refuses");
    bbt_rules_free(rs);
}

/* The shipped REST set: a fork and a move need PROJECT_ADMIN in the
 * project the body names; a rename and a delete do not read it so. */
static void test_rest_set(void)
{
    const char *repo = "/rest/api/latest/projects/PROJ/repos/repo";
    bbt_rules_t *rs = load(bbt_rules_builtin("bitbucket-rest", NULL), "");
    bbt_match_t m;

    if (!ok(rs != NULL, "the bitbucket-rest set loads"))
        return;
    ok(match(rs, "POST", repo, NULL, &m) == BBT_ROUTE_NEED_BODY,
       "a fork reads its body");
    ok(match(rs, "PUT", repo, NULL, &m) == BBT_ROUTE_NEED_BODY,
       "an update reads its body");
    ok(match(rs, "DELETE", repo, NULL, &m) == BBT_ROUTE_MATCH &&
           m.target.need.level == BBT_LEVEL_ADMIN,
       "a delete does not");
    into_level(rs, "POST", repo,
               "{\"name\":\"f\",\"project\":{\"key\":\"OTHER\"}}", BBT_INTO_KEY,
               "OTHER", BBT_LEVEL_CREATE, "fork into OTHER: REPO_CREATE there");
    into_level(rs, "POST", repo, "{\"name\":\"f\"}", BBT_INTO_PERSONAL, NULL,
               BBT_LEVEL_CREATE, "fork without project: the personal project");
    /* No token holds REPO_CREATE: a token reaches it with PROJECT_ADMIN,
     * which the route asks of the token itself, and a refusal names. */
    ok(match(rs, "POST", repo, "{\"project\":{\"key\":\"OTHER\"}}", &m) ==
               BBT_ROUTE_MATCH &&
           m.token_need.scope == BBT_SCOPE_PROJECT &&
           m.token_need.level == BBT_LEVEL_ADMIN,
       "a fork asks the token itself for PROJECT_ADMIN");
    into(rs, "PUT", repo, "{\"project\":{\"key\":\"OTHER\"}}", BBT_INTO_KEY,
         "OTHER", "move into OTHER: PROJECT_ADMIN there");
    into(rs, "PUT", repo, "{\"name\":\"renamed\"}", BBT_INTO_NONE, NULL,
         "rename: REPO_ADMIN alone");
    into(rs, "PUT", repo, "{\"project\":{\"key\":\"proj\"}}", BBT_INTO_NONE,
         NULL, "an update naming its own project: REPO_ADMIN alone");
    into(rs, "PUT", repo, "{\"project\":{\"key\":\"PROJX\"}}", BBT_INTO_KEY,
         "PROJX", "  one naming PROJX moves it: PROJECT_ADMIN there");
    refused(rs, "POST", repo, "{\"project\":{\"key\":[\"OTHER\"]}}",
            "REST fork, key an array");
    refused(rs, "PUT", repo, "{\"project\":\"OTHER\"}",
            "REST move, project a string");
    bbt_rules_free(rs);
}

int main(void)
{
    test_errors();
    test_match();
    test_rest_set();
    return done_testing();
}
