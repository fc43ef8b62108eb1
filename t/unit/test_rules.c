/* The route language: compiling, matching, errors, route files and the
 * built-in sets (identical to routes/NAME.conf). The seed's matrix decided
 * through them is t/unit/test_rules_seed.c's. */
#include "bbt_body.h"
#include "bbt_rules.h"
#include "tap.h"
#include "rules_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define R BBT_LEVEL_READ
#define W BBT_LEVEL_WRITE
#define A BBT_LEVEL_ADMIN
#define N BBT_LEVEL_NONE

static bbt_rules_t *rules_of(const char *text, const char *prefix)
{
    char err[BBT_RULES_ERR_MAX];
    bbt_rules_t *rs = bbt_rules_new();

    if (bbt_rules_load(rs, text, prefix, "t", err, sizeof(err)) != 0) {
        diag("load failed: %s", err);
        bbt_rules_free(rs);
        return NULL;
    }
    return rs;
}

static void test_language(void)
{
    bbt_rules_t *rs = rules_of(
        "# a comment\n"
        "\n"
        "BBTokenRoute GET,HEAD \"/a/(?<project>[A-Za-z]+)/(?<repo>[a-z]+)\" "
        "REPO_READ\n"
        "BBTokenRoute * \"/a/(?<project>[A-Za-z]+)/(?<repo>[a-z]+)\" "
        "REPO_WRITE\n"
        "BBTokenRoute GET /b/(?<project>[A-Z]+)/secret deny\n"
        "BBTokenRoute GET /b/(?<project>[A-Z]+)/.* PROJECT_READ\n"
        "BBTokenRoute GET '/q/(?<project>[A-Z]+)' PROJECT_READ "
        "query=x=1\n"
        "BBTokenRoute GET /q/(?<project>[A-Z]+) PROJECT_WRITE query=\n"
        "BBTokenRoute GET \"/flat/(?<repo>[a-z]+)\\.git\" REPO_READ "
        "project=flat\n"
        "BBTokenRoute POST /f/(?<project>[A-Z]+)/(?<repo>[a-z]+) REPO_READ "
        "token=PROJECT_ADMIN\n"
        "BBTokenRoute COPY,MOVE /a/(?<project>[A-Z]+)/(?<repo>[a-z]+)/.+ "
        "REPO_WRITE destination\n"
        "  BBTokenRoute\tGET \"/sp ace/(?<project>[A-Z]+)\" PROJECT_READ\r\n",
        NULL);
    bbt_match_t out;

    ok(rs != NULL, "a route text compiles");
    if (!rs)
        return;
    is_int((long long)bbt_rules_count(rs), 10, "ten routes");

    route_is(rs, "GET", "/a/PROJ/repo", NULL, 0, "REPO_READ", "PROJ/repo");
    route_is(rs, "HEAD", "/a/PROJ/repo", NULL, 0, "REPO_READ", "PROJ/repo");
    route_is(rs, "PUT", "/a/PROJ/repo", NULL, 0, "REPO_WRITE", "PROJ/repo");
    route_is(rs, "get", "/a/PROJ/repo", NULL, 0, "REPO_WRITE", "PROJ/repo");
    /* Anchored at both ends, whatever the pattern says. */
    route_is(rs, "GET", "/a/PROJ/repo/x", NULL, 0, NULL, NULL);
    route_is(rs, "GET", "/x/a/PROJ/repo", NULL, 0, NULL, NULL);
    {
        bbt_match_t nl;

        ok(bbt_rules_match(rs, "GET", "/a/PROJ/repo\n", NULL, 0, &nl) ==
               BBT_ROUTE_NONE,
           "a trailing newline is not the end");
    }
    /* First match wins: the deny before the broader read. */
    route_is(rs, "GET", "/b/PROJ/secret", NULL, 0, NULL, NULL);
    route_is(rs, "GET", "/b/PROJ/other", NULL, 0, "PROJECT_READ", "PROJ");
    /* A path is bytes, not lines: "." is any byte, a newline (%0A) too. */
    route_is(rs, "GET", "/b/PROJ/x\ny", NULL, 0, "PROJECT_READ", "PROJ");
    /* An empty segment (httpd under MergeSlashes Off) or a dot segment (a
     * [PT] rewrite's) is no route; a trailing slash or dots in a name are
     * fine. */
    route_is(rs, "GET", "/b/PROJ//x", NULL, 0, NULL, NULL);
    route_is(rs, "GET", "/b/PROJ/x//", NULL, 0, NULL, NULL);
    route_is(rs, "GET", "/b/PROJ/x/../../OTHER/y", NULL, 0, NULL, NULL);
    route_is(rs, "GET", "/b/PROJ/./x", NULL, 0, NULL, NULL);
    route_is(rs, "GET", "/b/PROJ/x/..", NULL, 0, NULL, NULL);
    route_is(rs, "GET", "/b/PROJ/x/.", NULL, 0, NULL, NULL);
    route_is(rs, "GET", "/b/PROJ/x/", NULL, 0, "PROJECT_READ", "PROJ");
    route_is(rs, "GET", "/b/PROJ/..x/x../.x./...", NULL, 0, "PROJECT_READ",
             "PROJ");
    bbt_rules_match(rs, "GET", "/b/PROJ/secret", NULL, 0, &out);
    ok(out.rule && strcmp(bbt_rule_origin(out.rule), "t:5") == 0 &&
           strcmp(out.target.why, "a deny route matched") == 0,
       "a deny route names itself (t:5)");
    /* Query conditions: whole, raw, "" when absent. */
    route_is(rs, "GET", "/q/PROJ", "x=1", 0, "PROJECT_READ", "PROJ");
    route_is(rs, "GET", "/q/PROJ", NULL, 0, "PROJECT_WRITE", "PROJ");
    route_is(rs, "GET", "/q/PROJ", "", 0, "PROJECT_WRITE", "PROJ");
    route_is(rs, "GET", "/q/PROJ", "x=1&x=1", 0, NULL, NULL);
    route_is(rs, "GET", "/q/PROJ", "x%3D1", 0, NULL, NULL);
    route_is(rs, "GET", "/q/PROJ", "y", 0, NULL, NULL);
    /* query= is no query string or an empty one, nothing more. */
    route_is(rs, "GET", "/q/PROJ", "\n", 0, NULL, NULL);
    route_is(rs, "GET", "/q/PROJ", "&", 0, NULL, NULL);
    /* A fixed project, canonicalized. */
    route_is(rs, "GET", "/flat/repo.git", NULL, 0, "REPO_READ", "FLAT/repo");
    bbt_rules_match(rs, "GET", "/flat/repo.git", NULL, 0, &out);
    ok(out.key_len == 0 && out.key_exact, "a fixed project is no span");
    /* token= */
    bbt_rules_match(rs, "POST", "/f/PROJ/repo", NULL, 0, &out);
    ok(out.token_need.scope == BBT_SCOPE_PROJECT && out.token_need.level == A,
       "token=PROJECT_ADMIN is the token's minimum");
    bbt_rules_match(rs, "GET", "/a/PROJ/repo", NULL, 0, &out);
    ok(out.token_need.level == N, "no token= is no minimum");
    /* Destination routes apply only to destinations, and the reverse. */
    route_is(rs, "COPY", "/a/PROJ/repo/x", NULL, 1, "REPO_WRITE", "PROJ/repo");
    route_is(rs, "COPY", "/a/PROJ/repo/x", NULL, 0, NULL, NULL);
    route_is(rs, "GET", "/a/PROJ/repo", NULL, 1, NULL, NULL);
    /* Keys: canonical target, and where the key was. */
    bbt_rules_match(rs, "GET", "/a/Proj/repo", NULL, 0, &out);
    ok(strcmp(out.target.key, "PROJ") == 0 && out.key_off == 3 &&
           out.key_len == 4 && !out.key_exact,
       "a key in another case: canonical target, span 3+4, not exact");
    bbt_rules_match(rs, "GET", "/a/PROJ/repo", NULL, 0, &out);
    ok(out.key_exact, "a canonical key is exact");
    /* Invalid captures stop the search. */
    route_is(rs, "GET", "/a/PROJ/git", NULL, 0, "REPO_READ", "PROJ/git");
    route_is(rs, "GET", "/sp ace/PROJ", NULL, 0, "PROJECT_READ", "PROJ");
    /* "A path or a query string over 8192 bytes matches no route"
     * (README): 8192 bytes itself is matched. */
    is_int(BBT_RULES_MAX_PATH, 8192, "the path limit is README's 8192");
    is_int(BBT_RULES_MAX_ARGS, 8192, "the query string limit too");
    {
        char *p = malloc(BBT_RULES_MAX_PATH + 2);

        if (p) {
            memset(p, 'a', BBT_RULES_MAX_PATH + 1);
            memcpy(p, "/b/PROJ/", 8);
            p[BBT_RULES_MAX_PATH] = '\0';
            ok(bbt_rules_match(rs, "GET", p, NULL, 0, &out) == BBT_ROUTE_MATCH,
               "a path of 8192 bytes is matched");
            p[BBT_RULES_MAX_PATH] = 'a';
            p[BBT_RULES_MAX_PATH + 1] = '\0';
            bbt_rules_match(rs, "GET", p, NULL, 0, &out);
            ok(out.target.why && strcmp(out.target.why, "path too long") == 0,
               "one of 8193 is no route");
            memset(p, 'x', BBT_RULES_MAX_ARGS);
            p[BBT_RULES_MAX_ARGS] = '\0';
            ok(bbt_rules_match(rs, "GET", "/a/PROJ/repo", p, 0, &out) ==
                   BBT_ROUTE_MATCH,
               "a query string of 8192 bytes is matched");
            p[BBT_RULES_MAX_ARGS] = 'x';
            p[BBT_RULES_MAX_ARGS + 1] = '\0';
            bbt_rules_match(rs, "GET", "/a/PROJ/repo", p, 0, &out);
            ok(out.target.why &&
                   strcmp(out.target.why, "query string too long") == 0,
               "one of 8193 is no route");
            free(p);
        }
    }
    ok(bbt_rules_match(rs, NULL, "/a/PROJ/repo", NULL, 0, &out) ==
           BBT_ROUTE_NONE,
       "NULL method");
    ok(bbt_rules_match(rs, "GET", NULL, NULL, 0, &out) == BBT_ROUTE_NONE,
       "NULL path");
    ok(bbt_rules_match(NULL, "GET", "/a/PROJ/repo", NULL, 0, &out) ==
           BBT_ROUTE_NONE,
       "no rules");
    bbt_rules_free(rs);

    /* Invalid key or slug captured: refused, not passed to a later route. */
    rs = rules_of("BBTokenRoute GET /(?<project>[^/]+)/(?<repo>[^/]+) "
                  "REPO_READ\n"
                  "BBTokenRoute GET /.* REPO_READ project=X "
                  "token=REPO_READ\n",
                  NULL);
    ok(rs == NULL, "REPO_READ without a repo capture is refused");
    rs = rules_of("BBTokenRoute GET /(?<project>[^/]+)/(?<repo>[^/]+) "
                  "REPO_READ\n"
                  "BBTokenRoute GET /.* PROJECT_READ project=X\n",
                  NULL);
    if (rs) {
        route_is(rs, "GET", "/1X/repo", NULL, 0, NULL, NULL);
        route_is(rs, "GET", "/X/re po", NULL, 0, NULL, NULL);
        route_is(rs, "GET", "/X/repo.git", NULL, 0, NULL, NULL);
        route_is(rs, "GET", "/X/-repo", NULL, 0, NULL, NULL);
        route_is(rs, "GET", "/X/Repo", NULL, 0, "REPO_READ", "X/Repo");
        route_is(rs, "GET", "/~Bob/repo", NULL, 0, "REPO_READ", "~bob/repo");
        route_is(rs, "GET", "/x", NULL, 0, "PROJECT_READ", "X");
        bbt_rules_free(rs);
    }

    /* A pattern that backtracks too much refuses, within its limit. */
    rs = rules_of("BBTokenRoute GET \"/(?<project>(a|aa)+)+b\" PROJECT_READ\n",
                  NULL);
    if (rs) {
        char p[80];

        memset(p, 'a', sizeof(p) - 2);
        p[0] = '/';
        p[sizeof(p) - 3] = 'b';
        p[sizeof(p) - 2] = 'c';
        p[sizeof(p) - 1] = '\0';
        bbt_rules_match(rs, "GET", p, NULL, 0, &out);
        ok(out.target.why &&
               strcmp(out.target.why, "route pattern hit its match limit") == 0,
           "catastrophic backtracking is refused");
        bbt_rules_free(rs);
    }
}

