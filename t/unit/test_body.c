/* A request body as the route language reads it (bbt_body), and the
 * json= option deciding routes by it (bbt_rules_match_body): what is
 * refused, what is ambiguous, what matches. */
#include "bbt_body.h"
#include "bbt_rules.h"
#include "tap.h"
#include "rules_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parse s: the reason it is refused, or NULL (and *b set). */
static const char *parse(const char *s, size_t len, bbt_body_t **b)
{
    char err[160];

    return bbt_body_parse(s, len, b, err, sizeof(err));
}

static void refused(const char *s, size_t len, const char *want,
                    const char *name)
{
    bbt_body_t *b = (bbt_body_t *)1;
    const char *why = parse(s, len, &b);

    ok(why && strcmp(why, want) == 0 && b == NULL, "refused: %s", name);
    if (!why || strcmp(why, want) != 0)
        diag("got %s", why ? why : "(accepted)");
    bbt_body_free(b);
}

static void refused_s(const char *s, const char *want, const char *name)
{
    refused(s, strlen(s), want, name);
}

static void test_parse(void)
{
    static const char nul[] = "{\"operation\":\"download\"}\0";
    const char *not_json = "the request body is not JSON";
    const char *not_object = "the request body is not a JSON object";
    char err[160];
    bbt_body_t *b = NULL;
    char *big;

    ok(parse("{\"operation\":\"download\"}", 24, &b) == NULL && b,
       "an object is accepted");
    bbt_body_free(b);
    ok(parse(" {\"a\": [1, {\"b\": null}]} \n", 26, &b) == NULL && b,
       "nesting and white space");
    bbt_body_free(b);

    refused_s("", not_json, "empty");
    refused_s("operation=download", not_json, "a form");
    refused_s("{\"operation\":\"download\"", not_json, "cut short");
    refused_s("{\"operation\":\"download\"} x", not_json, "bytes after it");
    refused_s("{\"operation\":\"download\"}{}", not_json, "two values");
    refused_s("{\"a\":1,\"a\":2}", not_json, "a duplicate member");
    refused_s("{\"x\":{\"a\":1,\"a\":2}}", not_json, "a duplicate, deeper");
    refused_s("{\"a\":\"\\u0000\"}", not_json, "\\u0000 in a string");
    refused_s("{\"a\\u0000b\":1}", not_json, "\\u0000 in a name");
    refused_s("{\"a\":\"\xff\"}", not_json, "invalid UTF-8");
    refused_s("{\"a\":1,}", not_json, "a trailing comma");
    refused_s("{'a':1}", not_json, "single quotes");
    ok(parse("\xef\xbb\xbf{\"operation\":\"upload\"}", 25, &b) == NULL && b,
       "one byte order mark before the object: skipped, as the API's "
       "bodies");
    bbt_body_free(b);
    refused_s("\xef\xbb\xbf\xef\xbb\xbf{}", not_json, "two byte order marks");
    refused_s("{}\xef\xbb\xbf", not_json, "a byte order mark after the object");
    refused(nul, sizeof(nul) - 1, not_json, "a NUL after the object");
    refused_s("[{\"operation\":\"download\"}]", not_object, "an array");
    refused_s("\"download\"", not_object, "a string");
    refused_s("null", not_object, "null");

    big = malloc(BBT_BODY_MAX + 2);
    memset(big, ' ', BBT_BODY_MAX + 1);
    big[0] = '{';
    big[BBT_BODY_MAX - 1] = '}';
    ok(parse(big, BBT_BODY_MAX, &b) == NULL, "%d bytes accepted", BBT_BODY_MAX);
    bbt_body_free(b);
    refused(big, BBT_BODY_MAX + 1, "the request body is too large",
            "one byte more");
    free(big);

    ok(bbt_body_parse("{x", 2, &b, err, sizeof(err)) && strstr(err, "byte"),
       "jansson says where: %s", err);
    /* The reason goes to the error log (BBT452): not the body's bytes
     * jansson quotes where it stopped, which may be a secret's. */
    {
        const char *s = "{\"secret\":\"s3cr3t-Hunter2\\q\"}";

        ok(bbt_body_parse(s, strlen(s), &b, err, sizeof(err)) &&
               strstr(err, "invalid escape") && strstr(err, "at byte") &&
               !strstr(err, "s3cr3t"),
           "jansson's reason without its quote of the body: %s", err);
    }
}

