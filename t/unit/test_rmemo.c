/* A thread's memory of routed requests gives the answer matching gives:
 * for the same request again, for requests that differ only in method,
 * query string or destination, for more requests than it holds, for a new
 * list of routes where an old one was, and never for a match that could
 * not run to its end. */
#include "bbt_rmemo.h"
#include "tap.h"
#include "rules_fixture.h"

#include <stdio.h>
#include <string.h>

static bbt_rules_t *one_route(const char *methods, const char *pattern,
                              const char *perm, const char *opt)
{
    char err[BBT_RULES_ERR_MAX];
    bbt_rules_t *rs = bbt_rules_new();
    const char *opts[1] = {opt};

    if (!rs || bbt_rules_add(rs, methods, pattern, perm, opts, opt ? 1 : 0,
                             "test", err, sizeof(err)) != 0) {
        diag("add failed: %s", err);
        bbt_rules_free(rs);
        return NULL;
    }
    return rs;
}

/* 1 when the memory's answer is matching's, in every field. */
static int same(const bbt_rules_t *rs, const char *method, const char *path,
                const char *args, int dest)
{
    bbt_match_t a, b;
    int ra = bbt_rmemo_match(rs, method, path, args, dest, &a);
    int rb = bbt_rules_match(rs, method, path, args, dest, &b);

    return ra == rb && a.rule == b.rule && a.errored == b.errored &&
           strcmp(a.target.key, b.target.key) == 0 &&
           strcmp(a.target.slug, b.target.slug) == 0 &&
           a.target.need.scope == b.target.need.scope &&
           a.target.need.level == b.target.need.level &&
           (a.target.why == b.target.why ||
            (a.target.why && b.target.why &&
             strcmp(a.target.why, b.target.why) == 0)) &&
           a.token_need.scope == b.token_need.scope &&
           a.token_need.level == b.token_need.level && a.key_off == b.key_off &&
           a.key_len == b.key_len && a.key_exact == b.key_exact;
}

static const struct {
    const char *method, *path, *args;
    int dest;
} reqs[] = {
    {"GET", "/scm/PROJ/repo.git/info/refs", "service=git-upload-pack", 0},
    {"GET", "/scm/PROJ/repo.git/info/refs", "service=git-receive-pack", 0},
    {"HEAD", "/scm/PROJ/repo.git/info/refs", "service=git-upload-pack", 0},
    {"POST", "/scm/proj/repo.git/git-upload-pack", NULL, 0},
    {"POST", "/scm/proj/repo.git/git-upload-pack", "", 0},
    {"POST", "/scm/PROJ/repo.git/info/lfs/objects/batch", NULL, 0},
    {"GET", "/scm/~Alice/r.git/HEAD", NULL, 0},
    {"GET", "/scm/PROJ/repo.git/config", NULL, 0},
    {"GET", "/scm/1X/repo.git/HEAD", NULL, 0},
    {"MOVE",
     "/scm/PROJ/repo.git/objects/ab/"
     "cdef0123456789abcdef0123456789abcdef01",
     NULL, 1},
    {"MOVE",
     "/scm/PROJ/repo.git/objects/ab/"
     "cdef0123456789abcdef0123456789abcdef01",
     NULL, 0},
    {"GET", "/elsewhere", NULL, 0},
};
#define NREQS (sizeof(reqs) / sizeof(reqs[0]))

static void test_answers(void)
{
    bbt_rules_t *rs = git_rules();
    unsigned long before;
    bbt_match_t m;
    size_t i, round;
    int wrong = 0;

    if (!rs) {
        ok(0, "the git set loads");
        return;
    }
    /* Twice each in a row: the second from memory. */
    before = bbt_rmemo_hits();
    for (i = 0; i < NREQS; i++) {
        wrong +=
            !same(rs, reqs[i].method, reqs[i].path, reqs[i].args, reqs[i].dest);
        wrong +=
            !same(rs, reqs[i].method, reqs[i].path, reqs[i].args, reqs[i].dest);
    }
    is_int(wrong, 0, "each request's answer, then again, is matching's");
    is_int((long long)(bbt_rmemo_hits() - before), (long long)NREQS,
           "the second of each came from memory");
    /* More requests than the memory holds, in turn and backwards. */
    for (round = 0; round < 50; round++) {
        for (i = 0; i < NREQS; i++) {
            size_t j = round % 2 ? NREQS - 1 - i : i;

            wrong += !same(rs, reqs[j].method, reqs[j].path, reqs[j].args,
                           reqs[j].dest);
        }
    }
    is_int(wrong, 0, "%d requests over %d slots: every answer right",
           (int)NREQS, BBT_RMEMO_SLOTS);
    /* The two info/refs answers differ, and each stays its own. */
    bbt_rmemo_match(rs, "GET", reqs[0].path, reqs[0].args, 0, &m);
    ok(m.target.need.level == BBT_LEVEL_READ, "upload-pack needs REPO_READ");
    bbt_rmemo_match(rs, "GET", reqs[1].path, reqs[1].args, 0, &m);
    ok(m.target.need.level == BBT_LEVEL_WRITE,
       "receive-pack, the same path, needs REPO_WRITE");
    bbt_rmemo_match(rs, "GET", reqs[0].path, reqs[0].args, 0, &m);
    ok(m.target.need.level == BBT_LEVEL_READ, "upload-pack again: REPO_READ");
    ok(bbt_rmemo_match(rs, "GET", reqs[0].path, "service=git-upload-pacK", 0,
                       &m) == BBT_ROUTE_NONE,
       "a query string of the same length that differs is no route");
    ok(bbt_rmemo_match(rs, "GET", "/scm/PROJ/repo.git/info/refz", reqs[0].args,
                       0, &m) == BBT_ROUTE_NONE,
       "  nor is a path of the same length that differs");
    ok(bbt_rmemo_match(rs, "PUT", reqs[0].path, reqs[0].args, 0, &m) ==
           BBT_ROUTE_NONE,
       "  nor a method of the same length that differs");
    bbt_rules_free(rs);
}