/* A quoted word in a route file keeps its backslashes but one before its
 * own quote character, which puts that quote into the word (README): a
 * pattern may hold the character that quotes it. */
static void test_quoted_words(void)
{
    bbt_rules_t *rs = rules_of(
        "BBTokenRoute GET \"/d\\\"(?<project>[A-Z]+)\" PROJECT_READ\n"
        "BBTokenRoute GET '/s\\'(?<project>[A-Z]+)' PROJECT_WRITE\n"
        "BBTokenRoute GET \"/k\\.(?<project>[A-Z]+)\\'\" PROJECT_ADMIN\n",
        NULL);

    ok(rs != NULL, "a quote escaped inside a quoted word loads");
    if (!rs)
        return;
    route_is(rs, "GET", "/d\"PROJ", NULL, 0, "PROJECT_READ", "PROJ");
    route_is(rs, "GET", "/s'PROJ", NULL, 0, "PROJECT_WRITE", "PROJ");
    /* Another backslash stays for PCRE2: \. a dot, \' a quote. */
    route_is(rs, "GET", "/k.PROJ'", NULL, 0, "PROJECT_ADMIN", "PROJ");
    route_is(rs, "GET", "/kxPROJ'", NULL, 0, NULL, NULL);
    bbt_rules_free(rs);
}

