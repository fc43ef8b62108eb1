/* The route options query-repo= and body-repo= (bbt_namedrepo): what a
 * route file may say, and whether the repository a request names outside
 * its path (compare's fromRepo=, a pull request's fromRef and toRef) lies
 * inside a token's scope, on the shipped bitbucket-rest set's routes. */
#include "bbt_body.h"
#include "bbt_namedrepo.h"
#include "bbt_rules.h"
#include "tap.h"
#include "rules_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define P "/(?<project>[A-Za-z~]+)/(?<repo>[a-z]+)"
#define A "/rest/api/latest/projects/PROJ/repos/repo"

static bbt_rules_t *rest;
static bbt_tokscope_t personal, project, repo;

static void test_errors(void)
{
    bad_route("BBTokenRoute GET " P " REPO_READ query-repo=\n",
              "query-repo= needs NAMEs");
    bad_route("BBTokenRoute GET " P " REPO_READ query-repo=from/Repo\n",
              "query-repo= needs NAMEs");
    bad_route("BBTokenRoute GET " P " REPO_READ query-repo=a,\n",
              "query-repo= needs NAMEs");
    bad_route("BBTokenRoute GET " P " REPO_READ query-repo=,a\n",
              "query-repo= needs NAMEs");
    bad_route("BBTokenRoute GET " P " REPO_READ query-repo=a,,b\n",
              "query-repo= needs NAMEs");
    bad_route("BBTokenRoute GET " P " REPO_READ query-repo=a,b,c,d,e\n",
              "query-repo= takes at most 4 NAMEs");
    bad_route("BBTokenRoute GET " P " REPO_READ query-repo=a query-repo=b\n",
              "route option given twice");
    /* A NAME twice, in any case (they match so), most likely meant to be
     * another: refused, not held as one. */
    bad_route("BBTokenRoute GET " P " REPO_READ query-repo=a,a\n",
              "query-repo= names a NAME twice");
    bad_route("BBTokenRoute GET " P
              " REPO_READ query-repo=sourceRepoId,SourceRepoID\n",
              "query-repo= names a NAME twice");
    bad_route("BBTokenRoute GET " P " REPO_READ query-repo=a,b,c,B\n",
              "query-repo= names a NAME twice");
    bad_route("BBTokenRoute POST " P " REPO_WRITE body-repo=\n",
              "body-repo= PATHs are 1 to 6 names");
    bad_route("BBTokenRoute POST " P " REPO_WRITE body-repo=a..b\n",
              "body-repo= PATHs are 1 to 6 names");
    bad_route("BBTokenRoute POST " P " REPO_WRITE body-repo=a.\n",
              "body-repo= PATHs are 1 to 6 names");
    bad_route("BBTokenRoute POST " P " REPO_WRITE body-repo=a,\n",
              "body-repo= PATHs are 1 to 6 names");
    bad_route("BBTokenRoute POST " P " REPO_WRITE body-repo=a.b.c.d.e.f.g\n",
              "body-repo= PATHs are 1 to 6 names");
    bad_route("BBTokenRoute POST " P " REPO_WRITE body-repo=a/b\n",
              "body-repo= PATHs are 1 to 6 names");
    bad_route("BBTokenRoute POST " P " REPO_WRITE body-repo=a,b,c,d,e\n",
              "body-repo= takes at most 4 PATHs");
    bad_route("BBTokenRoute GET " P " deny query-repo=fromRepo\n",
              "cannot be on a deny route");
    bad_route("BBTokenRoute PUT " P " REPO_WRITE destination body-repo=a\n",
              "cannot decide a destination route");
}

static const bbt_namedrepo_t *named_of(const char *method, const char *path,
                                       const char *args)
{
    bbt_match_t m;

    if (bbt_rules_match(rest, method, path, args, 0, &m) != BBT_ROUTE_MATCH)
        return NULL;
    return bbt_rule_named(m.rule);
}

/* The most parameters a case below has. */
#define NPARAMS 3

/* The compare route's fromRepo=, for scope s, the query's parameters
 * given as the glue decodes them (name NULL ends the list; a name or
 * value BROKEN did not decode): 1 inside, 0 with *n. */
static const char BROKEN[] = "broken";

