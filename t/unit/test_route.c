/* Git route matcher tests: every endpoint, and every hostile spelling. */
#include "bbt_route.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

#define H38 "2d711642b726b04401627ca9fbac32f5c8530f"
#define H40 "711642b726b04401627ca9fbac32f5c8530fb190"
#define H62 "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a48"
#define H64 "d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881a"

_Static_assert(sizeof(H38) == 39 && sizeof(H40) == 41 && sizeof(H62) == 63 &&
                   sizeof(H64) == 65,
               "hex fixtures have the right lengths");

#define R BBT_LEVEL_READ
#define W BBT_LEVEL_WRITE

#define REPO "/scm/PROJ/repo.git/"

static void match(const char *prefix, const char *method, const char *path,
                  const char *args, const char *key, const char *slug,
                  bbt_level_t level)
{
    bbt_target_t t;
    bbt_route_result_t rv;

    memset(&t, 0x5a, sizeof(t));
    rv = bbt_route_git(prefix, method, path, args, &t);
    ok(rv == BBT_ROUTE_MATCH && t.need.scope == BBT_SCOPE_REPO &&
           t.need.level == level && strcmp(t.key, key) == 0 &&
           strcmp(t.slug, slug) == 0 && t.why == NULL,
       "%s %s%s%s -> %s %s/%s", method, path, args ? "?" : "", args ? args : "",
       level == R ? "REPO_READ" : "REPO_WRITE", key, slug);
    if (rv != BBT_ROUTE_MATCH)
        diag("no match: %s", t.why ? t.why : "(no reason)");
    else if (t.need.level != level || strcmp(t.key, key) ||
             strcmp(t.slug, slug))
        diag("got level %d key '%s' slug '%s'", (int)t.need.level, t.key,
             t.slug);
}

static void none(const char *prefix, const char *method, const char *path,
                 const char *args, const char *name)
{
    bbt_target_t t;
    bbt_route_result_t rv;

    memset(&t, 0x5a, sizeof(t));
    rv = bbt_route_git(prefix, method, path, args, &t);
    ok(rv == BBT_ROUTE_NONE && t.why != NULL && *t.why && strlen(t.why) < 60 &&
           t.key[0] == '\0' && t.slug[0] == '\0' &&
           t.need.level == BBT_LEVEL_NONE,
       "refused: %s", name);
    if (rv == BBT_ROUTE_MATCH)
        diag("matched key '%s' slug '%s' level %d", t.key, t.slug,
             (int)t.need.level);
}

/* Shorthand for the usual prefix. */
#define M(method, path, args, key, slug, level)                                \
    match("/scm", method, path, args, key, slug, level)
#define X(method, path, args, name) none("/scm", method, path, args, name)

/* Spellings the old hand-written matcher refused with its own reasons: the
 * git route set (routes/git.conf) refuses every one of them too. */
static void test_reasons(void)
{
    static const char *const paths[] = {
        "/scm/PROJ/re%2Fpo.git/HEAD",      "/scm/PROJ/repo.git/HEAD%00",
        "/scm/PROJ/repo.git/HEAD\xc3\xa4", "/scm/PROJ/repo.git/../x.git/HEAD",
        "/scm/PROJ/repo.git/./HEAD",       "/scm/PROJ/repo.git/objects/..",
        "/scm/PROJ/./repo.git/HEAD",       "/scm/PROJ//repo.git/HEAD",
        "/scm/PROJ/repo.git//HEAD",        "/scm//PROJ/repo.git/HEAD",
        "/scm/PROJ/repo.git/info/refs/",   "/scm/PROJ/repo.git/",
        "/scm/PROJ/repo.git/config",       "/scm/PROJ/repo.GIT/HEAD",
        "/scm/PROJ/x.git.git/HEAD",        "/scm/1PROJ/x.git/HEAD",
        "/scmx/PROJ/x.git/HEAD",
    };
    size_t i;

    for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        none("/scm", "GET", paths[i], NULL, paths[i]);
    none("/scm", "GET", "/scm/PROJ/repo.git/HEAD", "x", "query on HEAD");
}