/* Every route option once: 16 words with the four before them. */
#define TWELVE_OPTIONS                                                         \
    "project=X query=a=1 token=PROJECT_READ destination json=a:b "             \
    "body-project=p.key:PROJECT_ADMIN body-project-absent=personal "           \
    "body-project-same=skip query-repo=r body-repo=b.r new git-object"

static void bad(const char *text, const char *prefix, const char *want)
{
    char err[BBT_RULES_ERR_MAX];
    bbt_rules_t *rs = bbt_rules_new();
    int rv = bbt_rules_load(rs, text, prefix, "f.conf", err, sizeof(err));

    ok(rv == -1 && strstr(err, want) != NULL, "refused: %s", want);
    if (rv != -1 || !strstr(err, want))
        diag("got rv %d: %s", rv, err);
    bbt_rules_free(rs);
}

static void test_errors(void)
{
    bad("\n\nBBTokenRoute GET /(?<project>x) PROJECT_REED\n", NULL,
        "f.conf:3: unknown permission");
    bad("BBTokenRoute GET /(?<project>x)/y REPO_READ\n", NULL,
        "f.conf:1: a REPO_ permission needs a (?<repo>...) capture");
    bad("BBTokenRoute GET /(?<repo>x) REPO_READ\n", NULL,
        "needs a (?<project>...) capture or project=KEY");
    bad("BBTokenRoute GET /(?<project>x REPO_READ\n", NULL,
        "f.conf:1: pattern does not compile");
    bad("BBTokenRoute GET /(?<project>x)(?<project>y) PROJECT_READ\n", NULL,
        "pattern does not compile");
    bad("BBTokenRoute GET /(?<project>x) PROJECT_READ query=(\n", NULL,
        "query pattern does not compile");
    bad("BBTokenRoute GET /(?<project>x) PROJECT_READ token=READ\n", NULL,
        "unknown permission 'READ'");
    /* A route may need REPO_CREATE; a token's minimum is one of a token's
     * six, never create. */
    bad("BBTokenRoute POST /(?<project>x) PROJECT_READ token=REPO_CREATE\n",
        NULL,
        "f.conf:1: token= takes a permission a token holds, and no token "
        "holds REPO_CREATE: a token reaches it with PROJECT_ADMIN "
        "(token=PROJECT_ADMIN)");
    bad("BBTokenRoute POST /(?<project>x) PROJECT_CREATE\n", NULL,
        "unknown permission");
    bad("BBTokenRoute GET /(?<project>x) PROJECT_READ project=X\n", NULL,
        "both a (?<project>...) capture and project=");
    bad("BBTokenRoute GET /x PROJECT_READ project=1\n", NULL,
        "invalid project key '1'");
    bad("BBTokenRoute GET /x PROJECT_READ projects=X\n", NULL,
        "unknown route option 'projects=X'");
    bad("BBTokenRoute GET /x PROJECT_READ project=X project=Y\n", NULL,
        "route option given twice");
    bad("BBTokenRoute GET /x PROJECT_READ destination=1\n", NULL,
        "unknown route option");
    bad("BBTokenRoute MOVE /(?<project>x) PROJECT_READ new\n", NULL,
        "new is for a destination route with a permission");
    bad("BBTokenRoute MOVE /x deny destination new\n", NULL,
        "new is for a destination route with a permission");
    bad("BBTokenRoute MOVE /(?<project>x) PROJECT_READ destination new new\n",
        NULL, "route option given twice");
    bad("BBTokenRoute MOVE /(?<project>x) PROJECT_READ destination newer\n",
        NULL, "unknown route option 'newer'");
    bad("BBTokenRoute MOVE /(?<project>x) PROJECT_READ git-object\n", NULL,
        "git-object is for a destination route with a permission");
    bad("BBTokenRoute MOVE /x deny destination git-object\n", NULL,
        "git-object is for a destination route with a permission");
    bad("BBTokenRoute GET,,POST /x PROJECT_READ project=X\n", NULL,
        "empty method");
    bad("BBTokenRoute GET,* /x PROJECT_READ project=X\n", NULL,
        "invalid method list");
    bad("BBTokenRoute get /x PROJECT_READ project=X\n", NULL,
        "f.conf:1: methods are case-sensitive");
    bad("BBTokenRoute GET,Post /x PROJECT_READ project=X\n", NULL,
        "upper case, as clients send them: 'GET,Post'");
    bad("BBTokenRoute GET /x\n", NULL, "needs METHODS PATTERN PERMISSION");
    bad("Require all granted\n", NULL, "holds only BBTokenRoute lines");
    /* At most 16 words (README): a 17th is refused for being there, not
     * dropped unread, whatever the 16 before it say. */
    bad("BBTokenRoute GET /(?<project>x) PROJECT_READ " TWELVE_OPTIONS
        " token=PROJECT_ADMIN\n",
        NULL, "f.conf:1: too many words");
    bad("BBTokenRoute GET /(?<project>x) PROJECT_READ " TWELVE_OPTIONS "\n",
        NULL, "f.conf:1: json= cannot decide a destination route");
    bad("BBTokenRoute GET @PREFIX@/x PROJECT_READ project=X\n", NULL,
        "@PREFIX@ without a prefix");
    bad("BBTokenRoute GET @PREFIX@/x PROJECT_READ project=X\n", "scm",
        "f.conf: the URL prefix must start with '/' and hold only letters, "
        "digits and /._~-: 'scm'");
    /* The directive drops a trailing slash; the loader is given none. */
    bad("BBTokenRoute GET @PREFIX@/x PROJECT_READ project=X\n", "/scm/",
        "f.conf: the URL prefix comes here without its trailing '/': "
        "'/scm/'");
    bad("BBTokenRoute GET @PREFIX@/x PROJECT_READ project=X\n", "/s\"cm",
        "URL prefix must start with '/'");
    {
        char err[BBT_RULES_ERR_MAX];
        bbt_rules_t *rs = bbt_rules_new();
        const char *no = NULL;

        ok(bbt_rules_add(rs, "GET", "@PREFIX@/x", "PROJECT_READ",
                         (const char *const *)&no, 0, "httpd.conf:7", err,
                         sizeof(err)) == -1 &&
               strstr(err, "httpd.conf:7: @PREFIX@ without a prefix"),
           "@PREFIX@ in a single route is refused");
        ok(bbt_rules_add(rs, "GET", "/(?<project>x)", "deny",
                         (const char *const *)&no, 0, "httpd.conf:8", err,
                         sizeof(err)) == 0,
           "deny needs no capture");
        ok(bbt_rules_add(rs, "GET", "/x", "deny", (const char *const *)&no, 0,
                         "httpd.conf:9", err, sizeof(err)) == 0,
           "deny needs nothing");
        ok(bbt_rules_add(rs, "PUT,X-EXT", "/x", "deny",
                         (const char *const *)&no, 0, "httpd.conf:10", err,
                         sizeof(err)) == 0 &&
               bbt_rules_add(rs, "*", "/y", "deny", (const char *const *)&no, 0,
                             "httpd.conf:11", err, sizeof(err)) == 0,
           "upper-case methods, and *");
        ok(strcmp(bbt_rules_method_at(rs, 2, 0), "PUT") == 0 &&
               strcmp(bbt_rules_method_at(rs, 2, 1), "X-EXT") == 0 &&
               bbt_rules_method_at(rs, 2, 2) == NULL &&
               strcmp(bbt_rules_origin_at(rs, 2), "httpd.conf:10") == 0,
           "a route's methods and origin, in order");
        ok(bbt_rules_method_at(rs, 3, 0) == NULL &&
               strcmp(bbt_rules_origin_at(rs, 3), "httpd.conf:11") == 0 &&
               bbt_rules_origin_at(rs, 4) == NULL &&
               bbt_rules_method_at(rs, 4, 0) == NULL,
           "* names no method; past the last route, nothing");
        bbt_rules_free(rs);
    }
}

