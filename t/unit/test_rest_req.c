/* What an access-tokens REST request asks: path, paging, JSON, CSRF. */
#include "bbt_rest_req.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

#define P "/rest/access-tokens/"
#define SELF "https://git.example.com"

static void path_is(const char *uri, bbt_rest_shape_t shape, int latest,
                    const char *user, const char *slug, const char *id,
                    const char *name)
{
    bbt_rest_path_t p;
    bbt_rest_shape_t got = bbt_rest_path_parse(uri, &p);

    ok(got == shape && p.shape == shape && p.latest == latest &&
           strcmp(p.user, user) == 0 && strcmp(p.slug, slug) == 0 &&
           strcmp(p.id, id) == 0,
       "%s", name);
    if (got != shape || strcmp(p.user, user) || strcmp(p.slug, slug) ||
        strcmp(p.id, id))
        diag("shape %d latest %d user '%s' slug '%s' id '%s'", (int)got,
             p.latest, p.user, p.slug, p.id);
}

static void not_ours(const char *uri, const char *name)
{
    bbt_rest_path_t p;

    memset(&p, 'x', sizeof(p));
    ok(bbt_rest_path_parse(uri, &p) == BBT_REST_NONE &&
           p.shape == BBT_REST_NONE && p.user[0] == '\0' && p.slug[0] == '\0' &&
           p.id[0] == '\0',
       "not ours: %s", name);
}

static void scope_is(const char *uri, bbt_rest_shape_t shape, const char *key,
                     const char *repo, const char *id, const char *name)
{
    bbt_rest_path_t p;
    bbt_rest_shape_t got = bbt_rest_path_parse(uri, &p);

    ok(got == shape && p.shape == shape && strcmp(p.key, key) == 0 &&
           strcmp(p.repo, repo) == 0 && strcmp(p.id, id) == 0 &&
           p.user[0] == '\0',
       "%s", name);
    if (got != shape || strcmp(p.key, key) || strcmp(p.repo, repo) ||
        strcmp(p.id, id))
        diag("shape %d key '%s' repo '%s' id '%s'", (int)got, p.key, p.repo,
             p.id);
}

static void test_scope_path(void)
{
    scope_is(P "1.0/projects/PROJ", BBT_REST_SCOPE, "PROJ", "", "",
             "a project's tokens");
    scope_is(P "latest/projects/proj/", BBT_REST_SCOPE, "PROJ", "", "",
             "the key canonicalized, trailing slash");
    scope_is(P "1.0/projects/~Alice", BBT_REST_SCOPE, "~alice", "", "",
             "a personal project");
    scope_is(P "1.0/projects/PROJ/123456789012", BBT_REST_SCOPE_TOKEN, "PROJ",
             "", "123456789012", "a project's token");
    scope_is(P "1.0/projects/PROJ/repos/my-repo.x", BBT_REST_SCOPE, "PROJ",
             "my-repo.x", "", "a repository's tokens");
    scope_is(P "latest/projects/Proj/repos/Repo/000000000001/",
             BBT_REST_SCOPE_TOKEN, "PROJ", "Repo", "000000000001",
             "a repository's token; the slug as spelled");
    scope_is(P "1.0/projects/PROJ/repos/123456789012", BBT_REST_SCOPE, "PROJ",
             "123456789012", "", "a slug of 12 digits is a repository");
    scope_is(P "1.0/projects/PROJ/123456789012/rotate", BBT_REST_SCOPE_ROTATE,
             "PROJ", "", "123456789012", "a project's token's rotation");
    scope_is(P "latest/projects/PROJ/repos/one/000000000001/rotate/",
             BBT_REST_SCOPE_ROTATE, "PROJ", "one", "000000000001",
             "a repository's token's rotation, trailing slash");
    scope_is(P "1.0/projects/PROJ/repos/rotate", BBT_REST_SCOPE, "PROJ",
             "rotate", "", "a repository named rotate");
}