/* git http-push over WebDAV: what it sends, and what it must not. */
static void test_dumb_push(void)
{
    bbt_target_t t;
    const char *lock = "_" H40;

    match("/scm", "PROPFIND", REPO, NULL, "PROJ", "repo", R);
    match("/scm", "PROPFIND", REPO "refs/", NULL, "PROJ", "repo", R);
    match("/scm", "PROPFIND", REPO "refs/heads/", NULL, "PROJ", "repo", R);
    match("/scm", "MKCOL", REPO "refs/heads/", NULL, "PROJ", "repo", W);
    match("/scm", "MKCOL", REPO "objects/2d/", NULL, "PROJ", "repo", W);
    match("/scm", "LOCK", REPO "refs/heads/main", NULL, "PROJ", "repo", W);
    match("/scm", "UNLOCK", REPO "info/refs", NULL, "PROJ", "repo", W);
    match("/scm", "PUT", REPO "refs/heads/main", NULL, "PROJ", "repo", W);
    match("/scm", "PUT", REPO "info/refs", NULL, "PROJ", "repo", W);
    {
        char p[300];

        snprintf(p, sizeof(p), REPO "objects/2d/" H38 "%s", lock);
        match("/scm", "PUT", p, NULL, "PROJ", "repo", W);
        match("/scm", "MOVE", p, NULL, "PROJ", "repo", W);
        match("/scm", "DELETE", p, NULL, "PROJ", "repo", W);
    }
    match("/scm", "DELETE", REPO "refs/heads/topic", NULL, "PROJ", "repo", W);
    /* Never anything that runs code or borrows objects. */
    X("PUT", REPO "config", NULL, "PUT config");
    X("PUT", REPO "hooks/post-update", NULL, "PUT a hook");
    X("MKCOL", REPO "hooks/", NULL, "MKCOL hooks/");
    X("PUT", REPO "objects/info/alternates", NULL, "PUT alternates");
    X("PUT", REPO "objects/info/http-alternates", NULL, "PUT http-alternates");
    X("PUT", REPO "description", NULL, "PUT description");
    X("DELETE", REPO "info/refs", NULL, "DELETE info/refs");
    X("DELETE", REPO "objects/2d/" H38, NULL, "DELETE an object");
    X("MOVE", REPO "refs/heads/main", NULL, "MOVE a ref");
    X("LOCK", REPO "config", NULL, "LOCK config");
    X("PROPPATCH", REPO "refs/heads/main", NULL, "PROPPATCH");
    X("PUT", REPO "refs/heads/main", "x", "PUT with a query");
    /* Nothing under refs/ that git-http-backend would serve from a
     * repository of the writer's making there. */
    match("/scm", "GET", REPO "refs/heads/x/main", NULL, "PROJ", "repo", R);
    X("GET", REPO "refs/heads/x/info/refs", NULL, "GET refs/.../info/refs");
    X("HEAD", REPO "refs/heads/x/HEAD", NULL, "HEAD refs/.../HEAD");
    X("GET", REPO "refs/HEAD", NULL, "GET refs/HEAD");
    X("GET", REPO "refs/heads/x/objects/info/packs", NULL,
      "GET refs/.../objects/info/packs");
    X("GET", REPO "refs/heads/x/objects/2d/" H38, NULL,
      "GET refs/.../objects/XX/...");
    X("MKCOL", "/scm/PROJ/new.git/", NULL, "MKCOL a repository");
    X("PUT", "/scm/PROJ/new.git", NULL, "PUT a repository");
    X("PROPFIND", "/scm/PROJ/", NULL, "PROPFIND a project");
    /* A MOVE's source is not a destination, and the reverse. */
    X("MOVE", REPO "objects/2d/" H38, NULL, "MOVE from a final object name");
    ok(bbt_route_git("/scm", "COPY", REPO "objects/2d/" H38, NULL, &t) ==
           BBT_ROUTE_NONE,
       "COPY refused");
}