static void test_new_rules(void)
{
    const char *pat = "/x/(?<project>[A-Z]+)/(?<repo>[a-z]+)";
    bbt_rules_t *rs = one_route("GET", pat, "REPO_READ", NULL);
    bbt_match_t m;
    int rv;

    bbt_rmemo_match(rs, "GET", "/x/P/r", NULL, 0, &m);
    bbt_rmemo_match(rs, "GET", "/x/P/r", NULL, 0, &m);
    bbt_rules_free(rs);
    /* Often at the very address of the old list. */
    rs = one_route("GET", pat, "REPO_WRITE", NULL);
    rv = bbt_rmemo_match(rs, "GET", "/x/P/r", NULL, 0, &m);
    ok(rv == BBT_ROUTE_MATCH && m.target.need.level == BBT_LEVEL_WRITE,
       "a new list of routes answers for itself, not the old one's memory");
    bbt_rules_free(rs);
    rs = one_route("GET", pat, "deny", NULL);
    rv = bbt_rmemo_match(rs, "GET", "/x/P/r", NULL, 0, &m);
    ok(rv == BBT_ROUTE_NONE && m.target.why &&
           strcmp(m.target.why, "a deny route matched") == 0,
       "  and a deny route where a permission route was denies");
    bbt_rules_free(rs);
}

static void test_errored(void)
{
    bbt_rules_t *rs =
        one_route("GET", "/(?<project>(a|aa)+)+b", "PROJECT_READ", NULL);
    char path[80];
    unsigned long before;
    bbt_match_t m;
    int rv;

    memset(path, 'a', sizeof(path) - 2);
    path[0] = '/';
    path[sizeof(path) - 3] = 'b';
    path[sizeof(path) - 2] = 'c';
    path[sizeof(path) - 1] = '\0';
    rv = bbt_rmemo_match(rs, "GET", path, NULL, 0, &m);
    ok(rv == BBT_ROUTE_NONE && m.errored,
       "a match that hits the match limit is no answer");
    before = bbt_rmemo_hits();
    rv = bbt_rmemo_match(rs, "GET", path, NULL, 0, &m);
    ok(rv == BBT_ROUTE_NONE && m.errored && bbt_rmemo_hits() == before,
       "  and is matched again, not remembered");
    bbt_rules_free(rs);
}

static void test_long(void)
{
    bbt_rules_t *rs =
        one_route("GET", "/(?<project>[A-Z]+)/.*", "PROJECT_READ", NULL);
    static char path[BBT_RMEMO_TEXT + 100];
    unsigned long before;
    bbt_match_t m;
    int wrong = 0, i;

    strcpy(path, "/P/");
    memset(path + 3, 'z', sizeof(path) - 4);
    path[sizeof(path) - 1] = '\0';
    before = bbt_rmemo_hits();
    for (i = 0; i < 3; i++) {
        wrong += !same(rs, "GET", path, NULL, 0);
        wrong += !same(rs, "GET", "/P/z", path, 0);
    }
    wrong += bbt_rmemo_match(rs, "GET", path, NULL, 0, &m) != BBT_ROUTE_MATCH;
    is_int(wrong, 0, "a path or query string too long to remember is matched");
    is_int((long long)(bbt_rmemo_hits() - before), 0,
           "  every time, never from memory");
    bbt_rules_free(rs);
}

int main(void)
{
    test_answers();
    test_new_rules();
    test_errored();
    test_long();
    return done_testing();
}