static void test_prefix(void)
{
    bbt_rules_t *rs = rules_of("BBTokenRoute GET "
                               "\"@PREFIX@/(?<project>[A-Z]+)\" PROJECT_READ\n",
                               "/a.b/c~d");

    if (!rs)
        return;
    route_is(rs, "GET", "/a.b/c~d/PROJ", NULL, 0, "PROJECT_READ", "PROJ");
    route_is(rs, "GET", "/aXb/c~d/PROJ", NULL, 0, NULL, NULL);
    bbt_rules_free(rs);
    rs = rules_of("BBTokenRoute GET \"@PREFIX@/(?<project>[A-Z]+)\" "
                  "PROJECT_READ\n",
                  "");
    if (rs) {
        route_is(rs, "GET", "/PROJ", NULL, 0, "PROJECT_READ", "PROJ");
        bbt_rules_free(rs);
    }
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf)
        buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_builtin_files(void)
{
    static const char *const names[] = {"git", "dav", "bitbucket-rest"};
    size_t i;

    for (i = 0; i < 3; i++) {
        char path[100];
        const char *prefix = "x";
        const char *text = bbt_rules_builtin(names[i], &prefix);
        char *file;
        bbt_rules_t *rs;

        snprintf(path, sizeof(path), "routes/%s.conf", names[i]);
        file = slurp(path);
        ok(text && file && strcmp(text, file) == 0,
           "built-in set %s is %s, byte for byte", names[i], path);
        rs = rules_of(text ? text : "", prefix);
        ok(rs && bbt_rules_count(rs) > 0, "  and compiles with prefix '%s'",
           prefix);
        bbt_rules_free(rs);
        free(file);
    }
    ok(bbt_rules_builtin("svn", NULL) == NULL, "no set svn");
    ok(bbt_rules_builtin(NULL, NULL) == NULL, "no set NULL");
}