static void test_path(void)
{
    char long_user[BBT_USER_MAX + 64];

    path_is(P "1.0/users/alice", BBT_REST_USER, 0, "alice", "alice", "",
            "1.0 user");
    path_is(P "latest/users/alice", BBT_REST_USER, 1, "alice", "alice", "",
            "latest user");
    path_is(P "1.0/users/alice/", BBT_REST_USER, 0, "alice", "alice", "",
            "user with a trailing slash");
    path_is(P "1.0/users/carol.smith_corp", BBT_REST_USER, 0,
            "carol.smith_corp", "carol.smith_corp", "",
            "Bitbucket's slug of carol.smith@corp");
    path_is(P "1.0/users/Carol.Smith@Corp", BBT_REST_USER, 0,
            "Carol.Smith@Corp", "carol.smith_corp", "",
            "the name itself names the same user");
    path_is(P "1.0/users/Alice.B_c@d-e", BBT_REST_USER, 0, "Alice.B_c@d-e",
            "alice.b_c_d-e", "", "as spelled, and its slug");
    path_is(P "1.0/users/alice/123456789012", BBT_REST_TOKEN, 0, "alice",
            "alice", "123456789012", "a token");
    path_is(P "latest/users/Bob/000000000001/", BBT_REST_TOKEN, 1, "Bob", "bob",
            "000000000001", "a token, leading zeros, trailing slash");
    path_is(P "latest/users/alice/123456789012/rotate", BBT_REST_ROTATE, 1,
            "alice", "alice", "123456789012", "a token's rotation");
    path_is(P "1.0/users/alice/123456789012/rotate/", BBT_REST_ROTATE, 0,
            "alice", "alice", "123456789012", "rotation, trailing slash");
    not_ours(P "1.0/users/alice/rotate", "rotate without an id");
    not_ours(P "1.0/users/alice/123456789012/rotatex", "rotate and more");
    not_ours(P "1.0/users/alice/123456789012/Rotate", "Rotate in capitals");
    not_ours(P "1.0/users/alice/123456789012/rotate//", "rotate, two slashes");
    not_ours(P "1.0/users/alice/123456789012/rotate/x", "more after rotate");
    not_ours(P "1.0/users/alice/12345678901/rotate", "rotate, a short id");
    not_ours(P "1.0/users/alice/123456789012//rotate", "two slashes before");
    not_ours(P "1.0/projects/PROJ/123456789012/rotate/123456789012",
             "an id after rotate");

    path_is(P "latest/revoke-by-value", BBT_REST_LEAKED, 1, "", "", "",
            "revoke-by-value");
    path_is(P "1.0/revoke-by-value/", BBT_REST_LEAKED, 0, "", "", "",
            "revoke-by-value, 1.0, trailing slash");
    path_is(P "latest/inventory", BBT_REST_ALL, 1, "", "", "", "inventory");
    path_is(P "1.0/inventory/", BBT_REST_ALL, 0, "", "", "",
            "inventory, 1.0, trailing slash");
    path_is(P "latest/places", BBT_REST_PLACES, 1, "", "", "", "places");
    path_is(P "1.0/places/", BBT_REST_PLACES, 0, "", "", "",
            "places, 1.0, trailing slash");
    not_ours(P "1.0/places/PROJ", "under places");
    not_ours(P "1.0/placesx", "places and more");
    not_ours(P "latest/revoke-by-value//", "revoke-by-value, two slashes");
    not_ours(P "latest/revoke-by-valuex", "revoke-by-value and more");
    not_ours(P "latest/revoke-by-value/x", "under revoke-by-value");
    not_ours(P "latest/inventory/alice", "under inventory");
    not_ours(P "2.0/inventory", "inventory, another version");
    not_ours(P "latest/users/revoke-by-value/inventory", "as a user and id");
    not_ours(NULL, "NULL");
    not_ours("", "empty");
    not_ours("/rest/access-tokens", "the prefix without its slash");
    not_ours(P, "the prefix alone");
    not_ours(P "2.0/users/alice", "another version");
    not_ours(P "1.0/users", "no users/ part");
    not_ours(P "1.0/users/", "no user");
    not_ours(P "1.0/projects", "projects without a key");
    not_ours(P "1.0/projects/", "projects, empty key");
    not_ours(P "1.0/projects/1PROJ", "a key starting with a digit");
    not_ours(P "1.0/projects/PROJ/repos", "repos without a slug");
    not_ours(P "1.0/projects/PROJ/repos/", "repos, empty slug");
    not_ours(P "1.0/projects/PROJ/repos/.x", "a slug starting with a dot");
    not_ours(P "1.0/projects/PROJ/repos/x.git", "a slug ending .git");
    not_ours(P "1.0/projects/PROJ/rep/x", "rep/ for repos/");
    not_ours(P "1.0/projects/PROJ/123", "a short id");
    not_ours(P "1.0/projects/PROJ/repos/x/123456789012/x", "more after the id");
    not_ours(P "1.0/projects/PROJ//", "a project, two trailing slashes");
    not_ours(P "1.0/users/.alice", "user starting with a dot");
    not_ours(P "1.0/users/al ice", "user with a space");
    not_ours(P "1.0/users/al%69ce", "user with a percent sign");
    not_ours(P "1.0/users//123456789012", "empty user before an id");
    not_ours(P "1.0/users/alice/123", "short id");
    not_ours(P "1.0/users/alice/1234567890123", "long id");
    not_ours(P "1.0/users/alice/12345678901x", "id with a letter");
    not_ours(P "1.0/users/alice//", "two trailing slashes");
    not_ours(P "1.0/users/alice/123456789012//", "id and two slashes");
    not_ours(P "1.0/users/alice/123456789012/x", "more after the id");
    not_ours(P "1.0/users/alice/open", "a word for an id");
    not_ours("/REST/access-tokens/1.0/users/alice", "prefix in another case");
    not_ours("/x" P "1.0/users/alice", "prefix not at the start");

    memset(long_user, 'a', sizeof(long_user));
    memcpy(long_user, P "1.0/users/", sizeof(P "1.0/users/") - 1);
    long_user[sizeof(P "1.0/users/") - 1 + BBT_USER_MAX] = '\0';
    {
        bbt_rest_path_t p;

        ok(bbt_rest_path_parse(long_user, &p) == BBT_REST_USER &&
               strlen(p.user) == BBT_USER_MAX && strlen(p.slug) == BBT_USER_MAX,
           "a user name of the longest length");
    }
    long_user[sizeof(P "1.0/users/") - 1 + BBT_USER_MAX] = 'a';
    long_user[sizeof(P "1.0/users/") + BBT_USER_MAX] = '\0';
    not_ours(long_user, "a user name one byte too long");
}