static int cmp_inside(const bbt_tokscope_t *s, const bbt_qparam_t *in,
                      bbt_named_t *n)
{
    const bbt_namedrepo_t *nr = named_of("GET", A "/compare/diff/a.txt", NULL);
    bbt_qparam_t params[NPARAMS];
    bbt_named_req_t q;
    size_t i;

    memset(n, 0, sizeof(*n));
    memset(&q, 0, sizeof(q));
    if (!nr || !bbt_namedrepo_wants_query(nr)) {
        diag("no query-repo= on the compare route");
        return -1;
    }
    for (i = 0; i < NPARAMS && in[i].name; i++) {
        params[i].name = in[i].name == BROKEN ? NULL : in[i].name;
        params[i].value = in[i].value == BROKEN ? NULL : in[i].value;
    }
    q.params = params;
    q.nparams = i;
    return bbt_namedrepo_inside(nr, s, &q, n);
}

/* A query for a scope: inside (key NULL), or refused naming key/slug
 * ("" when it names none that could be decided). */
static const struct {
    const bbt_tokscope_t *s;
    bbt_qparam_t params[NPARAMS];
    const char *key, *slug, *name;
} queries[] = {
    {&repo,
     {{"from", "a"}, {"to", "b"}, {"fromRepo", "OTHER/secret"}},
     "OTHER",
     "secret",
     "another project's repository"},
    {&project,
     {{"from", "a"}, {"fromRepo", "OTHER/secret"}},
     "OTHER",
     "secret",
     "a project token: another project"},
    {&repo,
     {{"fromRepo", "PROJ/other"}},
     "PROJ",
     "other",
     "a repository token: another repository of its project"},
    {&project,
     {{"fromRepo", "PROJ/other"}},
     NULL,
     NULL,
     "a project token: a repository of its project"},
    {&repo,
     {{"from", "a"}, {"fromRepo", "PROJ/repo"}},
     NULL,
     NULL,
     "its own repository"},
    {&repo,
     {{"fromRepo", "proj/repo"}},
     NULL,
     NULL,
     "its own, the key in lower case"},
    {&repo, {{"from", "a"}, {"to", "b"}}, NULL, NULL, "no fromRepo"},
    {&repo, {{NULL, NULL}}, NULL, NULL, "no parameters"},
    {&repo, {{"", ""}, {"", ""}}, NULL, NULL, "empty parameters"},
    {&repo,
     {{"FROMREPO", "OTHER/secret"}},
     "OTHER",
     "secret",
     "the name in another case"},
    {&repo,
     {{"fromrepo", "OTHER/secret"}},
     "OTHER",
     "secret",
     "the name in lower case"},
    {&repo,
     {{"fromRepo", "PROJ/repo"}, {"fromRepo", "OTHER/secret"}},
     "OTHER",
     "secret",
     "repeated, the second outside"},
    {&repo,
     {{"fromRepo", "OTHER/secret"}, {"fromRepo", "PROJ/repo"}},
     "OTHER",
     "secret",
     "repeated, the first outside"},
    {&repo,
     {{"fromRepo", "PROJ/REPO"}},
     "PROJ",
     "REPO",
     "the slug in another case"},
    {&repo, {{"fromRepo", "12"}}, "", "", "a numeric id"},
    {&project, {{"fromRepo", "12"}}, "", "", "a numeric id, project token"},
    {&repo, {{"fromRepo", ""}}, "", "", "empty, or without a value"},
    {&repo, {{"fromRepo", "PROJ"}}, "", "", "a key alone"},
    {&repo, {{"fromRepo", "PROJ/repo.git"}}, "", "", "a slug with .git"},
    {&repo, {{"fromRepo", " PROJ/repo"}}, "", "", "a space (a '+') before"},
    {&repo, {{"fromRepo", "PROJ/repo/x"}}, "", "", "a path after the slug"},
    {&repo, {{"fromRepo", "PROJ/re po"}}, "", "", "not a slug"},
    {&repo, {{"fromRepo", BROKEN}}, "", "", "a value that did not decode"},
    {&repo,
     {{BROKEN, "PROJ/repo"}, {"fromRepo", "PROJ/repo"}},
     "",
     "",
     "a name that did not decode: perhaps fromRepo"},
    {&repo,
     {{"from", BROKEN}, {"fromRepo", "PROJ/repo"}},
     NULL,
     NULL,
     "another parameter's value that did not decode"},
    {&personal,
     {{"fromRepo", "OTHER/secret"}},
     NULL,
     NULL,
     "a personal token: the backend's"},
    {&personal,
     {{"fromRepo", "12"}, {BROKEN, BROKEN}},
     NULL,
     NULL,
     "a personal token: an id and a broken parameter too"},
};