static void test_dav(void)
{
    bbt_rules_t *rs = rules_of(bbt_rules_builtin("dav", NULL), "/dav");
    static const char *const reads[] = {"GET", "HEAD", "OPTIONS", "PROPFIND",
                                        "REPORT"};
    static const char *const writes[] = {
        "PUT",       "DELETE",     "MKCOL",      "COPY",  "MOVE",
        "PROPPATCH", "LOCK",       "UNLOCK",     "MERGE", "CHECKOUT",
        "CHECKIN",   "UNCHECKOUT", "MKACTIVITY", "POST",  "VERSION-CONTROL"};
    size_t i;

    if (!rs)
        return;
    for (i = 0; i < 5; i++) {
        route_is(rs, reads[i], "/dav/PROJ/repo/a/b.txt", NULL, 0, "REPO_READ",
                 "PROJ/repo");
        route_is(rs, reads[i], "/dav/PROJ/repo/", NULL, 0, "REPO_READ",
                 "PROJ/repo");
        route_is(rs, reads[i], "/dav/PROJ/", NULL, 0, "PROJECT_READ", "PROJ");
        route_is(rs, reads[i], "/dav/", NULL, 0, NULL, NULL);
    }
    /* "repo//" is the repository itself to the filesystem: not "inside". */
    route_is(rs, "DELETE", "/dav/PROJ/repo//", NULL, 0, NULL, NULL);
    route_is(rs, "MKCOL", "/dav/PROJ/repo//", NULL, 0, NULL, NULL);
    route_is(rs, "MOVE", "/dav/PROJ/repo//", NULL, 1, NULL, NULL);
    for (i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
        const char *want =
            strcmp(writes[i], "COPY") == 0 ? "REPO_READ" : "REPO_WRITE";
        route_is(rs, writes[i], "/dav/PROJ/repo/a/b.txt", NULL, 0, want,
                 "PROJ/repo");
        route_is(rs, writes[i], "/dav/", NULL, 0, NULL, NULL);
    }
    route_is(rs, "MKCOL", "/dav/PROJ/new/", NULL, 0, "REPO_CREATE", "PROJ");
    route_is(rs, "PUT", "/dav/PROJ/new", NULL, 0, "REPO_CREATE", "PROJ");
    route_is(rs, "LOCK", "/dav/PROJ/new", NULL, 0, "REPO_CREATE", "PROJ");
    route_is(rs, "DELETE", "/dav/PROJ/repo/", NULL, 0, "REPO_ADMIN",
             "PROJ/repo");
    route_is(rs, "MOVE", "/dav/PROJ/repo", NULL, 0, "REPO_ADMIN", "PROJ/repo");
    route_is(rs, "PROPPATCH", "/dav/PROJ/repo/", NULL, 0, "REPO_ADMIN",
             "PROJ/repo");
    route_is(rs, "MERGE", "/dav/PROJ/repo", NULL, 0, "REPO_WRITE", "PROJ/repo");
    route_is(rs, "UNLOCK", "/dav/PROJ/repo", NULL, 0, "REPO_WRITE",
             "PROJ/repo");
    route_is(rs, "PROPPATCH", "/dav/PROJ/", NULL, 0, "PROJECT_ADMIN", "PROJ");
    route_is(rs, "MKCOL", "/dav/NEW/", NULL, 0, NULL, NULL);
    route_is(rs, "DELETE", "/dav/PROJ/", NULL, 0, NULL, NULL);
    route_is(rs, "MOVE", "/dav/PROJ", NULL, 0, NULL, NULL);
    route_is(rs, "BREW", "/dav/PROJ/repo/x", NULL, 0, NULL, NULL);
    route_is(rs, "SEARCH", "/dav/PROJ/repo/x", NULL, 0, NULL, NULL);
    route_is(rs, "GET", "/dav/PROJ/bad slug/x", NULL, 0, NULL, NULL);
    route_is(rs, "GET", "/dav/PROJ/repo.git/x", NULL, 0, NULL, NULL);
    route_is(rs, "GET", "/dav/~alice/r/x", NULL, 0, "REPO_READ", "~alice/r");
    route_is(rs, "GET", "/davx/PROJ/repo/x", NULL, 0, NULL, NULL);
    /* mod_dav_fs's property store: never, at either end, in any case. */
    route_is(rs, "PUT", "/dav/PROJ/repo/.DAV/.state_for_dir", NULL, 0, NULL,
             NULL);
    route_is(rs, "GET", "/dav/PROJ/repo/sub/.DAV/a.txt", NULL, 0, NULL, NULL);
    route_is(rs, "PROPFIND", "/dav/PROJ/repo/.dav", NULL, 0, NULL, NULL);
    route_is(rs, "MKCOL", "/dav/PROJ/repo/x/.Dav/", NULL, 0, NULL, NULL);
    route_is(rs, "COPY", "/dav/PROJ/repo/.DAV", NULL, 1, NULL, NULL);
    route_is(rs, "MOVE", "/dav/PROJ/repo/sub/.DAV/a.txt", NULL, 1, NULL, NULL);
    route_is(rs, "GET", "/dav/PROJ/repo/a.DAV", NULL, 0, "REPO_READ",
             "PROJ/repo");
    route_is(rs, "PUT", "/dav/PROJ/repo/.DAVx/y", NULL, 0, "REPO_WRITE",
             "PROJ/repo");
    route_is(rs, "COPY", "/dav/PROJ/repo/x/.DAV.txt", NULL, 1, "REPO_WRITE",
             "PROJ/repo");
    /* A file named .state_for_dir: its properties are its directory's. */
    route_is(rs, "PUT", "/dav/PROJ/repo/.state_for_dir", NULL, 0, NULL, NULL);
    route_is(rs, "PROPPATCH", "/dav/PROJ/repo/sub/.STATE_FOR_DIR", NULL, 0,
             NULL, NULL);
    route_is(rs, "MOVE", "/dav/PROJ/repo/.state_for_dir", NULL, 1, NULL, NULL);
    route_is(rs, "PUT", "/dav/PROJ/repo/.state_for_dir.txt", NULL, 0,
             "REPO_WRITE", "PROJ/repo");
    /* Destinations. */
    route_is(rs, "COPY", "/dav/PROJ/repo/x", NULL, 1, "REPO_WRITE",
             "PROJ/repo");
    route_is(rs, "MOVE", "/dav/PROJ/repo/", NULL, 1, "PROJECT_ADMIN", "PROJ");
    route_is(rs, "MOVE", "/dav/PROJ/", NULL, 1, NULL, NULL);
    route_is(rs, "MOVE", "/dav/", NULL, 1, NULL, NULL);
    route_is(rs, "PUT", "/dav/PROJ/repo/x", NULL, 1, NULL, NULL);
    bbt_rules_free(rs);
}