/* n objects of an oid and a size in a git LFS batch (free it). */
static char *lfs_batch(unsigned n)
{
    char *s = malloc(64 + (size_t)n * 96), *at = s;
    unsigned i;

    at += sprintf(at, "{\"operation\":\"upload\",\"objects\":[");
    for (i = 0; i < n; i++)
        at += sprintf(at, "%s{\"oid\":\"%064x\",\"size\":%u}", i ? "," : "", i,
                      i);
    strcpy(at, "]}");
    return s;
}

/* The shape a route reads at most: 16 deep, 1,024 items in one array or
 * object, 4,096 values. */
static void test_shape(void)
{
    const char *over = "the request body holds more than any route reads";
    char err[160], deep[64];
    bbt_body_t *b = NULL;
    const char *v;
    size_t len;
    char *s;

    s = lfs_batch(700);
    ok(strlen(s) <= BBT_BODY_MAX && parse(s, strlen(s), &b) == NULL &&
           bbt_body_member(b, "operation", &v, &len) == BBT_MEMBER_STRING,
       "a git LFS batch of 700 objects (%zu bytes) is read", strlen(s));
    bbt_body_free(b);
    free(s);
    s = malloc(64 + 1025 * 2);
    strcpy(s, "{\"operation\":\"upload\",\"objects\":[0");
    for (len = 1; len < 1025; len++)
        strcat(s, ",0");
    strcat(s, "]}");
    ok(bbt_body_parse(s, strlen(s), &b, err, sizeof(err)) &&
           strstr(err, "an array or object holds more than 1024 items") && !b,
       "1,025 items in a list: refused (%s)", err);
    free(s);
    /* {"x":[[...]]}: the object and n - 1 arrays, n deep. */
    memset(deep, 0, sizeof(deep));
    strcpy(deep, "{\"x\":");
    memset(deep + 5, '[', 15);
    memset(deep + 20, ']', 15);
    strcat(deep, "}");
    ok(parse(deep, strlen(deep), &b) == NULL, "16 deep: read");
    bbt_body_free(b);
    memset(deep, 0, sizeof(deep));
    strcpy(deep, "{\"x\":");
    memset(deep + 5, '[', 16);
    memset(deep + 21, ']', 16);
    strcat(deep, "}");
    refused_s(deep, over, "17 deep");
    s = malloc(16 * 1024);
    strcpy(s, "{\"x\":[");
    for (len = 0; len < 820; len++)
        strcat(s, len ? ",[0,0,0,0]" : "[0,0,0,0]");
    strcat(s, "]}");
    ok(bbt_body_parse(s, strlen(s), &b, err, sizeof(err)) &&
           strstr(err, "more than 4096 values") && !b,
       "820 lists of 4: refused (%s)", err);
    free(s);
}

/* The member name of the body s: want 1 (and the value), 0 or -1. */
static void member(const char *s, const char *name, int want, const char *value,
                   const char *what)
{
    bbt_body_t *b = NULL;
    const char *v = NULL;
    size_t len = 0;
    int got = -9;

    if (parse(s, strlen(s), &b) == NULL)
        got = bbt_body_member(b, name, &v, &len);
    ok(got == want &&
           (want != 1 || (len == strlen(value) && memcmp(v, value, len) == 0)),
       "%s", what);
    if (got != want)
        diag("got %d", got);
    bbt_body_free(b);
}