/* start and limit are decoded values (NULL: absent): the handler's glue
 * reads and decodes the query (bbt_rest_args.c), and this reads no
 * query string at all. */
static void page_is(const char *start, const char *limit, long s_want,
                    long l_want, const char *name)
{
    long s = -7, l = -7;
    int rc = bbt_rest_page_args(start, limit, &s, &l);

    ok(rc == 0 && s == s_want && l == l_want, "%s", name);
    if (rc != 0 || s != s_want || l != l_want)
        diag("rc %d start %ld limit %ld", rc, s, l);
}

static void page_bad(const char *start, const char *limit, const char *name)
{
    long s, l;

    ok(bbt_rest_page_args(start, limit, &s, &l) == -1, "refused: %s", name);
}

static void test_page(void)
{
    page_is(NULL, NULL, 0, 25, "neither: start 0, limit 25");
    page_is("5", "10", 5, 10, "both");
    page_is(NULL, "2", 0, 2, "a limit alone");
    page_is("3", NULL, 3, 25, "a start alone");
    page_is(NULL, "0", 0, 25, "limit 0: the default");
    page_is(NULL, "1000", 0, 1000, "limit 1000");
    page_is(NULL, "1001", 0, 1000, "limit over 1000: 1000");
    page_is(NULL, "999999999", 0, 1000, "limit of 9 digits: 1000");
    page_is("999999999", NULL, 999999999, 25, "start of 9 digits");
    page_is("007", NULL, 7, 25, "leading zeros");

    page_bad("-1", NULL, "negative start");
    page_bad(NULL, "-1", "negative limit");
    page_bad("", NULL, "empty start (an argument without =)");
    page_bad(NULL, "", "empty limit");
    page_bad("+1", NULL, "a plus sign");
    page_bad(" 1", NULL, "a space (what a + decodes to)");
    page_bad("1 ", NULL, "a trailing space");
    page_bad("1x", NULL, "trailing letter");
    page_bad("0x10", NULL, "hexadecimal");
    page_bad("1=2", NULL, "a second =");
    page_bad("%31", NULL, "an escape is not decoded twice");
    page_bad("1000000000", NULL, "ten digits");
    page_bad(NULL, "99999999999999999999999", "a huge number");
    page_bad("1", "x", "a bad limit beside a good start");
    page_bad("x", "1", "a bad start beside a good limit");
    page_bad("\xd9\xa1", NULL, "a non-ASCII digit (ARABIC-INDIC ONE)");
}

