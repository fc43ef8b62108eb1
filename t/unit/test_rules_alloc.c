/* Matching allocates nothing per request: each thread makes its match data
 * once (and grows it only for a pattern with more captures), counted by
 * bbt_rules_match_allocations.  Threads match side by side, each with its
 * own, and get the same answers as one thread alone. */
#include "bbt_rules.h"
#include "tap.h"
#include "rules_fixture.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define THREADS 4
#define ROUNDS 500

/* A mix of what a git server sees: routes with and without a query
 * pattern, no route, a deny, a bad key.  Returns how many answers were
 * not the expected ones. */
static int requests(const bbt_rules_t *rs)
{
    static const struct {
        const char *method, *path, *args;
        int match;
        const char *key;
    } req[] = {
        {"GET", "/scm/PROJ/repo.git/info/refs", "service=git-upload-pack", 1,
         "PROJ"},
        {"POST", "/scm/proj/repo.git/git-upload-pack", NULL, 1, "PROJ"},
        {"GET", "/scm/~Alice/r.git/info/refs", "service=git-receive-pack", 1,
         "~alice"},
        {"GET", "/scm/PROJ/repo.git/HEAD", NULL, 1, "PROJ"},
        {"GET", "/scm/PROJ/repo.git/config", NULL, 0, ""},
        {"GET", "/scm/PROJ/repo.git/info/refs", "service=other", 0, ""},
        {"PUT", "/scm/PROJ/repo.git/objects/ab/cdef", NULL, 0, ""},
        {"GET", "/elsewhere", NULL, 0, ""},
        {"GET", "/scm/1X/repo.git/HEAD", NULL, 0, ""},
    };
    bbt_match_t m;
    size_t i;
    int wrong = 0;

    for (i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
        int rv =
            bbt_rules_match(rs, req[i].method, req[i].path, req[i].args, 0, &m);

        if ((rv == BBT_ROUTE_MATCH) != req[i].match ||
            strcmp(m.target.key, req[i].key) != 0)
            wrong++;
    }
    return wrong;
}

static void test_one_thread(void)
{
    bbt_rules_t *rs = git_rules(), *wide;
    char pattern[400], path[100];
    char err[BBT_RULES_ERR_MAX];
    unsigned long before, first;
    int i, wrong = 0;

    if (!rs) {
        ok(0, "the git set loads");
        return;
    }
    before = bbt_rules_match_allocations();
    wrong += requests(rs);
    first = bbt_rules_match_allocations() - before;
    ok(first >= 1 && first <= 8,
       "this thread's first matches allocate its match data (%lu)", first);

    before = bbt_rules_match_allocations();
    for (i = 0; i < ROUNDS; i++)
        wrong += requests(rs);
    is_int((long long)(bbt_rules_match_allocations() - before), 0,
           "%d more requests allocate nothing", ROUNDS * 9);
    is_int(wrong, 0, "and every answer is right");

    /* A list whose pattern has more captures than any before: the match
     * data grows once, then serves both lists. */
    wide = bbt_rules_new();
    strcpy(pattern, "/w/(?<project>[A-Z]+)");
    for (i = 0; i < 30; i++)
        strcat(pattern, "/(x)?");
    strcat(pattern, "/(?<repo>[a-z]+)");
    strcpy(path, "/w/P");
    for (i = 0; i < 30; i++)
        strcat(path, "/x");
    strcat(path, "/r");
    if (bbt_rules_add(wide, "GET", pattern, "REPO_READ", NULL, 0, "wide", err,
                      sizeof(err)) != 0)
        diag("add failed: %s", err);
    before = bbt_rules_match_allocations();
    for (i = 0; i < ROUNDS; i++) {
        bbt_match_t m;

        if (bbt_rules_match(wide, "GET", path, NULL, 0, &m) != BBT_ROUTE_MATCH)
            wrong++;
        wrong += requests(rs);
    }
    first = bbt_rules_match_allocations() - before;
    ok(first >= 1 && first <= 4,
       "a pattern with 33 captures grows the match data once (%lu)", first);
    is_int(wrong, 0, "  and the answers stay right");
    bbt_rules_free(wide);
    bbt_rules_free(rs);
}

static bbt_rules_t *shared;
static int thread_wrong[THREADS];

static void *matcher(void *arg)
{
    int *wrong = arg, i;

    for (i = 0; i < ROUNDS; i++)
        *wrong += requests(shared);
    return NULL;
}

/* What a fresh thread allocates for one run of matcher, alone. */
static unsigned long alone(void)
{
    pthread_t t;
    int wrong = 0;
    unsigned long before = bbt_rules_match_allocations();

    pthread_create(&t, NULL, matcher, &wrong);
    pthread_join(t, NULL);
    return wrong ? 0 : bbt_rules_match_allocations() - before;
}

static void test_threads(void)
{
    pthread_t t[THREADS];
    unsigned long one, before;
    int i, wrong = 0;

    shared = git_rules();
    one = alone();
    ok(one >= 1 && one <= 8,
       "a thread allocates its own match data once for %d requests (%lu)",
       ROUNDS * 9, one);
    before = bbt_rules_match_allocations();
    for (i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, matcher, &thread_wrong[i]);
    for (i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        wrong += thread_wrong[i];
    }
    is_int((long long)(bbt_rules_match_allocations() - before),
           (long long)(THREADS * one),
           "%d threads side by side allocate %d times that, no more", THREADS,
           THREADS);
    is_int(wrong, 0, "and every thread gets every answer right");
    bbt_rules_free(shared);
}

int main(void)
{
    test_one_thread();
    test_threads();
    return done_testing();
}