static void test_member(void)
{
    member("{\"operation\":\"upload\",\"objects\":[]}", "operation", 1,
           "upload", "the member");
    member("{\"\\u006fperation\":\"upload\"}", "operation", 1, "upload",
           "an escaped name is the name");
    member("{\"operation\":\"up\\u006coad\"}", "operation", 1, "upload",
           "an escaped value is the value");
    member("{\"objects\":[]}", "operation", 0, NULL, "absent");
    member("{\"operation\":[\"upload\"]}", "operation", 0, NULL,
           "not a string");
    member("{\"operation\":null}", "operation", 0, NULL, "null");
    member("{\"x\":{\"operation\":\"upload\"}}", "operation", 0, NULL,
           "only at the top");
    member("{\"operation\":\"download\",\"Operation\":\"upload\"}", "operation",
           -1, NULL, "a twin in another case: ambiguous");
    member("{\"OPERATION\":\"upload\"}", "operation", -1, NULL,
           "only a twin: ambiguous, not absent");
    member("{\"operation\":\"download\",\"operation\\u212a\":\"x\"}",
           "operation", 1, "download", "a longer name is another name");
    member("{\"operati\\u00f6n\":\"upload\",\"operation\":\"download\"}",
           "operation", -1, NULL,
           "a non-ASCII letter in place of one: ambiguous");
    member("{\"\\u017foperation\":\"x\"}", "soperation", -1, NULL,
           "the long s, which folds to s: ambiguous");
    member("{\"operation\":\"download\",\"operatio\":\"x\",\"operations\":1}",
           "operation", 1, "download", "shorter and longer names are others");
    member("{\"a\":\"\"}", "a", 1, "", "an empty string");
}

/* The string at names (n of them) in the body s: want 1 (and the value),
 * 0, -1 or -2. */
static void path(const char *s, const char *const *names, size_t n, int want,
                 const char *value, const char *what)
{
    bbt_body_t *b = NULL;
    const char *v = NULL;
    size_t len = 0;
    int got = -9;

    if (parse(s, strlen(s), &b) == NULL)
        got = bbt_body_path(b, names, n, &v, &len);
    ok(got == want &&
           (want != 1 || (len == strlen(value) && memcmp(v, value, len) == 0)),
       "path: %s", what);
    if (got != want)
        diag("got %d", got);
    bbt_body_free(b);
}

static void test_path(void)
{
    static const char *const pk[] = {"project", "key"};
    static const char *const deep[] = {"a", "b", "c"};

    path("{\"project\":{\"key\":\"OTHER\"}}", pk, 2, 1, "OTHER", "project.key");
    path("{\"name\":\"x\",\"project\":{\"id\":1,\"key\":\"K\"}}", pk, 2, 1, "K",
         "among other members");
    path("{\"name\":\"x\"}", pk, 2, 0, NULL, "no project: absent");
    path("{}", pk, 2, 0, NULL, "an empty object: absent");
    path("{\"project\":null}", pk, 2, -2, NULL, "project null: misshapen");
    path("{\"project\":\"OTHER\"}", pk, 2, -2, NULL,
         "project a string: misshapen");
    path("{\"project\":[{\"key\":\"OTHER\"}]}", pk, 2, -2, NULL,
         "project an array: misshapen");
    path("{\"project\":{}}", pk, 2, -2, NULL, "project without key: misshapen");
    path("{\"project\":{\"key\":7}}", pk, 2, -2, NULL,
         "key a number: misshapen");
    path("{\"project\":{\"key\":null}}", pk, 2, -2, NULL,
         "key null: misshapen");
    path("{\"project\":{\"key\":{\"key\":\"X\"}}}", pk, 2, -2, NULL,
         "key an object: misshapen");
    path("{\"project\":{\"key\":\"A\"},\"Project\":{\"key\":\"B\"}}", pk, 2, -1,
         NULL, "a twin of project: ambiguous");
    path("{\"PROJECT\":{\"key\":\"B\"}}", pk, 2, -1, NULL,
         "only a twin of project: ambiguous, not absent");
    path("{\"project\":{\"key\":\"A\",\"KEY\":\"B\"}}", pk, 2, -1, NULL,
         "a twin of key: ambiguous");
    path("{\"project\":{\"\u212aey\":\"B\"}}", pk, 2, -1, NULL,
         "the Kelvin sign for k: ambiguous");
    path("{\"a\":{\"b\":{\"c\":\"\"}}}", deep, 3, 1, "", "three deep");
    path("{\"a\":{\"b\":1}}", deep, 3, -2, NULL, "a number on the way");
    path("{\"project\":{\"key\":\"OTHER\"}}", pk, 1, -2, NULL,
         "a path ending in an object: misshapen");
}