static void test_query(void)
{
    static const bbt_qparam_t id[] = {{"fromRepo", "12"}, {NULL, NULL}};
    bbt_named_t n;
    size_t i;

    ok(named_of("GET", A "/compare/changes", "fromRepo=OTHER/x") != NULL,
       "compare/changes reads fromRepo");
    ok(named_of("GET", A "/compare/commits", NULL) != NULL,
       "compare/commits reads fromRepo");
    ok(named_of("GET", A "/browse", "fromRepo=OTHER/x") == NULL,
       "another read does not");
    ok(!bbt_namedrepo_wants_query(named_of("POST", A "/pull-requests", NULL)),
       "a pull request's route reads no query");
    for (i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
        int rc = cmp_inside(queries[i].s, queries[i].params, &n);

        if (!queries[i].key) {
            ok(rc == 1, "inside: %s", queries[i].name);
            continue;
        }
        if (!ok(rc == 0 && strcmp(n.repo.key, queries[i].key) == 0 &&
                    strcmp(n.repo.slug, queries[i].slug) == 0 && n.why &&
                    n.where && strcmp(n.where, "fromRepo") == 0,
                "refused: %s", queries[i].name))
            diag("  why: %s; named %s/%s", n.why ? n.why : "-", n.repo.key,
                 n.repo.slug);
    }
    ok(cmp_inside(&repo, id, &n) == 0 && strstr(n.why, "id"),
       "an id is refused as one: %s", n.why ? n.why : "");
}

/* query-repo= with two NAMEs, each held to the scope: default-reviewers'
 * reviewers name a source and a target repository. */
static int two_inside(const bbt_namedrepo_t *nr, const bbt_tokscope_t *s,
                      const char *a, const char *b, bbt_named_t *n)
{
    bbt_qparam_t params[2] = {{"sourceRepoId", a}, {"targetRepoId", b}};
    bbt_named_req_t q;

    memset(n, 0, sizeof(*n));
    memset(&q, 0, sizeof(q));
    q.params = params;
    q.nparams = 2;
    return bbt_namedrepo_inside(nr, s, &q, n);
}

static void test_query_list(void)
{
    const bbt_namedrepo_t *nr = named_of(
        "GET", "/rest/default-reviewers/1.0/projects/PROJ/repos/repo/reviewers",
        "sourceRepoId=1&targetRepoId=2");
    bbt_named_t n;

    if (!ok(bbt_namedrepo_wants_query(nr), "the reviewers route reads its "
                                           "query"))
        return;
    ok(two_inside(nr, &repo, "PROJ/repo", "proj/repo", &n) == 1,
       "both its own repository: inside");
    ok(two_inside(nr, &repo, "PROJ/repo", "OTHER/x", &n) == 0 &&
           strcmp(n.where, "targetRepoId") == 0 &&
           strcmp(n.repo.key, "OTHER") == 0,
       "the second NAME outside: refused, naming it");
    ok(two_inside(nr, &repo, "OTHER/x", "PROJ/repo", &n) == 0 &&
           strcmp(n.where, "sourceRepoId") == 0,
       "the first NAME outside: refused, naming it");
    ok(two_inside(nr, &project, "PROJ/other", "PROJ/repo", &n) == 1,
       "a project token: two repositories of its project");
    ok(two_inside(nr, &project, "1", "PROJ/repo", &n) == 0 &&
           strstr(n.why, "id"),
       "a project token: a repository id, refused");
    ok(two_inside(nr, &repo, "PROJ/repo", "2", &n) == 0 && strstr(n.why, "id"),
       "a repository token: the target by id, refused");
    ok(two_inside(nr, &personal, "1", "2", &n) == 1,
       "a personal token: ids are the backend's");
}

/* The pull request routes' body, for scope s. */
static int pr_inside(const bbt_tokscope_t *s, const char *method,
                     const char *path, const char *json, bbt_named_t *n)
{
    const bbt_namedrepo_t *nr = named_of(method, path, NULL);
    bbt_body_t *b = NULL;
    bbt_named_req_t q;
    const char *why;
    int rc;

    memset(n, 0, sizeof(*n));
    if (!nr || !bbt_namedrepo_wants_body(nr)) {
        diag("no body-repo= on %s %s", method, path);
        return -1;
    }
    if (json && (why = bbt_body_parse(json, strlen(json), &b, NULL, 0))) {
        diag("body refused: %s", why);
        return -1;
    }
    memset(&q, 0, sizeof(q));
    q.body = b;
    rc = bbt_namedrepo_inside(nr, s, &q, n);
    bbt_body_free(b);
    return rc;
}

#define REF(k, s)                                                              \
    "{\"id\":\"refs/heads/x\",\"repository\":{\"slug\":\"" s                   \
    "\",\"project\":{\"key\":\"" k "\"}}}"