static void test_json(void)
{
    ok(bbt_rest_is_json("application/json"), "application/json");
    ok(bbt_rest_is_json("Application/JSON"), "any case");
    ok(bbt_rest_is_json("application/json;charset=UTF-8"), "with a charset");
    ok(bbt_rest_is_json("application/json ; charset=UTF-8"),
       "a space before ;");
    ok(!bbt_rest_is_json(NULL), "no Content-Type");
    ok(!bbt_rest_is_json(""), "empty");
    ok(!bbt_rest_is_json("text/plain"), "text/plain");
    ok(!bbt_rest_is_json("application/jsonx"), "application/jsonx");
    ok(!bbt_rest_is_json("application/json-patch+json"), "json-patch");
    ok(!bbt_rest_is_json("application/x-www-form-urlencoded"), "a form");
    ok(!bbt_rest_is_json(" application/json"), "a leading space");
    ok(bbt_rest_is_json("application/json\t; charset=UTF-8"), "a tab before ;");
    ok(bbt_rest_is_json("application/json \t"), "white space after it");
    ok(!bbt_rest_is_json("application/json x"), "a word after a space");
    ok(!bbt_rest_is_json("application/json\tx"), "a word after a tab");
}

/* bbt_rest_csrf_ok without Sec-Fetch-Site, as scripts send it. */
static int csrf(const char *method, const char *origin, const char *self,
                const char *token, const char *ct)
{
    return bbt_rest_csrf_ok(method, origin, self, NULL, NULL, NULL, token, ct,
                            NULL);
}