static void test_endpoints(void)
{
    /* Smart HTTP. */
    M("GET", REPO "info/refs", "service=git-upload-pack", "PROJ", "repo", R);
    M("HEAD", REPO "info/refs", "service=git-upload-pack", "PROJ", "repo", R);
    M("GET", REPO "info/refs", "service=git-receive-pack", "PROJ", "repo", W);
    M("HEAD", REPO "info/refs", "service=git-receive-pack", "PROJ", "repo", W);
    M("POST", REPO "git-upload-pack", NULL, "PROJ", "repo", R);
    M("POST", REPO "git-receive-pack", NULL, "PROJ", "repo", W);
    M("POST", REPO "git-upload-pack", "", "PROJ", "repo", R);
    M("POST", REPO "git-receive-pack", "", "PROJ", "repo", W);

    /* Dumb HTTP. */
    M("GET", REPO "info/refs", NULL, "PROJ", "repo", R);
    M("GET", REPO "info/refs", "", "PROJ", "repo", R);
    M("HEAD", REPO "info/refs", NULL, "PROJ", "repo", R);
    M("GET", REPO "HEAD", NULL, "PROJ", "repo", R);
    M("HEAD", REPO "HEAD", NULL, "PROJ", "repo", R);
    M("GET", REPO "objects/info/packs", NULL, "PROJ", "repo", R);
    M("GET", REPO "objects/info/alternates", NULL, "PROJ", "repo", R);
    M("GET", REPO "objects/info/http-alternates", NULL, "PROJ", "repo", R);
    M("GET", REPO "objects/2d/" H38, NULL, "PROJ", "repo", R);
    M("HEAD", REPO "objects/00/" H38, NULL, "PROJ", "repo", R);
    M("GET", REPO "objects/ff/" H62, NULL, "PROJ", "repo", R);
    M("GET", REPO "objects/pack/pack-" H40 ".pack", NULL, "PROJ", "repo", R);
    M("GET", REPO "objects/pack/pack-" H40 ".idx", NULL, "PROJ", "repo", R);
    M("GET", REPO "objects/pack/pack-" H64 ".pack", NULL, "PROJ", "repo", R);
    M("HEAD", REPO "objects/pack/pack-" H64 ".idx", NULL, "PROJ", "repo", R);
}

static void test_keys_slugs(void)
{
    /* Keys are canonicalized, slugs are not. */
    M("GET", "/scm/proj/repo.git/HEAD", NULL, "PROJ", "repo", R);
    M("GET", "/scm/Proj_2/repo.git/HEAD", NULL, "PROJ_2", "repo", R);
    M("GET", "/scm/P/R.git/HEAD", NULL, "P", "R", R);
    M("GET", "/scm/PROJ/My-Repo.v2_x.git/HEAD", NULL, "PROJ", "My-Repo.v2_x",
      R);
    M("GET", "/scm/PROJ/0repo.git/HEAD", NULL, "PROJ", "0repo", R);
    M("GET", "/scm/PROJ/git.git/HEAD", NULL, "PROJ", "git", R);
    M("GET", "/scm/PROJ/x.GIT.git/HEAD", NULL, "PROJ", "x.GIT", R);
    M("GET", "/scm/PROJ/x.gitx.git/HEAD", NULL, "PROJ", "x.gitx", R);

    /* Personal projects. */
    M("GET", "/scm/~alice/repo.git/info/refs", "service=git-upload-pack",
      "~alice", "repo", R);
    M("POST", "/scm/~Alice/repo.git/git-receive-pack", NULL, "~alice", "repo",
      W);
    M("GET", "/scm/~A.B_c@Example-1/repo.git/HEAD", NULL, "~a.b_c_example-1",
      "repo", R);
    M("GET", "/scm/~0/repo.git/HEAD", NULL, "~0", "repo", R);

    /* Other prefixes. */
    match("", "GET", "/PROJ/repo.git/HEAD", NULL, "PROJ", "repo", R);
    match("/git/scm", "GET", "/git/scm/PROJ/repo.git/HEAD", NULL, "PROJ",
          "repo", R);
    none("", "GET", "PROJ/repo.git/HEAD", NULL, "root prefix, relative path");
    none("/git/scm", "GET", "/scm/PROJ/repo.git/HEAD", NULL,
         "outer prefix missing");
}

static void test_lengths(void)
{
    char path[1024], key[300];

    /* Key: 128 is the maximum. */
    memset(key, 'K', 128);
    key[128] = '\0';
    snprintf(path, sizeof(path), "/scm/%s/repo.git/HEAD", key);
    match("/scm", "GET", path, NULL, key, "repo", R);
    snprintf(path, sizeof(path), "/scm/%sK/repo.git/HEAD", key);
    X("GET", path, NULL, "129-character key");

    /* Personal: ~ and 255 characters. */
    key[0] = '~';
    memset(key + 1, 'u', 255);
    key[256] = '\0';
    snprintf(path, sizeof(path), "/scm/%s/repo.git/HEAD", key);
    match("/scm", "GET", path, NULL, key, "repo", R);
    snprintf(path, sizeof(path), "/scm/%su/repo.git/HEAD", key);
    X("GET", path, NULL, "256-character user");

    /* Slug: 128 is the maximum. */
    memset(key, 's', 128);
    key[128] = '\0';
    snprintf(path, sizeof(path), "/scm/PROJ/%s.git/HEAD", key);
    match("/scm", "GET", path, NULL, "PROJ", key, R);
    snprintf(path, sizeof(path), "/scm/PROJ/%ss.git/HEAD", key);
    X("GET", path, NULL, "129-character slug");

    /* Something very long, on the heap and exactly sized. */
    {
        size_t n = 100000;
        char *p = malloc(n + 1);

        if (p) {
            memcpy(p, "/scm/", 5);
            memset(p + 5, 'A', n - 5);
            p[n] = '\0';
            X("GET", p, NULL, "100000-byte key segment");
            memcpy(p, "/scm/PROJ/", 10);
            memset(p + 10, 'a', n - 10);
            memcpy(p + n - 9, ".git/HEAD", 9);
            X("GET", p, NULL, "100000-byte slug");
            free(p);
        }
    }
}