/* git's objects are moved into place once: its object Destination route
 * takes only a new one (new), and no other route does; dav's moves may
 * replace what they move onto. */
static void test_new(void)
{
    const char *o = "/scm/PROJ/repo.git/objects/ab/"
                    "ababababababababababababababababababab";
    bbt_rules_t *git = rules_of(bbt_rules_builtin("git", NULL), "/scm");
    bbt_rules_t *dav = rules_of(bbt_rules_builtin("dav", NULL), "/dav");
    bbt_match_t m;

    if (!git || !dav)
        return;
    ok(bbt_rules_has_dest_checks(git) && !bbt_rules_has_dest_checks(dav) &&
           !bbt_rules_has_dest_checks(NULL),
       "git has a route with new and git-object, dav none");
    ok(bbt_rules_match(git, "MOVE", o, NULL, 1, &m) == BBT_ROUTE_MATCH &&
           bbt_rule_new(m.rule) && bbt_rule_git_object(m.rule),
       "git: an object's Destination must be new, and that object");
    ok(bbt_rules_match(git, "MOVE",
                       "/scm/PROJ/repo.git/objects/ab/"
                       "ababababababababababababababababababab_"
                       "0000000000000000000000000000000000000000",
                       NULL, 0, &m) == BBT_ROUTE_MATCH &&
           !bbt_rule_new(m.rule) && !bbt_rule_git_object(m.rule),
       "git: the MOVE's own source is not");
    ok(bbt_rules_match(git, "PUT", o, NULL, 0, &m) == BBT_ROUTE_NONE,
       "git: no PUT of an object under its own name");
    ok(bbt_rules_match(dav, "MOVE", "/dav/PROJ/repo/x", NULL, 1, &m) ==
               BBT_ROUTE_MATCH &&
           !bbt_rule_new(m.rule),
       "dav: a Destination may exist");
    ok(!bbt_rule_new(NULL) && !bbt_rule_git_object(NULL), "no route, neither");
    bbt_rules_free(git);
    bbt_rules_free(dav);
}