/* Whether the body s has a member at names (n of them), whatever its
 * value. */
static void has(const char *s, const char *const *names, size_t n, int want,
                const char *what)
{
    bbt_body_t *b = NULL;
    int got = -9;

    if (parse(s, strlen(s), &b) == NULL)
        got = bbt_body_has(b, names, n);
    ok(got == want, "has: %s", what);
    bbt_body_free(b);
}

static void test_has(void)
{
    static const char *const pid[] = {"project", "id"};

    has("{\"project\":{\"key\":\"K\",\"id\":9}}", pid, 2, 1, "a number");
    has("{\"project\":{\"id\":\"9\"}}", pid, 2, 1, "a string");
    has("{\"project\":{\"id\":null}}", pid, 2, 1, "null");
    has("{\"project\":{\"id\":{}}}", pid, 2, 1, "an object");
    has("{\"project\":{\"ID\":1}}", pid, 2, 1, "only a twin");
    has("{\"project\":{\"\u0131d\":1}}", pid, 2, 1,
        "a non-ASCII letter that may fold to i");
    has("{\"project\":{\"key\":\"K\"}}", pid, 2, 0, "absent");
    has("{\"project\":{\"key\":\"K\",\"ids\":[1]}}", pid, 2, 0,
        "a longer name is another");
    has("{\"id\":1}", pid, 2, 0, "no project");
    has("{\"project\":null}", pid, 2, 0, "project null: nothing there");
    has("{\"project\":{\"id\":1},\"Project\":{}}", pid, 2, 1,
        "a twin of project on the way");
}

static bbt_rules_t *lfs_rules(void)
{
    char err[BBT_RULES_ERR_MAX];
    bbt_rules_t *rs = bbt_rules_new();
    const char *text =
        "BBTokenRoute POST /(?<project>[A-Z]+)/(?<repo>[a-z]+)/batch "
        "REPO_READ json=operation:download\n"
        "BBTokenRoute POST /(?<project>[A-Z]+)/(?<repo>[a-z]+)/batch "
        "REPO_WRITE json=operation:upload\n"
        "BBTokenRoute POST /(?<project>[A-Z]+)/x deny json=op:bad\n"
        "BBTokenRoute POST /(?<project>[A-Z]+)/x PROJECT_READ\n"
        "BBTokenRoute POST /(?<project>[A-Z]+)/(?<repo>[a-z]+)/plain "
        "REPO_READ\n"
        "BBTokenRoute POST '/(?<project>[A-Z]+)/e' PROJECT_READ 'json=v:'\n";

    if (bbt_rules_load(rs, text, NULL, "t", err, sizeof(err)) != 0) {
        diag("%s", err);
        bbt_rules_free(rs);
        return NULL;
    }
    return rs;
}

/* Match POST path with the body s (NULL: none read). */
static bbt_route_result_t post(const bbt_rules_t *rs, const char *path,
                               const char *s, bbt_match_t *m)
{
    bbt_body_t *b = NULL;
    bbt_route_result_t rv;

    if (s && parse(s, strlen(s), &b) != NULL)
        return (bbt_route_result_t)-1;
    rv = bbt_rules_match_body(rs, "POST", path, NULL, 0, b, m);
    bbt_body_free(b);
    return rv;
}