static void b_out(const bbt_tokscope_t *s, const char *json, const char *key,
                  const char *where, const char *name)
{
    bbt_named_t n;

    if (!ok(pr_inside(s, "POST", A "/pull-requests", json, &n) == 0 &&
                strcmp(n.repo.key, key) == 0 && n.where &&
                strcmp(n.where, where) == 0,
            "refused: %s", name))
        diag("  why: %s; named %s/%s in %s", n.why ? n.why : "-", n.repo.key,
             n.repo.slug, n.where);
}

static void b_in(const bbt_tokscope_t *s, const char *method, const char *path,
                 const char *json, const char *name)
{
    bbt_named_t n;

    ok(pr_inside(s, method, path, json, &n) == 1, "inside: %s", name);
}

static void test_body(void)
{
    bbt_named_t n;

    ok(named_of("POST", A "/pull-requests/12/comments", NULL) == NULL,
       "a comment names no repository");
    b_in(&repo, "POST", A "/pull-requests",
         "{\"title\":\"t\",\"fromRef\":" REF("PROJ", "repo") ",\"toRef\":" REF(
             "PROJ", "repo") "}",
         "a pull request within its repository");
    b_in(&repo, "POST", A "/pull-requests/",
         "{\"fromRef\":" REF("proj", "repo") "}", "the key in lower case");
    b_in(&repo, "PUT", A "/pull-requests/12", "{\"version\":1,\"title\":\"t\"}",
         "an update naming no ref");
    b_in(&repo, "PUT", A "/pull-requests/12",
         "{\"toRef\":" REF("PROJ", "repo") "}", "an update of its toRef");
    b_in(&project, "POST", A "/pull-requests",
         "{\"fromRef\":" REF("PROJ", "fork") ",\"toRef\":" REF("PROJ",
                                                               "repo") "}",
         "a project token: a fork in its project");
    b_in(&personal, "POST", A "/pull-requests",
         "{\"fromRef\":" REF("OTHER", "fork") "}",
         "a personal token: the backend's");
    b_out(&repo,
          "{\"fromRef\":" REF("OTHER", "fork") ",\"toRef\":" REF("PROJ",
                                                                 "repo") "}",
          "OTHER", "fromRef.repository", "fromRef in another project");
    b_out(&project, "{\"fromRef\":" REF("OTHER", "fork") "}", "OTHER",
          "fromRef.repository", "a project token: fromRef in another project");
    b_out(&repo, "{\"fromRef\":" REF("PROJ", "fork") "}", "PROJ",
          "fromRef.repository", "a repository token: a fork in its project");
    b_out(
        &repo,
        "{\"fromRef\":" REF("PROJ", "repo") ",\"toRef\":" REF("OTHER", "x") "}",
        "OTHER", "toRef.repository", "toRef in another project");
    b_out(&repo, "{\"fromRef\":{\"id\":\"refs/heads/x\"}}", "",
          "fromRef.repository", "a ref without its repository");
    b_out(&repo, "{\"fromRef\":null}", "", "fromRef.repository", "a null ref");
    b_out(&repo,
          "{\"fromRef\":{\"repository\":{\"slug\":\"repo\","
          "\"project\":{\"id\":7}}}}",
          "", "fromRef.repository", "a project by its id alone");
    b_out(&repo, "{\"fromRef\":{\"repository\":{\"id\":7}}}", "",
          "fromRef.repository", "a repository by its id alone");
    b_out(&repo,
          "{\"fromRef\":{\"repository\":{\"slug\":\"repo\","
          "\"project\":{\"key\":7}}}}",
          "", "fromRef.repository", "a key that is a number");
    b_out(&repo,
          "{\"fromRef\":" REF("PROJ", "repo") ",\"FromRef\":" REF("OTHER",
                                                                  "x") "}",
          "", "fromRef.repository", "a twin in another case");
    b_out(&repo,
          "{\"fromRef\":{\"repository\":{\"slug\":\"repo\",\"Slug\":\"x\","
          "\"project\":{\"key\":\"PROJ\"}}}}",
          "", "fromRef.repository", "a slug's twin");
    b_out(&repo, "{\"fromRef\":" REF("PROJ", "re po") "}", "",
          "fromRef.repository", "not a slug");
    /* A client sending back a whole repository object, as a GET gave it. */
    b_out(&repo,
          "{\"fromRef\":{\"repository\":{\"id\":7,\"slug\":\"repo\","
          "\"project\":{\"key\":\"PROJ\"}}}}",
          "", "fromRef.repository", "its own slug and key beside an id");
    b_out(&repo,
          "{\"toRef\":{\"repository\":{\"slug\":\"repo\","
          "\"project\":{\"key\":\"PROJ\",\"id\":3}}}}",
          "", "toRef.repository", "its own key beside a project id");
    b_out(&project,
          "{\"fromRef\":{\"repository\":{\"slug\":\"repo\",\"ID\":null,"
          "\"project\":{\"key\":\"PROJ\"}}}}",
          "", "fromRef.repository", "a project token: an id's twin, null");
    b_in(&personal, "POST", A "/pull-requests",
         "{\"fromRef\":{\"repository\":{\"id\":7,\"slug\":\"x\","
         "\"project\":{\"key\":\"OTHER\",\"id\":3}}}}",
         "a personal token: ids are the backend's");
    ok(pr_inside(&repo, "POST", A "/pull-requests",
                 "{\"fromRef\":{\"repository\":{\"id\":7,\"slug\":"
                 "\"repo\",\"project\":{\"key\":\"PROJ\"}}}}",
                 &n) == 0 &&
           strstr(n.why, "repository's id, which the module cannot resolve"),
       "an id is refused as one: %s", n.why ? n.why : "");
    ok(pr_inside(&repo, "POST", A "/pull-requests", NULL, &n) == 0 &&
           n.repo.key[0] == '\0',
       "no body read: refused");
}