static void test_hostile_paths(void)
{
    /* Dot segments anywhere. */
    X("GET", "/scm/PROJ/repo.git/../other.git/info/refs", NULL, "'..' after");
    X("GET", "/scm/PROJ/../PROJ/repo.git/HEAD", NULL, "'..' after the key");
    X("GET", "/scm/../scm/PROJ/repo.git/HEAD", NULL, "'..' after the prefix");
    X("GET", "/scm/PROJ/./repo.git/HEAD", NULL, "'.' segment");
    X("GET", "/scm/./PROJ/repo.git/HEAD", NULL, "'.' after the prefix");
    X("GET", "/scm/PROJ/repo.git/./HEAD", NULL, "'.' before the git path");
    X("GET", "/scm/PROJ/repo.git/objects/../HEAD", NULL, "'..' in git path");
    X("GET", "/scm/PROJ/repo.git/info/refs/..", NULL, "trailing '..'");
    X("GET", "/scm/PROJ/repo.git/info/refs/.", NULL, "trailing '.'");
    X("GET", "/scm/PROJ/repo.git/...", NULL, "'...' git path");
    X("GET", "/scm/../etc/passwd", NULL, "escape from the prefix");

    /* Empty segments and slashes. */
    X("GET", "/scm//PROJ/repo.git/HEAD", NULL, "'//' after the prefix");
    X("GET", "/scm/PROJ//repo.git/HEAD", NULL, "'//' after the key");
    X("GET", "/scm/PROJ/repo.git//HEAD", NULL, "'//' before the git path");
    X("GET", "/scm/PROJ/repo.git/info//refs", NULL, "'//' in the git path");
    X("GET", "/scm/PROJ/repo.git/info/refs/", NULL, "trailing slash");
    X("GET", "/scm/PROJ/repo.git/HEAD/", NULL, "trailing slash after HEAD");
    X("POST", "/scm/PROJ/repo.git/git-upload-pack/", NULL,
      "trailing slash after the service");
    X("GET", "/scm/PROJ/repo.git/", NULL, "repository with slash only");
    X("GET", "/scm/PROJ/repo.git", NULL, "repository without git path");
    X("GET", "/scm/PROJ/", NULL, "key only, slash");
    X("GET", "/scm/PROJ", NULL, "key only");
    X("GET", "/scm/", NULL, "prefix and slash");
    X("GET", "/scm", NULL, "prefix only");
    X("GET", "/", NULL, "root");
    X("GET", "", NULL, "empty path");

    /* The .git suffix. */
    X("GET", "/scm/PROJ/repo/info/refs", NULL, "missing .git");
    X("GET", "/scm/PROJ/repo.GIT/info/refs", NULL, "'.GIT'");
    X("GET", "/scm/PROJ/repo.Git/info/refs", NULL, "'.Git'");
    X("GET", "/scm/PROJ/repo.git.git/info/refs", NULL, "slug ending .git");
    X("GET", "/scm/PROJ/.git/info/refs", NULL, "empty slug");
    X("GET", "/scm/PROJ/git/info/refs", NULL, "'git' without the dot");
    X("GET", "/scm/PROJ/-repo.git/info/refs", NULL, "slug starting '-'");
    X("GET", "/scm/PROJ/.repo.git/info/refs", NULL, "slug starting '.'");
    X("GET", "/scm/PROJ/_repo.git/info/refs", NULL, "slug starting '_'");
    X("GET", "/scm/PROJ/~repo.git/info/refs", NULL, "slug starting '~'");
    X("GET", "/scm/PROJ/re@po.git/info/refs", NULL, "'@' in the slug");
    X("GET", "/scm/PROJ/repo.git.extra/HEAD", NULL, ".git not at the end");

    /* Keys. */
    X("GET", "/scm/1PROJ/repo.git/HEAD", NULL, "key starting with a digit");
    X("GET", "/scm/_PROJ/repo.git/HEAD", NULL, "key starting with '_'");
    X("GET", "/scm/PR-OJ/repo.git/HEAD", NULL, "'-' in a key");
    X("GET", "/scm/PR.OJ/repo.git/HEAD", NULL, "'.' in a key");
    X("GET", "/scm/PR~OJ/repo.git/HEAD", NULL, "'~' inside a key");
    X("GET", "/scm/P@J/repo.git/HEAD", NULL, "'@' in a key");
    X("GET", "/scm/~/repo.git/HEAD", NULL, "'~' alone");
    X("GET", "/scm/~~alice/repo.git/HEAD", NULL, "'~~'");
    X("GET", "/scm/~.alice/repo.git/HEAD", NULL, "user starting '.'");
    X("GET", "/scm/~-alice/repo.git/HEAD", NULL, "user starting '-'");
    X("GET", "/scm/~@alice/repo.git/HEAD", NULL, "user starting '@'");
    X("GET", "/scm/~al~ice/repo.git/HEAD", NULL, "'~' inside a user");
    X("GET", "/scm/PROJ/sub/repo.git/HEAD", NULL, "extra segment");

    /* Bytes that are not in any alphabet, encoded or raw. */
    X("GET", "/scm/PROJ/re%2Fpo.git/HEAD", NULL, "'%2F' in the slug");
    X("GET", "/scm/PROJ%2Frepo.git/HEAD", NULL, "'%2F' joining key and slug");
    X("GET", "/scm/PROJ/repo.git/info%2Frefs", NULL, "'%2F' in the git path");
    X("GET", "/scm/PROJ/repo.git/%2e%2e/HEAD", NULL, "'%2e%2e'");
    X("GET", "/scm/PROJ/repo.git/info/refs%3Fservice=git-receive-pack", NULL,
      "'%3F' query in the path");
    X("GET", "/scm/PROJ/repo.git/info/refs?service=git-upload-pack", NULL,
      "literal '?' in the path");
    X("GET", "/scm/PROJ/repo.git/HEAD;x", NULL, "';' path parameter");
    X("GET", "/scm/PROJ/repo.git/HEAD#x", NULL, "'#'");
    X("GET", "/scm/PROJ/re po.git/HEAD", NULL, "space");
    X("GET", "/scm/PROJ/re+po.git/HEAD", NULL, "'+'");
    X("GET", "/scm/PROJ/re:po.git/HEAD", NULL, "':'");
    X("GET", "/scm/PROJ\\repo.git/HEAD", NULL, "backslash");
    X("GET", "/scm/PROJ/repo.git/HEAD\n", NULL, "newline");
    X("GET", "/scm/PROJ/repo.git/HEAD\t", NULL, "tab");
    X("GET", "/scm/PR\xc3\x96J/repo.git/HEAD", NULL, "UTF-8 in the key");
    X("GET", "/scm/PROJ/r\xc3\xa9po.git/HEAD", NULL, "UTF-8 in the slug");
    X("GET", "/scm/~\xc3\xa4lice/repo.git/HEAD", NULL, "UTF-8 in a user");
    X("GET", "/scm/PROJ/repo.git/HEAD\xff", NULL, "0xff");
    X("GET", "/scm/PROJ/repo.git/HEAD\x7f", NULL, "DEL");
    /* The Kelvin sign upper-cases to 'K' in some libraries. */
    X("GET",
      "/scm/\xe2\x84\xaa"
      "EY/repo.git/HEAD",
      NULL, "Kelvin sign");

    /* Prefix mismatches. */
    X("GET", "/scmx/PROJ/repo.git/HEAD", NULL, "'/scmx'");
    X("GET", "/sc/PROJ/repo.git/HEAD", NULL, "'/sc'");
    X("GET", "/SCM/PROJ/repo.git/HEAD", NULL, "'/SCM'");
    X("GET", "/other/scm/PROJ/repo.git/HEAD", NULL, "prefix not at start");
    X("GET", "scm/PROJ/repo.git/HEAD", NULL, "no leading slash");
    X("GET", "//scm/PROJ/repo.git/HEAD", NULL, "leading '//'");
}