static void test_json_routes(void)
{
    bbt_rules_t *rs = lfs_rules();
    bbt_match_t m;

    ok(rs != NULL, "json= routes load");
    if (!rs)
        return;
    ok(post(rs, "/PROJ/repo/batch", NULL, &m) == BBT_ROUTE_NEED_BODY &&
           m.key_len == 4 && m.key_off == 1 && m.key_exact,
       "no body yet: read it; the key's place is known");
    ok(bbt_rules_match(rs, "POST", "/PROJ/repo/batch", NULL, 0, &m) ==
           BBT_ROUTE_NEED_BODY,
       "bbt_rules_match is the same without a body");
    ok(post(rs, "/PROJ/repo/batch", "{\"operation\":\"download\"}", &m) ==
               BBT_ROUTE_MATCH &&
           m.target.need.level == BBT_LEVEL_READ &&
           strcmp(m.target.slug, "repo") == 0,
       "download: REPO_READ");
    ok(post(rs, "/PROJ/repo/batch", "{\"operation\":\"upload\"}", &m) ==
               BBT_ROUTE_MATCH &&
           m.target.need.level == BBT_LEVEL_WRITE,
       "upload: REPO_WRITE");
    ok(post(rs, "/PROJ/repo/batch", "{\"operation\":\"delete\"}", &m) ==
           BBT_ROUTE_NONE,
       "another operation: no route");
    ok(post(rs, "/PROJ/repo/batch", "{\"operation\":\"Download\"}", &m) ==
           BBT_ROUTE_NONE,
       "values are compared exactly");
    /* Whole values, not prefixes: "up" (or nothing) must not pass for
     * upload or download, else a body of our choosing picks a route. */
    ok(post(rs, "/PROJ/repo/batch", "{\"operation\":\"down\"}", &m) ==
           BBT_ROUTE_NONE,
       "a prefix of download: no route");
    ok(post(rs, "/PROJ/repo/batch", "{\"operation\":\"up\"}", &m) ==
           BBT_ROUTE_NONE,
       "a prefix of upload: no route");
    ok(post(rs, "/PROJ/repo/batch", "{\"operation\":\"\"}", &m) ==
           BBT_ROUTE_NONE,
       "an empty operation: no route");
    ok(post(rs, "/PROJ/repo/batch", "{\"operation\":\"downloads\"}", &m) ==
           BBT_ROUTE_NONE,
       "download and more: no route");
    ok(post(rs, "/PROJ/repo/batch", "{\"objects\":[]}", &m) == BBT_ROUTE_NONE,
       "no operation: no route");
    ok(post(rs, "/PROJ/repo/batch",
            "{\"operation\":\"download\",\"OPERATION\":\"upload\"}",
            &m) == BBT_ROUTE_BAD_BODY &&
           m.target.why,
       "a twin of the member: refused as ambiguous");
    ok(post(rs, "/PROJ/repo/plain", NULL, &m) == BBT_ROUTE_MATCH,
       "a route without json= needs no body");
    ok(post(rs, "/PROJ/x", NULL, &m) == BBT_ROUTE_NEED_BODY,
       "a json= deny route asks for the body too");
    ok(post(rs, "/PROJ/x", "{\"op\":\"bad\"}", &m) == BBT_ROUTE_NONE && m.rule,
       "  and denies when it matches");
    ok(post(rs, "/PROJ/x", "{\"op\":\"good\"}", &m) == BBT_ROUTE_MATCH,
       "  else the next route decides");
    ok(post(rs, "/PROJ/e", "{\"v\":\"\"}", &m) == BBT_ROUTE_MATCH,
       "json=v: asks for the empty string");
    ok(post(rs, "/PROJ/e", "{\"v\":\"x\"}", &m) == BBT_ROUTE_NONE,
       "  and only that");
    ok(bbt_rules_match_body(rs, "GET", "/PROJ/repo/batch", NULL, 0, NULL, &m) ==
           BBT_ROUTE_NONE,
       "another method: no route, no body asked for");
    bbt_rules_free(rs);

    rs = bbt_rules_new();
    ok(bbt_rules_load(rs,
                      "BBTokenRoute POST /(?<project>[a-z]+)/(?<repo>[a-z]+)/b "
                      "REPO_READ json=op:x\n",
                      NULL, "t", NULL, 0) == 0 &&
           post(rs, "/1bad/repo/b", NULL, &m) == BBT_ROUTE_NONE &&
           post(rs, "/proj/r.git/b", NULL, &m) == BBT_ROUTE_NONE,
       "invalid captures: no route, and no body read for them");
    ok(post(rs, "/proj/repo/b", NULL, &m) == BBT_ROUTE_NEED_BODY &&
           !m.key_exact && strcmp(m.target.key, "PROJ") == 0,
       "a key to canonicalize is known before the body");
    bbt_rules_free(rs);
}