static void test_csrf(void)
{
    const char *json = "application/json";

    ok(csrf("GET", NULL, SELF, NULL, NULL), "GET: always");
    ok(csrf("GET", "https://evil.example", SELF, NULL, NULL),
       "GET from another site: changes nothing, allowed");
    ok(csrf("HEAD", "https://evil.example", SELF, NULL, NULL), "HEAD likewise");
    ok(bbt_rest_csrf_ok("GET", NULL, SELF, NULL, NULL, "cross-site", NULL, NULL,
                        NULL),
       "GET with Sec-Fetch-Site cross-site: allowed");
    ok(!csrf(NULL, NULL, SELF, "no-check", json), "no method");

    ok(csrf("PUT", NULL, SELF, NULL, json), "PUT with JSON");
    ok(csrf("POST", NULL, SELF, NULL, "application/json;charset=UTF-8"),
       "POST with JSON and a charset");
    ok(!csrf("PUT", NULL, SELF, NULL, "text/plain"),
       "PUT text/plain (a cross-site form): refused");
    ok(!csrf("POST", NULL, SELF, NULL, NULL),
       "POST without Content-Type: refused");
    ok(!csrf("POST", NULL, SELF, NULL, "application/x-www-form-urlencoded"),
       "POST of a form: refused");
    ok(csrf("PUT", NULL, SELF, "no-check", "text/plain"),
       "PUT text/plain with X-Atlassian-Token (the body check is later)");
    ok(csrf("POST", NULL, SELF, "No-Check", NULL),
       "X-Atlassian-Token in any case");
    ok(csrf("POST", NULL, SELF, "nocheck", "text/plain") ==
           BBT_REST_CSRF_NOCHECK,
       "X-Atlassian-Token: nocheck, Bitbucket's deprecated spelling: "
       "allowed, and told apart (the handler warns)");
    ok(csrf("PUT", NULL, SELF, "NoCheck", NULL) == BBT_REST_CSRF_NOCHECK,
       "  in any case");
    ok(csrf("POST", NULL, SELF, "no-check", "text/plain") == BBT_REST_CSRF_OK,
       "  no-check is not told apart");
    ok(csrf("PUT", NULL, SELF, "nocheck", json) == BBT_REST_CSRF_OK,
       "  nocheck where JSON lets it through anyway: not told apart");
    ok(csrf("DELETE", NULL, SELF, "nocheck", NULL) == BBT_REST_CSRF_OK,
       "  nor on a DELETE, which needs no header");
    ok(csrf("GET", NULL, SELF, "nocheck", NULL) == BBT_REST_CSRF_OK,
       "  nor on a GET");
    ok(!csrf("POST", "https://evil.example", SELF, "nocheck", "text/plain"),
       "  nocheck from another Origin: refused");
    ok(!bbt_rest_csrf_ok("POST", NULL, SELF, NULL, NULL, "cross-site",
                         "nocheck", NULL, NULL),
       "  nocheck with Sec-Fetch-Site cross-site: refused");
    {
        static const char *const near[] = {"nocheckx",
                                           "xnocheck",
                                           "no_check",
                                           "no check",
                                           "nocheck ",
                                           " nocheck",
                                           "no-check ",
                                           "no-check x",
                                           "no-checkx",
                                           "nocheck,",
                                           "nocheck, no-check",
                                           "no-check, nocheck",
                                           "nocheck\t",
                                           "check",
                                           "no",
                                           "-",
                                           "",
                                           "true",
                                           "NOCHECKS"};
        size_t i;

        for (i = 0; i < sizeof(near) / sizeof(near[0]); i++) {
            ok(!csrf("POST", NULL, SELF, near[i], "text/plain"),
               "X-Atlassian-Token \"%s\" (no other value): refused", near[i]);
        }
    }

    ok(csrf("DELETE", NULL, SELF, NULL, NULL),
       "DELETE from a script, no header at all: allowed");
    ok(csrf("DELETE", NULL, SELF, NULL, json),
       "DELETE with only a JSON Content-Type (Eclipse Che): allowed");
    ok(csrf("DELETE", NULL, SELF, NULL, "text/plain"),
       "DELETE with any Content-Type: allowed (a preflight guards it)");
    ok(csrf("DELETE", NULL, SELF, "no-check", NULL),
       "DELETE with X-Atlassian-Token");
    ok(csrf("DELETE", SELF, SELF, NULL, NULL),
       "DELETE from this site's Origin, without the header");
    ok(!csrf("DELETE", "https://evil.example", SELF, NULL, NULL),
       "DELETE from another Origin: refused");
    ok(!csrf("DELETE", "https://evil.example", SELF, "no-check", NULL),
       "  even with X-Atlassian-Token");
    ok(!csrf("DELETE", "null", SELF, NULL, json),
       "DELETE with Origin null (a sandboxed page, a redirect): refused");
    ok(!csrf("PATCH", NULL, SELF, NULL, "text/plain"),
       "another method with a body: as POST");

    ok(csrf("PUT", SELF, SELF, NULL, json), "PUT from this site's Origin");
    ok(csrf("PUT", "HTTPS://GIT.example.com", SELF, NULL, json),
       "  the Origin in another case");
    ok(!csrf("PUT", "https://evil.example", SELF, NULL, json),
       "PUT with JSON from another Origin: refused");
    ok(!csrf("PUT", "http://git.example.com", SELF, NULL, json),
       "another scheme: refused");
    ok(!csrf("PUT", SELF ":8443", SELF, NULL, json), "another port: refused");
    ok(!csrf("PUT", SELF "/", SELF, NULL, json),
       "an Origin with a path: refused");
    ok(!csrf("PUT", "null", SELF, "no-check", json),
       "Origin null (a sandboxed page): refused");
    ok(!csrf("PUT", "", SELF, "no-check", json), "an empty Origin: refused");
    ok(!csrf("PUT", SELF, NULL, "no-check", json),
       "an Origin when our own URL is unknown: refused");

    ok(bbt_rest_csrf_ok("DELETE", SELF, SELF, NULL, NULL, "same-origin", NULL,
                        NULL, NULL),
       "Sec-Fetch-Site same-origin: allowed");
    ok(bbt_rest_csrf_ok("PUT", NULL, SELF, NULL, NULL, "Same-Origin", NULL,
                        json, NULL),
       "  in any case");
    ok(!bbt_rest_csrf_ok("DELETE", NULL, SELF, NULL, NULL, "cross-site", NULL,
                         NULL, NULL),
       "Sec-Fetch-Site cross-site, no Origin: refused");
    ok(!bbt_rest_csrf_ok("DELETE", SELF, SELF, NULL, NULL, "same-site",
                         "no-check", NULL, NULL),
       "Sec-Fetch-Site same-site (a sibling host): refused");
    ok(!bbt_rest_csrf_ok("PUT", NULL, SELF, NULL, NULL, "none", NULL, json,
                         NULL),
       "Sec-Fetch-Site none: refused");
    ok(!bbt_rest_csrf_ok("DELETE", NULL, SELF, NULL, NULL, "", NULL, NULL,
                         NULL),
       "an empty Sec-Fetch-Site: refused");
}