static void test_git_paths(void)
{
    X("GET", REPO "objects/pack/pack-" H40 ".keep", NULL, ".keep file");
    X("GET", REPO "objects/pack/pack-" H40 ".rev", NULL, ".rev file");
    X("GET", REPO "objects/pack/pack-" H40 ".PACK", NULL, ".PACK");
    X("GET", REPO "objects/pack/pack-" H40 ".pack.idx", NULL, "double suffix");
    X("GET", REPO "objects/pack/pack-" H38 "0.pack", NULL, "39 hex pack");
    X("GET", REPO "objects/pack/pack-" H40 "0.pack", NULL, "41 hex pack");
    X("GET", REPO "objects/pack/pack-" H62 "0.pack", NULL, "63 hex pack");
    X("GET", REPO "objects/pack/pack-" H64 "0.pack", NULL, "65 hex pack");
    X("GET", REPO "objects/pack/pack-" H40, NULL, "pack without suffix");
    X("GET", REPO "objects/pack/pack-.pack", NULL, "pack without hash");
    X("GET",
      REPO "objects/pack/pack-711642B726B04401627CA9FBAC32F5C8530FB190"
           ".pack",
      NULL, "upper-case hex pack");
    X("GET", REPO "objects/pack/", NULL, "pack directory");
    X("GET", REPO "objects/pack", NULL, "pack directory, no slash");
    X("GET", REPO "objects/2D/" H38, NULL, "upper-case loose dir");
    X("GET", REPO "objects/2d/2D711642B726B04401627CA9FBAC32F5C8530F", NULL,
      "upper-case loose object");
    X("GET", REPO "objects/2d/" H38 "0", NULL, "39 hex loose object");
    X("GET", REPO "objects/2d/711642b726b04401627ca9fbac32f5c8530", NULL,
      "37 hex loose object");
    X("GET", REPO "objects/2d/" H62 "0", NULL, "63 hex loose object");
    X("GET", REPO "objects/2/d" H38, NULL, "one-digit loose dir");
    X("GET", REPO "objects/2dd/" H38, NULL, "three-digit loose dir");
    X("GET", REPO "objects/gg/" H38, NULL, "non-hex loose dir");
    X("GET", REPO "objects/2d", NULL, "loose directory");
    X("GET", REPO "objects/info/packs2", NULL, "objects/info/packs2");
    X("GET", REPO "objects/info/", NULL, "objects/info/");
    X("GET", REPO "objects/info/commit-graph", NULL, "commit-graph");
    X("GET", REPO "objects", NULL, "objects");
    X("GET", REPO "config", NULL, "config");
    X("GET", REPO "description", NULL, "description");
    X("GET", REPO "hooks/pre-receive", NULL, "hooks");
    X("GET", REPO "packed-refs", NULL, "packed-refs");
    /* Read by git http-push to check for a fast-forward. */
    M("GET", REPO "refs/heads/main", NULL, "PROJ", "repo", R);
    X("GET", REPO "refs", NULL, "refs");
    X("GET", REPO "refs/", NULL, "refs/");
    X("GET", REPO "info/refs2", NULL, "info/refs2");
    X("GET", REPO "info", NULL, "info");
    X("GET", REPO "info/exclude", NULL, "info/exclude");
    X("GET", REPO "head", NULL, "lower-case head");
    X("GET", REPO "HEAD2", NULL, "HEAD2");
    X("GET", REPO "FETCH_HEAD", NULL, "FETCH_HEAD");
    X("POST", REPO "git-upload-archive", NULL, "git-upload-archive");
    X("POST", REPO "git-upload-pack2", NULL, "git-upload-pack2");
    X("POST", REPO "Git-Upload-Pack", NULL, "Git-Upload-Pack");
    X("POST", REPO "info/git-upload-pack", NULL, "service under info/");
}