static void test_json_errors(void)
{
    bad_route("BBTokenRoute POST /(?<project>[A-Z]+) PROJECT_READ json=op\n",
              "json= needs NAME:VALUE");
    bad_route("BBTokenRoute POST /(?<project>[A-Z]+) PROJECT_READ json=:x\n",
              "json= needs NAME:VALUE");
    bad_route("BBTokenRoute POST /(?<project>[A-Z]+) PROJECT_READ json=a.b:x\n",
              "json= NAME may hold only");
    bad_route("BBTokenRoute POST /(?<project>[A-Z]+) PROJECT_READ json=a:x "
              "json=b:y\n",
              "route option given twice");
    bad_route("BBTokenRoute MOVE /(?<project>[A-Z]+) PROJECT_READ json=a:x "
              "destination\n",
              "json= cannot decide a destination route");
}

/* The shipped git set's LFS routes (routes/git.conf, prefix /scm): method,
 * path after the repository, query, body; the permission wanted (NULL: no
 * route; "body": the body is needed). */
static void lfs(const bbt_rules_t *rs, const char *method, const char *rest,
                const char *args, const char *body, const char *want)
{
    /* Zeroed: PCRE2's JIT reads past the string's end (its own
     * business, but valgrind reports the bytes never written). */
    char path[512] = {0};
    bbt_body_t *b = NULL;
    bbt_match_t m;
    bbt_route_result_t rv;
    const char *got;

    snprintf(path, sizeof(path), "/scm/proj/repo.git/info/lfs/%s", rest);
    if (body && parse(body, strlen(body), &b) != NULL) {
        ok(0, "%s %s: the body parses", method, rest);
        return;
    }
    rv = bbt_rules_match_body(rs, method, path, args, 0, b, &m);
    bbt_body_free(b);
    got = rv == BBT_ROUTE_NEED_BODY ? "body"
          : rv == BBT_ROUTE_MATCH
              ? bbt_perm_name(m.target.need.scope, m.target.need.level)
              : NULL;
    ok(want
           ? got && strcmp(got, want) == 0 &&
                 (rv != BBT_ROUTE_MATCH || (strcmp(m.target.key, "PROJ") == 0 &&
                                            strcmp(m.target.slug, "repo") == 0))
           : got == NULL,
       "%s .../info/lfs/%s%s%s%s%s: %s", method, rest, args ? "?" : "",
       args ? args : "", body ? " " : "", body ? body : "",
       want ? want : "no route");
    if (want ? !got || strcmp(got, want) : got != NULL)
        diag("got %s (%s)", got ? got : "no route",
             m.target.why ? m.target.why : "");
}