/* The routes of a built-in set name it, so a refusal can be answered the
 * way its clients read one (bbt_rest_refuse.c); a list names the one set
 * its routes came from, BBTokenRoute lines and files beside it aside. */
static void test_builtin_marks(void)
{
    const char *rest = bbt_rules_builtin_name("bitbucket-rest");
    bbt_rules_t *rs = bbt_rules_new();
    char err[BBT_RULES_ERR_MAX];
    bbt_match_t m;
    size_t n;

    ok(rest && strcmp(rest, "bitbucket-rest") == 0 &&
           bbt_rules_builtin_name("git") != rest,
       "bitbucket-rest's own name");
    ok(!bbt_rules_builtin_name("svn") && !bbt_rules_builtin_name(NULL) &&
           !bbt_rules_builtin_name("routes/git.conf"),
       "no set svn, NULL, or a file");
    if (!rs ||
        bbt_rules_add(rs, "GET", "/plugin/(?<project>[A-Z]+)", "PROJECT_READ",
                      NULL, 0, "conf:1", err, sizeof(err)) != 0) {
        bbt_rules_free(rs);
        ok(0, "a BBTokenRoute line: %s", err);
        return;
    }
    ok(!bbt_rules_builtin_only(rs) && !bbt_rules_builtin_only(NULL) &&
           !bbt_rules_builtin_mixed(rs),
       "a BBTokenRoute line alone: no set");
    n = bbt_rules_count(rs);
    ok(bbt_rules_load(rs, bbt_rules_builtin("bitbucket-rest", NULL), "",
                      "routes/bitbucket-rest.conf", err, sizeof(err)) == 0 &&
           bbt_rules_mark_builtin(
               rs, n, bbt_rules_builtin_name("bitbucket-rest")) == 0,
       "bitbucket-rest loaded and marked");
    ok(bbt_rules_builtin_only(rs) == rest && !bbt_rules_builtin_mixed(rs),
       "  the list's one set");
    ok(bbt_rules_match(rs, "GET", "/rest/api/latest/projects/PROJ", NULL, 0,
                       &m) == BBT_ROUTE_MATCH &&
           bbt_rule_builtin(m.rule) == rest,
       "  a route of it names it");
    ok(bbt_rules_match(rs, "GET", "/rest/api/latest/admin/users", NULL, 0,
                       &m) == BBT_ROUTE_NONE &&
           bbt_rule_builtin(m.rule) == rest,
       "  so does a deny route of it");
    ok(bbt_rules_match(rs, "GET", "/plugin/PROJ", NULL, 0, &m) ==
               BBT_ROUTE_MATCH &&
           !bbt_rule_builtin(m.rule),
       "  the line's route names none");
    ok(bbt_rules_match(rs, "GET", "/elsewhere", NULL, 0, &m) ==
               BBT_ROUTE_NONE &&
           !bbt_rule_builtin(m.rule) && !bbt_rule_builtin(NULL),
       "  no route, none");
    ok(bbt_rules_mark_builtin(rs, 0, bbt_rules_builtin_name("svn")) == -1 &&
           bbt_rules_mark_builtin(rs, bbt_rules_count(rs),
                                  bbt_rules_builtin_name("git")) == 0 &&
           bbt_rules_builtin_only(rs) == rest,
       "  no set svn; marking no route changes nothing");
    n = bbt_rules_count(rs);
    ok(bbt_rules_load(rs, bbt_rules_builtin("git", NULL), "/scm",
                      "routes/git.conf", err, sizeof(err)) == 0 &&
           bbt_rules_mark_builtin(rs, n, bbt_rules_builtin_name("git")) == 0 &&
           !bbt_rules_builtin_only(rs) && bbt_rules_builtin_mixed(rs) &&
           !bbt_rules_builtin_mixed(NULL),
       "with git beside it, no one set");
    ok(bbt_rules_match(rs, "GET", "/scm/PROJ/repo.git/info/refs",
                       "service=git-upload-pack", 0, &m) == BBT_ROUTE_MATCH &&
           bbt_rule_builtin(m.rule) == bbt_rules_builtin_name("git"),
       "  a git route names git");
    bbt_rules_free(rs);
}

int main(void)
{
    test_language();
    test_quoted_words();
    test_errors();
    test_prefix();
    test_builtin_files();
    test_dav();
    test_new();
    test_builtin_marks();
    return done_testing();
}