static void test_methods(void)
{
    X("get", REPO "info/refs", "service=git-upload-pack", "method 'get'");
    X("Get", REPO "info/refs", "service=git-upload-pack", "method 'Get'");
    X("GET ", REPO "info/refs", "service=git-upload-pack", "method 'GET '");
    X("PUT", REPO "info/refs", "service=git-upload-pack", "PUT info/refs");
    X("DELETE", REPO "info/refs", NULL, "DELETE info/refs");
    X("POST", REPO "info/refs", "service=git-receive-pack", "POST info/refs");
    X("OPTIONS", REPO "info/refs", NULL, "OPTIONS");
    X("PROPFIND", REPO "HEAD", NULL, "PROPFIND");
    X("", REPO "HEAD", NULL, "empty method");
    X("GET", REPO "git-upload-pack", NULL, "GET git-upload-pack");
    X("GET", REPO "git-receive-pack", NULL, "GET git-receive-pack");
    X("HEAD", REPO "git-receive-pack", NULL, "HEAD git-receive-pack");
    X("PUT", REPO "git-receive-pack", NULL, "PUT git-receive-pack");
    X("post", REPO "git-receive-pack", NULL, "method 'post'");
    X("POST", REPO "HEAD", NULL, "POST HEAD");
    X("POST", REPO "objects/info/packs", NULL, "POST objects/info/packs");
    X("POST", REPO "objects/pack/pack-" H40 ".pack", NULL, "POST a pack");
    /* An object is PUT under a temporary name and moved into place once
     * (the MOVE's Destination route takes only a new one). */
    X("PUT", REPO "objects/2d/" H38, NULL, "PUT an object under its own name");
    X("PUT", REPO "objects/2d/" H62, NULL, "PUT a SHA-256 object so");
}