/* A browser that sends no Origin still names the page in Referer. */
static int csrf_ref(const char *method, const char *origin, const char *referer)
{
    return bbt_rest_csrf_ok(method, origin, SELF, NULL, NULL, NULL, "no-check",
                            "application/json", referer);
}

static void test_csrf_referer(void)
{
    ok(csrf_ref("PUT", NULL, SELF "/account/tokens/"),
       "no Origin, a Referer of this site: allowed");
    ok(csrf_ref("PUT", NULL, SELF), "  this site's URL alone");
    ok(csrf_ref("PUT", NULL, "HTTPS://GIT.EXAMPLE.COM/x"), "  in another case");
    ok(!csrf_ref("PUT", NULL, "https://evil.example/page"),
       "no Origin, a Referer from another site: refused");
    ok(!csrf_ref("DELETE", NULL, "https://evil.example/"),
       "  a DELETE likewise");
    ok(!csrf_ref("POST", NULL, "https://evil.example/"), "  a POST likewise");
    ok(!csrf_ref("PUT", NULL, SELF ".evil.example/"),
       "  a host that only starts as ours");
    ok(!csrf_ref("PUT", NULL, SELF ":8443/"), "  another port");
    ok(!csrf_ref("PUT", NULL, "http://git.example.com/"), "  another scheme");
    ok(!csrf_ref("PUT", NULL, SELF "@evil.example/"), "  user info");
    ok(!csrf_ref("PUT", NULL, "https://sub.git.example.com/"),
       "  a sibling host");
    ok(!csrf_ref("PUT", NULL, ""), "  an empty Referer");
    ok(!bbt_rest_csrf_ok("PUT", NULL, NULL, NULL, NULL, NULL, "no-check",
                         "application/json", SELF "/"),
       "  our own URL unknown");
    ok(csrf_ref("PUT", SELF, "https://evil.example/"),
       "this site's Origin decides over the Referer");
    ok(csrf_ref("GET", NULL, "https://evil.example/"),
       "GET from another site's page: changes nothing, allowed");
}

/* httpd behind a port mapping (80 to 8080) or a TLS terminator: its own
 * URL names the port it listens on, the browser's Origin and Host the
 * public one.  A DELETE needs nothing else, so the site alone decides. */
#define INNER "http://tokens.example.com:8080"

static int by_host(const char *origin, const char *host, const char *scheme)
{
    return bbt_rest_csrf_ok("DELETE", origin, INNER, host, scheme, NULL, NULL,
                            NULL, NULL);
}

static int by_host_ref(const char *referer, const char *host,
                       const char *scheme)
{
    return bbt_rest_csrf_ok("DELETE", NULL, INNER, host, scheme, NULL, NULL,
                            NULL, referer);
}