static void test_lfs_routes(void)
{
    static const char oid[] =
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char err[BBT_RULES_ERR_MAX], objpath[128];
    const char *prefix = NULL;
    const char *text = bbt_rules_builtin("git", &prefix);
    bbt_rules_t *rs = bbt_rules_new();

    if (!ok(text &&
                bbt_rules_load(rs, text, prefix, "git", err, sizeof(err)) == 0,
            "the git set loads")) {
        bbt_rules_free(rs);
        return;
    }
    lfs(rs, "POST", "objects/batch", NULL, NULL, "body");
    lfs(rs, "POST", "objects/batch", NULL,
        "{\"operation\":\"download\",\"objects\":[]}", "REPO_READ");
    lfs(rs, "POST", "objects/batch", NULL,
        "{\"operation\":\"upload\",\"objects\":[]}", "REPO_WRITE");
    lfs(rs, "POST", "objects/batch", NULL, "{\"operation\":\"verify\"}", NULL);
    lfs(rs, "POST", "objects/batch", NULL, "{}", NULL);
    lfs(rs, "POST", "objects/batch", "x=1", NULL, NULL);
    lfs(rs, "PUT", "objects/batch", NULL, NULL, NULL);
    snprintf(objpath, sizeof(objpath), "objects/%s", oid);
    lfs(rs, "GET", objpath, NULL, NULL, "REPO_READ");
    lfs(rs, "HEAD", objpath, NULL, NULL, "REPO_READ");
    lfs(rs, "PUT", objpath, NULL, NULL, "REPO_WRITE");
    lfs(rs, "DELETE", objpath, NULL, NULL, NULL);
    lfs(rs, "POST", objpath, NULL, NULL, NULL);
    lfs(rs, "GET", objpath, "download=1", NULL, NULL);
    lfs(rs, "GET", "objects/0123456789ABCDEF", NULL, NULL, NULL);
    lfs(rs, "GET", "objects/../../config", NULL, NULL, NULL);
    lfs(rs, "POST", "objects/verify", NULL, NULL, "REPO_WRITE");
    lfs(rs, "GET", "objects/verify", NULL, NULL, NULL);
    lfs(rs, "GET", "locks", NULL, NULL, "REPO_READ");
    lfs(rs, "GET", "locks", "path=a.bin&limit=100", NULL, "REPO_READ");
    lfs(rs, "GET", "locks", "refspec=refs%2Fheads%2Fmain&cursor=4", NULL,
        "REPO_READ");
    lfs(rs, "GET", "locks", "other=1", NULL, NULL);
    lfs(rs, "POST", "locks", NULL, NULL, "REPO_WRITE");
    lfs(rs, "POST", "locks/verify", NULL, NULL, "REPO_WRITE");
    lfs(rs, "POST", "locks/17/unlock", NULL, NULL, "REPO_WRITE");
    lfs(rs, "POST", "locks/a-B_c.9/unlock", NULL, NULL, "REPO_WRITE");
    lfs(rs, "POST", "locks/17", NULL, NULL, NULL);
    lfs(rs, "POST", "locks/a/b/unlock", NULL, NULL, NULL);
    lfs(rs, "DELETE", "locks/17", NULL, NULL, NULL);
    lfs(rs, "GET", "locks/verify", NULL, NULL, NULL);
    lfs(rs, "GET", "", NULL, NULL, NULL);
    lfs(rs, "PROPFIND", "objects/", NULL, NULL, NULL);
    bbt_rules_free(rs);
}

/* The headers a body is declared with: a coding or a charset a backend
 * could decode by is refused; identity and UTF-8 are the bytes as read. */
static void undecidable(const char *ce, const char *ct, int want)
{
    const char *why = bbt_body_undecidable(ce, ct);

    ok(want ? why != NULL : why == NULL,
       "Content-Encoding %s%s%s, "
       "Content-Type %s%s%s: %s",
       ce ? "'" : "", ce ? ce : "absent", ce ? "'" : "", ct ? "'" : "",
       ct ? ct : "absent", ct ? "'" : "", want ? "refused" : "read");
    if (why && !want)
        diag("refused: %s", why);
}