static void test_queries(void)
{
    static const char *const bad[] = {
        "service=git-upload-pack&service=git-receive-pack",
        "service=git-receive-pack&service=git-upload-pack",
        "service=git-upload-pack&service=git-upload-pack",
        "service=git-upload-pack&x=1",
        "x=1&service=git-upload-pack",
        "service=git-upload-pack&",
        "&service=git-upload-pack",
        "service=git-upload-pack;service=git-receive-pack",
        ";service=git-upload-pack",
        "service=git-upload-archive",
        "service=git-upload-pack ",
        " service=git-upload-pack",
        "service=git-upload-pack#",
        "service%3Dgit-upload-pack",
        "service=git%2Dupload-pack",
        "service=git-upload-pac%6B",
        "%73ervice=git-upload-pack",
        "service=git-upload-pack%00",
        "service=git+upload-pack",
        "SERVICE=git-upload-pack",
        "Service=git-upload-pack",
        "service=GIT-UPLOAD-PACK",
        "service=git-upload-pack2",
        "service=git-upload-pac",
        "service=upload-pack",
        "service=",
        "service",
        "=",
        "&",
        "?",
        "?service=git-upload-pack",
        "service==git-upload-pack",
        "service=git-receive-pack\n",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char name[200];

        snprintf(name, sizeof(name), "info/refs query '%s'", bad[i]);
        X("GET", REPO "info/refs", bad[i], name);
    }

    X("POST", REPO "git-upload-pack", "service=git-upload-pack",
      "query on POST git-upload-pack");
    X("POST", REPO "git-receive-pack", "x", "query on POST git-receive-pack");
    X("GET", REPO "HEAD", "x=1", "query on HEAD");
    X("GET", REPO "HEAD", "service=git-upload-pack", "service query on HEAD");
    X("GET", REPO "objects/info/packs", "a", "query on objects/info/packs");
    X("GET", REPO "objects/2d/" H38, "v=1", "query on a loose object");
    X("GET", REPO "objects/pack/pack-" H40 ".idx", "=", "query on a pack");
}

static void test_args(void)
{
    bbt_target_t t;

    X("GET", NULL, NULL, "NULL path");
    none(NULL, "GET", REPO "HEAD", NULL, "NULL prefix");
    none("/scm", NULL, REPO "HEAD", NULL, "NULL method");
    is_int(bbt_route_git("/scm", "GET", REPO "HEAD", NULL, NULL),
           BBT_ROUTE_NONE, "NULL out refused");
    /* The trailing slash is the caller's to strip: "/scm/" never matches. */
    none("/scm/", "GET", REPO "HEAD", NULL, "prefix with a trailing slash");

    /* A match after a refusal leaves no stale reason, and vice versa. */
    bbt_route_git("/scm", "GET", REPO "config", NULL, &t);
    bbt_route_git("/scm", "GET", REPO "HEAD", NULL, &t);
    ok(t.why == NULL && strcmp(t.key, "PROJ") == 0, "match clears why");
    bbt_route_git("/scm", "GET", REPO "config", NULL, &t);
    ok(t.why != NULL && t.key[0] == '\0' && t.need.level == BBT_LEVEL_NONE,
       "refusal clears key and level");
}

static void key_ok(const char *in, size_t len, const char *want)
{
    char out[BBT_KEY_BUF];

    memset(out, 'Z', sizeof(out));
    ok(bbt_input_key(in, len, out) == 0 && strcmp(out, want) == 0,
       "canonical key '%.*s' -> '%s'", (int)len, in, want);
}

static void key_bad(const char *in, size_t len, const char *name)
{
    char out[BBT_KEY_BUF];

    memset(out, 'Z', sizeof(out));
    ok(bbt_input_key(in, len, out) == -1 && out[0] == '\0', "invalid key: %s",
       name);
}