static void test_csrf_host(void)
{
    const char *pub = "tokens.example.com";

    ok(by_host("http://tokens.example.com", pub, "http"),
       "Host without a port, an http Origin: port 80 on both sides");
    ok(by_host("https://tokens.example.com", pub, "http"),
       "  an https Origin through a TLS terminator: port 443");
    ok(by_host("https://tokens.example.com", pub, "https"),
       "  an https Origin, TLS in httpd (443 mapped to 8443)");
    ok(by_host("https://tokens.example.com", "tokens.example.com:443", "http"),
       "Host with the default port written out");
    ok(by_host("https://tokens.example.com:443", pub, "https"),
       "an Origin with the default port written out");
    ok(by_host("http://tokens.example.com:8081", "tokens.example.com:8081",
               "http"),
       "another port on both sides");
    ok(by_host("https://tokens.example.com:8443", "tokens.example.com:8443",
               "http"),
       "  an https Origin's");
    ok(by_host("HTTPS://Tokens.Example.COM", "tokens.EXAMPLE.com", "HTTP"),
       "scheme and host names in any case");
    ok(by_host("http://192.0.2.1:8081", "192.0.2.1:8081", "http"),
       "an IPv4 address");
    ok(by_host("https://[2001:db8::1]", "[2001:db8::1]", "http"),
       "an IPv6 literal");
    ok(by_host("http://[::1]:8081", "[::1]:8081", "http"), "  with a port");
    ok(by_host("https://[2001:DB8::A]", "[2001:db8::a]", "https"),
       "  in any case");
    ok(by_host("https://[::ffff:192.0.2.1]", "[::ffff:192.0.2.1]", "http"),
       "  with an IPv4 tail");
    ok(by_host(INNER, pub, "http"), "httpd's own URL still is ours");
    ok(by_host(INNER, NULL, "http"), "  without a Host");

    ok(!by_host("http://tokens.example.com", pub, "https"),
       "an http page, an https request: refused");
    ok(!by_host("http://tokens.example.com", pub, NULL),
       "an http page, the request's scheme unknown: refused");
    ok(!by_host("https://evil.example", pub, "http"), "another host: refused");
    ok(!by_host("https://evil.example", "evil.example:8080", "http"),
       "  even when httpd's own port is in its Host");
    ok(!by_host("https://tokens.example.com", "tokens.example.com:8080",
                "http"),
       "Host's port not the Origin's (443): refused");
    ok(!by_host("http://tokens.example.com:8081", pub, "http"),
       "an Origin's port where Host has none (80): refused");
    ok(!by_host("https://tokens.example.com:80", pub, "http"),
       "  port 80 of an https Origin: refused");
    ok(!by_host("http://tokens.example.com", "tokens.example.com:443", "http"),
       "  Host's 443 for an http Origin: refused");
    ok(!by_host("https://tokens.example.com.evil.example", pub, "http"),
       "a host that only starts as ours: refused");
    ok(!by_host("https://tokens.example.co", pub, "http"),
       "a host that is only the start of the Host's: refused");
    ok(!by_host("https://tokens", pub, "http"), "  its first label alone");
    ok(!by_host("https://tokens.example.c:8443", "tokens.example.com:8443",
                "http"),
       "  with the same port on both sides");
    ok(!by_host("https://sub.tokens.example.com", pub, "http"),
       "a sibling host: refused");
    ok(!by_host("https://tokens.example.com", "sub.tokens.example.com", "http"),
       "  the other way round");
    ok(!by_host("null", "null", "http"), "Origin null, even with Host null");
    ok(!by_host("https://tokens.example.com/", pub, "http"),
       "an Origin with a path: refused");
    ok(!by_host("https://alice@tokens.example.com", pub, "http"),
       "an Origin with user info: refused");
    ok(!by_host("https://", "", "http"), "an Origin without a host: refused");
    ok(!by_host("ftp://tokens.example.com", pub, "http"),
       "another scheme: refused");
    ok(!by_host("tokens.example.com", pub, "http"),
       "an Origin without a scheme: refused");
    ok(!by_host("https://[::1]", "::1", "http"),
       "an IPv6 Host without brackets: refused");

    ok(!by_host("https://tokens.example.com", NULL, "http"),
       "no Host: refused");
    {
        static const char *const bad[] = {
            "",
            ":443",
            "tokens.example.com:",
            "tokens.example.com:x",
            "tokens.example.com:443x",
            "tokens.example.com:443:443",
            "tokens.example.com:0443",
            "tokens.example.com:65979",
            "tokens.example.com:4430000",
            "tokens.example.com ",
            " tokens.example.com",
            "tokens example.com",
            "tokens.example.com/",
            "tokens.example.com/x",
            "tokens.example.com?",
            "tokens.example.com#",
            "tokens.example.com,evil.example",
            "alice@tokens.example.com",
            "tokens.example.com@tokens.example.com",
            "tokens.example.com\r\nX: y",
            "tokens.example.com%2e",
        };
        size_t i;

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            ok(!by_host("https://tokens.example.com", bad[i], "http"),
               "a malformed Host: refused: '%s'", bad[i]);
        }
    }
    {
        static const char *const bad6[] = {
            "[::1",   "[]",        "[::1]x",
            "[::1]:", "[::1]:0",   "[fe80::1%25eth0]",
            "[v1.x]", "[1.2.3.4]", "[::1]]",
            "[[::1]",
        };
        size_t i;

        for (i = 0; i < sizeof(bad6) / sizeof(bad6[0]); i++) {
            ok(!by_host("https://[::1]", bad6[i], "http"),
               "a malformed IPv6 Host: refused: '%s'", bad6[i]);
        }
    }
    ok(by_host("https://tokens.example.com:65535", "tokens.example.com:65535",
               "http"),
       "the highest port");

    ok(by_host_ref("https://tokens.example.com/account/tokens/", pub, "http"),
       "no Origin, a Referer of the Host's https page: allowed");
    ok(by_host_ref("https://tokens.example.com", pub, "http"),
       "  the site alone");
    ok(by_host_ref("http://tokens.example.com:8081/x",
                   "tokens.example.com:8081", "http"),
       "  with a port");
    ok(by_host_ref("https://[2001:db8::1]/x", "[2001:db8::1]", "http"),
       "  an IPv6 literal");
    ok(by_host_ref(INNER "/account/tokens/", pub, "http"),
       "  httpd's own URL still is ours");
    ok(!by_host_ref("https://tokens.example.com.evil.example/", pub, "http"),
       "a Referer that only starts as ours: refused");
    ok(!by_host_ref("https://tokens.example.co/account/tokens/", pub, "http"),
       "a Referer whose host is only the start of the Host's: refused");
    ok(!by_host_ref("https://tokens.example.com@evil.example/", pub, "http"),
       "  ours and user info: refused");
    ok(!by_host_ref("https://evil.example@tokens.example.com/", pub, "http"),
       "  user info and ours: refused");
    ok(!by_host_ref("https://tokens.example.com:8443/", pub, "http"),
       "  another port: refused");
    ok(!by_host_ref("http://tokens.example.com/", pub, "https"),
       "  an http page, an https request: refused");
    ok(!by_host_ref("https://tokens.example.com?x", pub, "http"),
       "  a query without a path: refused");
    ok(!by_host_ref("https://evil.example/https://tokens.example.com/", pub,
                    "http"),
       "  ours in another site's path: refused");
    ok(!by_host_ref("tokens.example.com/x", pub, "http"),
       "  no scheme: refused");
    ok(!by_host_ref("https://tokens.example.com/", NULL, "http"),
       "  no Host: refused");
    ok(bbt_rest_csrf_ok("DELETE", "https://tokens.example.com", INNER, pub,
                        "http", NULL, NULL, NULL, "https://evil.example/"),
       "the Host's Origin decides over the Referer");
    ok(!bbt_rest_csrf_ok("DELETE", "https://tokens.example.com", INNER, pub,
                         "http", "cross-site", NULL, NULL, NULL),
       "a Host's Origin with Sec-Fetch-Site cross-site: refused");
    ok(!bbt_rest_csrf_ok("POST", "https://tokens.example.com", INNER, pub,
                         "http", NULL, NULL, "text/plain", NULL),
       "a Host's Origin still needs JSON for a POST");
}

int main(void)
{
    test_path();
    test_scope_path();
    test_page();
    test_json();
    test_csrf();
    test_csrf_referer();
    test_csrf_host();
    return done_testing();
}