static void test_undecidable(void)
{
    static const char *const coded[] = {"gzip",
                                        "br",
                                        "deflate",
                                        "x-gzip",
                                        "identity, gzip",
                                        "gzip, identity",
                                        "IDENTITY,br",
                                        "",
                                        "identityx",
                                        "identity;q=1",
                                        "\tbr"};
    static const char *const other[] = {
        "application/json; charset=utf-7",
        "application/json; charset=\"UTF-7\"",
        "application/json; charset=iso-8859-1",
        "application/json; charset=utf-8; charset=utf-7",
        "application/json; charset=utf-7; charset=utf-8",
        "application/json; x=1; charset=utf-8",
        "application/json, application/json; charset=utf-7",
        "application/json; charset",
        "application/json; charset=",
        "application/json; charset = utf-8",
        "application/json; CHARSET=UTF-16",
        "application/json charset=utf-8",
        "application/charset+json; a=b"};
    static const char *const read[] = {
        "application/json",
        "application/vnd.git-lfs+json",
        "application/vnd.git-lfs+json; charset=utf-8",
        "application/json;charset=UTF-8",
        "application/json; charset=\"utf-8\"",
        "application/json; charset=utf8 ",
        "text/plain; format=flowed",
        ""};
    size_t i;

    undecidable(NULL, NULL, 0);
    undecidable("identity", NULL, 0);
    undecidable(" Identity\t", "application/json", 0);
    for (i = 0; i < sizeof(coded) / sizeof(coded[0]); i++)
        undecidable(coded[i], "application/json", 1);
    for (i = 0; i < sizeof(other) / sizeof(other[0]); i++)
        undecidable(NULL, other[i], 1);
    for (i = 0; i < sizeof(read) / sizeof(read[0]); i++)
        undecidable(NULL, read[i], 0);
    undecidable("gzip", "application/json; charset=utf-8", 1);
    undecidable("identity", "application/json; charset=utf-7", 1);
}

/* A body a route reads says it is JSON: a backend may pick its parser by
 * the media type, and read a form in the same bytes. */
static void test_not_json(void)
{
    static const char *const json[] = {
        "application/json",
        "Application/JSON",
        " application/json ; charset=utf-8",
        "application/json;charset=UTF-8",
        "application/vnd.git-lfs+json",
        "application/vnd.git-lfs+json; charset=utf-8",
        "APPLICATION/VND.GIT-LFS+JSON",
        "application/json; charset=utf-8",
        "application/json;CHARSET=\"utf-8\"",
        "application/json ;  charset =utf-8"};
    static const char *const not [] = {
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/plain",
        "text/json",
        "application/jsonx",
        "application/json5",
        "application/xjson",
        "application/+json",
        "application/merge-patch+json",
        "application/x-www-form-urlencoded+json",
        "application/x-www-form-urlencoded+json; charset=utf-8",
        "application/vnd.git-lfs+json; x=application/x-www-form-urlencoded",
        "application/json; boundary=x",
        "application/json; charset=utf-8; x=1",
        "application/json;",
        "application/json; charsetx=utf-8",
        "application/x+json+x",
        "application/a b+json",
        "application/a,b+json",
        "application/json, application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded, application/json",
        "application/x-www-form-urlencoded; a=application/json",
        "application/",
        "json",
        "",
        " ",
        "*/*"};
    size_t i;

    ok(bbt_body_not_json(NULL) != NULL, "no Content-Type: not JSON");
    for (i = 0; i < sizeof(json) / sizeof(json[0]); i++)
        ok(bbt_body_not_json(json[i]) == NULL, "'%s': JSON", json[i]);
    for (i = 0; i < sizeof(not ) / sizeof(not [0]); i++)
        ok(bbt_body_not_json(not [i]) != NULL, "'%s': not JSON", not [i]);
}

int main(void)
{
    test_parse();
    test_not_json();
    test_shape();
    test_member();
    test_path();
    test_has();
    test_json_routes();
    test_json_errors();
    test_lfs_routes();
    test_undecidable();
    return done_testing();
}