static void test_canonical_key(void)
{
    char k[300];

    key_ok("PROJ", 4, "PROJ");
    key_ok("proj", 4, "PROJ");
    key_ok("pRoJ_9", 6, "PROJ_9");
    key_ok("a", 1, "A");
    key_ok("PROJX", 4, "PROJ");
    key_ok("~alice", 6, "~alice");
    key_ok("~ALICE", 6, "~alice");
    key_ok("~Alice.Smith@Corp-1_x", 21, "~alice.smith_corp-1_x");
    key_ok("~carol.smith_corp", 17, "~carol.smith_corp");
    key_ok("~CAROL.SMITH@CORP", 17, "~carol.smith_corp");
    key_ok("~alice/repo", 6, "~alice");
    key_bad("", 0, "empty");
    key_bad(NULL, 4, "NULL");
    key_bad("~", 1, "'~'");
    key_bad("9A", 2, "leading digit");
    key_bad("A B", 3, "space");
    key_bad("A\0B", 3, "NUL inside len");
    key_bad("A-B", 3, "'-'");
    key_bad("~a b", 4, "space in a user");
    key_bad("~_a", 3, "user starting '_'");
    key_bad("~a/b", 4, "slash in a user");
    key_bad("\xc3\x84", 2, "UTF-8");

    memset(k, 'q', 128);
    memset(k + 128, 'Q', 10);
    {
        char want[129];

        memset(want, 'Q', 128);
        want[128] = '\0';
        key_ok(k, 128, want);
    }
    key_bad(k, 129, "129 characters");
    k[0] = '~';
    memset(k + 1, 'U', 260);
    {
        char out[BBT_KEY_BUF];
        size_t i;
        int lower = 1;

        ok(bbt_input_key(k, 256, out) == 0 && strlen(out) == 256,
           "~ and 255 characters is a key");
        for (i = 1; i < 256; i++)
            if (out[i] != 'u')
                lower = 0;
        ok(lower, "  lower-cased");
    }
    key_bad(k, 257, "~ and 256 characters");
    ok(bbt_input_key("PROJ", 4, NULL) == -1, "NULL out refused");
}

static void test_valid_slug(void)
{
    char s[200];

    is_int(bbt_input_slug("repo", 4), 1, "slug 'repo'");
    is_int(bbt_input_slug("a", 1), 1, "slug 'a'");
    is_int(bbt_input_slug("0", 1), 1, "slug '0'");
    is_int(bbt_input_slug("My-Repo_1.x", 11), 1, "slug 'My-Repo_1.x'");
    is_int(bbt_input_slug("git", 3), 1, "slug 'git'");
    is_int(bbt_input_slug("a.gitx", 6), 1, "slug 'a.gitx'");
    is_int(bbt_input_slug("a.GIT", 5), 1,
           "slug 'a.GIT' (case-sensitive, like the schema)");
    is_int(bbt_input_slug("a..b", 4), 1, "slug 'a..b'");
    is_int(bbt_input_slug("repo.git", 8), 0, "slug 'repo.git'");
    is_int(bbt_input_slug("a.git", 5), 0, "slug 'a.git'");
    is_int(bbt_input_slug("repo.gitx", 8), 0,
           "slug 'repo.git' read by length from 'repo.gitx'");
    is_int(bbt_input_slug("repo.git", 4), 1,
           "slug 'repo' read by length from 'repo.git'");
    is_int(bbt_input_slug(".git", 4), 0, "slug '.git'");
    is_int(bbt_input_slug("", 0), 0, "empty slug");
    is_int(bbt_input_slug(NULL, 3), 0, "NULL slug");
    is_int(bbt_input_slug(".a", 2), 0, "slug '.a'");
    is_int(bbt_input_slug("-a", 2), 0, "slug '-a'");
    is_int(bbt_input_slug("_a", 2), 0, "slug '_a'");
    is_int(bbt_input_slug("a b", 3), 0, "slug 'a b'");
    is_int(bbt_input_slug("a/b", 3), 0, "slug 'a/b'");
    is_int(bbt_input_slug("a~b", 3), 0, "slug 'a~b'");
    is_int(bbt_input_slug("a@b", 3), 0, "slug 'a@b'");
    is_int(bbt_input_slug("a\0b", 3), 0, "slug with NUL");
    is_int(bbt_input_slug("r\xc3\xa9", 3), 0, "slug with UTF-8");
    memset(s, 'x', sizeof(s));
    is_int(bbt_input_slug(s, 128), 1, "128-character slug");
    is_int(bbt_input_slug(s, 129), 0, "129-character slug");
}

int main(void)
{
    test_endpoints();
    test_keys_slugs();
    test_lengths();
    test_hostile_paths();
    test_git_paths();
    test_methods();
    test_queries();
    test_args();
    test_reasons();
    test_dumb_push();
    test_canonical_key();
    test_valid_slug();
    return done_testing();
}
