/* @PREFIX@ wherever a route line may hold it: without a prefix (a route
 * file loaded without one, a single BBTokenRoute) it is refused in any
 * word; with one it is the prefix as a regex in PATTERN and query=, the
 * prefix itself in json='s VALUE (compared as text), and refused in
 * every other word, none of which a URL prefix can be part of. */
#include "bbt_body.h"
#include "bbt_rules.h"
#include "tap.h"

#include <stdio.h>
#include <string.h>

#define ROUTE "BBTokenRoute GET \"/x/(?<project>[A-Z]+)\" PROJECT_READ "

/* text loaded under prefix is refused, with a message holding want. */
static void refused(const char *text, const char *prefix, const char *want)
{
    char err[BBT_RULES_ERR_MAX] = "";
    bbt_rules_t *rs = bbt_rules_new();

    ok(bbt_rules_load(rs, text, prefix, "t", err, sizeof(err)) == -1 &&
           strstr(err, want),
       "refused under %s: %.*s", prefix ? prefix : "no prefix",
       (int)strcspn(text, "\n"), text);
    if (!strstr(err, want))
        diag("got: %s", err);
    bbt_rules_free(rs);
}

static bbt_rules_t *loaded(const char *text, const char *prefix)
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

/* GET /x/PROJ with args and the JSON body json (NULL: none). */
static bbt_route_result_t get(const bbt_rules_t *rs, const char *args,
                              const char *json)
{
    bbt_body_t *b = NULL;
    bbt_match_t m;
    bbt_route_result_t rv;
    char err[160];

    if (json && bbt_body_parse(json, strlen(json), &b, err, sizeof(err)))
        return (bbt_route_result_t)-1;
    rv = bbt_rules_match_body(rs, "GET", "/x/PROJ", args, 0, b, &m);
    bbt_body_free(b);
    return rv;
}

static void test_no_prefix(void)
{
    static const char *const lines[] = {
        ROUTE "query=p=@PREFIX@\n",
        ROUTE "json=v:@PREFIX@\n",
        "BBTokenRoute GET \"@PREFIX@/(?<project>[A-Z]+)\" PROJECT_READ\n",
    };
    char err[BBT_RULES_ERR_MAX];
    const char *opts[] = {"query=p=@PREFIX@"};
    bbt_rules_t *rs;
    size_t i;

    for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        refused(lines[i], NULL, "t:1: @PREFIX@ without a prefix");
    /* BBTokenRoute, in httpd's configuration, has no prefix at all. */
    rs = bbt_rules_new();
    ok(bbt_rules_add(rs, "GET", "/x/(?<project>[A-Z]+)", "PROJECT_READ", opts,
                     1, "httpd.conf:7", err, sizeof(err)) == -1 &&
           strstr(err, "httpd.conf:7: @PREFIX@ without a prefix") &&
           strstr(err, "BBTokenRoute has none") &&
           strstr(err, "'query=p=@PREFIX@'"),
       "a single route with @PREFIX@ in query= is refused, saying why");
    is_int((long long)bbt_rules_count(rs), 0, "  and adds nothing");
    bbt_rules_free(rs);

    /* A comment is no route: the shipped sets speak of @PREFIX@ there. */
    rs = loaded("# @PREFIX@/{KEY}\n" ROUTE "query=\n", NULL);
    ok(rs && bbt_rules_count(rs) == 1, "a comment may say @PREFIX@");
    bbt_rules_free(rs);
}

static void test_prefix(void)
{
    bbt_rules_t *rs =
        loaded(ROUTE "query=p=@PREFIX@\n"
                     "BBTokenRoute POST \"@PREFIX@/(?<project>"
                     "[A-Z]+)\" PROJECT_WRITE json=v:@PREFIX@/x\n"
                     "BBTokenRoute GET,POST /x/(?<project>[A-Z]+) "
                     "PROJECT_ADMIN json=v:@PREFIX@\n",
               "/a.b");
    bbt_match_t m;

    if (!rs)
        return;
    ok(get(rs, "p=/a.b", NULL) == BBT_ROUTE_MATCH,
       "query=: the prefix, a regex");
    ok(get(rs, "p=/aXb", NULL) == BBT_ROUTE_NEED_BODY, "  its dot escaped");
    ok(bbt_rules_match(rs, "POST", "/a.b/PROJ", NULL, 0, &m) ==
           BBT_ROUTE_NEED_BODY,
       "PATTERN: the prefix, a regex");
    ok(bbt_rules_match(rs, "POST", "/aXb/PROJ", NULL, 0, &m) == BBT_ROUTE_NONE,
       "  its dot escaped");
    ok(get(rs, NULL, "{\"v\":\"/a.b\"}") == BBT_ROUTE_MATCH,
       "json=: VALUE holds the prefix as it is");
    ok(get(rs, NULL, "{\"v\":\"/a\\\\.b\"}") == BBT_ROUTE_NONE,
       "  not escaped as a regex");
    ok(get(rs, NULL, "{\"v\":\"/aXb\"}") == BBT_ROUTE_NONE,
       "  and compared as text");
    {
        bbt_body_t *b = NULL;
        char err[160];
        const char *s = "{\"v\":\"/a.b/x\"}";

        ok(!bbt_body_parse(s, strlen(s), &b, err, sizeof(err)) &&
               bbt_rules_match_body(rs, "POST", "/a.b/PROJ", NULL, 0, b, &m) ==
                   BBT_ROUTE_MATCH,
           "  with the text around it");
        bbt_body_free(b);
    }
    bbt_rules_free(rs);
}

/* Words a URL prefix can never be part of: refused, with a prefix or
 * without, saying where @PREFIX@ may stand. */
static void test_nowhere_else(void)
{
    static const char *const lines[] = {
        "BBTokenRoute GET /x PROJECT_READ project=@PREFIX@\n",
        ROUTE "token=@PREFIX@\n",
        "BBTokenRoute POST /x/(?<project>[A-Z]+) PROJECT_READ "
        "body-project=@PREFIX@:PROJECT_ADMIN\n",
        ROUTE "query-repo=@PREFIX@\n",
        ROUTE "body-repo=@PREFIX@\n",
        ROUTE "json=@PREFIX@:v\n",
        ROUTE "@PREFIX@\n",
        "BBTokenRoute GET,@PREFIX@ /x/(?<project>[A-Z]+) PROJECT_READ\n",
        "BBTokenRoute GET /x/(?<project>[A-Z]+) PROJECT_@PREFIX@\n",
    };
    size_t i;

    for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        refused(lines[i], "/scm",
                "t:1: @PREFIX@ stands only in PATTERN, in query= and in "
                "json='s VALUE, not in");
        refused(lines[i], NULL, "t:1: @PREFIX@ stands only in");
    }
}

int main(void)
{
    test_no_prefix();
    test_prefix();
    test_nowhere_else();
    return done_testing();
}