/* body-project=: the object holding the key a fork or a move names, when
 * it holds an id too, for scope s (1 inside, 0 with *n). */
static int proj_inside(const bbt_tokscope_t *s, const char *method,
                       const char *json, bbt_named_t *n)
{
    bbt_match_t m;
    bbt_body_t *b = NULL;
    bbt_named_req_t q;

    memset(n, 0, sizeof(*n));
    memset(&q, 0, sizeof(q));
    if (bbt_body_parse(json, strlen(json), &b, NULL, 0) ||
        bbt_rules_match_body(rest, method, A, NULL, 0, b, &m) !=
            BBT_ROUTE_MATCH) {
        bbt_body_free(b);
        diag("%s %s: no match", method, json);
        return -1;
    }
    bbt_body_free(b);
    q.project_id = m.into_id;
    return bbt_namedrepo_inside(bbt_rule_named(m.rule), s, &q, n);
}

static void test_project_id(void)
{
    static const char *const ids[] = {
        "{\"project\":{\"key\":\"PROJ\",\"id\":9}}",
        "{\"project\":{\"id\":\"9\",\"key\":\"PROJ\"}}",
        "{\"project\":{\"key\":\"PROJ\",\"Id\":null}}",
    };
    bbt_named_t n;
    size_t i;

    for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        ok(proj_inside(&project, "POST", ids[i], &n) == 0 && n.where &&
               strcmp(n.where, "project") == 0 && n.repo.key[0] == '\0' &&
               strstr(n.why, "project's id"),
           "a fork, project token: refused %s", ids[i]);
        ok(proj_inside(&repo, "PUT", ids[i], &n) == 0,
           "a move, repository token: refused %s", ids[i]);
        ok(proj_inside(&personal, "POST", ids[i], &n) == 1,
           "a fork, personal token: the backend's %s", ids[i]);
    }
    ok(proj_inside(&project, "POST", "{\"project\":{\"key\":\"PROJ\"}}", &n) ==
           1,
       "a fork, project token: its key alone");
    ok(proj_inside(&project, "PUT",
                   "{\"name\":\"r\",\"id\":4,\"project\":{\"key\":"
                   "\"PROJ\"}}",
                   &n) == 1,
       "a move: the repository's own id is not the project's");
    ok(proj_inside(&project, "POST", "{\"name\":\"r\",\"id\":4}", &n) == 1,
       "a fork without a project names no project object");
}

int main(void)
{
    char err[BBT_RULES_ERR_MAX];
    const char *prefix = NULL,
               *text = bbt_rules_builtin("bitbucket-rest", &prefix);

    personal.kind = BBT_KIND_PERSONAL;
    project.kind = BBT_KIND_PROJECT;
    strcpy(project.key, "PROJ");
    repo.kind = BBT_KIND_REPO;
    strcpy(repo.key, "PROJ");
    strcpy(repo.slug, "repo");
    rest = bbt_rules_new();
    if (!text || bbt_rules_load(rest, text, prefix, "bitbucket-rest", err,
                                sizeof(err)) != 0) {
        diag("bitbucket-rest: %s", err);
        return 1;
    }
    test_errors();
    test_query();
    test_query_list();
    test_body();
    test_project_id();
    bbt_rules_free(rest);
    return done_testing();
}
