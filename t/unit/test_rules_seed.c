/* The seed's matrix decided through the built-in routes: for each action
 * in Bitbucket's table, which token permissions may do it, and the REST
 * set's ";" deny. */
#include "bbt_body.h"
#include "bbt_rules.h"
#include "tap.h"
#include "rules_fixture.h"

#include <string.h>

#define R BBT_LEVEL_READ
#define W BBT_LEVEL_WRITE
#define A BBT_LEVEL_ADMIN
#define N BBT_LEVEL_NONE

/* The seed's table, decided through the built-in routes: for each action,
 * which of the six token combinations may do it (the owner an admin), on
 * the route's target and, for a fork or a move, the project the body puts
 * the repository into. */
static const struct {
    const char *set, *prefix, *method, *path, *args, *what;
    int allowed[6];   /* RR RW RA WW WA AA */
    const char *body; /* NULL: none */
} seed[] = {
    {"git",
     "/scm",
     "GET",
     "/scm/P/r.git/info/refs",
     "service=git-upload-pack",
     "clone",
     {1, 1, 1, 1, 1, 1},
     NULL},
    {"git",
     "/scm",
     "POST",
     "/scm/P/r.git/git-upload-pack",
     NULL,
     "pull",
     {1, 1, 1, 1, 1, 1},
     NULL},
    {"git",
     "/scm",
     "POST",
     "/scm/P/r.git/git-receive-pack",
     NULL,
     "push",
     {0, 1, 1, 1, 1, 1},
     NULL},
    {"bitbucket-rest",
     "",
     "POST",
     "/rest/api/latest/projects/P/repos/r/pull-requests/1/merge",
     NULL,
     "pull-request action",
     {0, 1, 1, 1, 1, 1},
     NULL},
    {"bitbucket-rest",
     "",
     "PUT",
     "/rest/api/latest/projects/P/repos/r/permissions/users",
     NULL,
     "repository permissions",
     {0, 0, 1, 0, 1, 1},
     NULL},
    {"bitbucket-rest",
     "",
     "PUT",
     "/rest/api/latest/projects/P/repos/r",
     NULL,
     "repository update",
     {0, 0, 1, 0, 1, 1},
     "{\"name\":\"r2\"}"},
    {"bitbucket-rest",
     "",
     "PUT",
     "/rest/api/latest/projects/P/repos/r",
     NULL,
     "repository update naming its own project",
     {0, 0, 1, 0, 1, 1},
     "{\"project\":{\"key\":\"p\"}}"},
    {"bitbucket-rest",
     "",
     "PUT",
     "/rest/api/latest/projects/P/repos/r",
     NULL,
     "repository move into another project",
     {0, 0, 0, 0, 0, 1},
     "{\"project\":{\"key\":\"Q\"}}"},
    {"bitbucket-rest",
     "",
     "PUT",
     "/rest/api/latest/projects/P/permissions/users",
     NULL,
     "project permissions",
     {0, 0, 0, 0, 0, 1},
     NULL},
    {"bitbucket-rest",
     "",
     "POST",
     "/rest/api/latest/projects/P/repos",
     NULL,
     "create repository",
     {0, 0, 0, 0, 0, 1},
     NULL},
    {"bitbucket-rest",
     "",
     "POST",
     "/rest/api/latest/projects/P/repos/r",
     NULL,
     "fork",
     {0, 0, 0, 0, 0, 1},
     "{}"},
    {"bitbucket-rest",
     "",
     "POST",
     "/rest/api/latest/projects/P/repos/r",
     NULL,
     "fork into another project",
     {0, 0, 0, 0, 0, 1},
     "{\"project\":{\"key\":\"Q\"}}"},
    {"dav",
     "/dav",
     "MKCOL",
     "/dav/P/new/",
     NULL,
     "create repository (dav)",
     {0, 0, 0, 0, 0, 1},
     NULL},
    {"dav",
     "/dav",
     "PUT",
     "/dav/P/r/x",
     NULL,
     "write a file (dav)",
     {0, 1, 1, 1, 1, 1},
     NULL},
    {"dav",
     "/dav",
     "DELETE",
     "/dav/P/r/",
     NULL,
     "delete repository (dav)",
     {0, 0, 1, 0, 1, 1},
     NULL},
};

/* The REST set's ";" deny holds whatever else the path holds: Tomcat
 * strips path parameters and resolves "..;" as "..", so a newline must not
 * carry a ";" past the deny to the project read's [^/]+. */
static void test_rest_semicolon(void)
{
    bbt_rules_t *rs = builtin_rules("bitbucket-rest", "");
    const char *const paths[] = {
        "/rest/api/latest/projects/PROJ/\n/..;/..;/SECRET/repos/sec",
        "/rest/api/latest/projects/PROJ/x\n;/..;/..;/SECRET/repos/sec",
        "/rest/api/latest/projects/PROJ/x;\n/..;/..;/SECRET/repos/sec",
        "/rest/api/latest/projects/PROJ/repos/repo/x\n/..;/..;/..;/SECRET",
        "/rest/api/latest/projects/PROJ/\r/..;/..;/SECRET/repos/sec",
    };
    size_t i;

    if (!rs)
        return;
    for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        route_is(rs, "GET", paths[i], NULL, 0, NULL, NULL);
    bbt_rules_free(rs);
}

static void test_seed_matrix(void)
{
    static const bbt_level_t pairs[6][2] = {{R, R}, {R, W}, {R, A},
                                            {W, W}, {W, A}, {A, A}};
    size_t i, j;

    for (i = 0; i < sizeof(seed) / sizeof(seed[0]); i++) {
        bbt_rules_t *rs = builtin_rules(seed[i].set, seed[i].prefix);
        bbt_body_t *b = NULL;
        bbt_match_t out;
        int rv;

        if (!rs)
            continue;
        if (seed[i].body &&
            bbt_body_parse(seed[i].body, strlen(seed[i].body), &b, NULL, 0))
            diag("the body of %s does not parse", seed[i].what);
        rv = bbt_rules_match_body(rs, seed[i].method, seed[i].path,
                                  seed[i].args, 0, b, &out);
        bbt_body_free(b);
        for (j = 0; j < 6; j++) {
            bbt_level_t p = pairs[j][0], r = pairs[j][1];
            int allow =
                rv == BBT_ROUTE_MATCH &&
                bbt_perm_decide(out.target.need, p, r, A) == BBT_DECIDE_ALLOW &&
                (out.token_need.level == N ||
                 bbt_perm_decide(out.token_need, p, r, A) ==
                     BBT_DECIDE_ALLOW) &&
                (out.into == BBT_INTO_NONE ||
                 bbt_perm_decide(out.into_need, p, r, A) == BBT_DECIDE_ALLOW);

            is_int(allow, seed[i].allowed[j], "%s with PROJECT_%s + REPO_%s",
                   seed[i].what,
                   p == R   ? "READ"
                   : p == W ? "WRITE"
                            : "ADMIN",
                   r == R   ? "READ"
                   : r == W ? "WRITE"
                            : "ADMIN");
        }
        /* The owner caps every one of them. */
        ok(rv == BBT_ROUTE_MATCH &&
               bbt_perm_decide(out.target.need, A, A, N) == BBT_DECIDE_OWNER,
           "%s: an owner without access stops even a full token", seed[i].what);
        bbt_rules_free(rs);
    }
}

int main(void)
{
    test_seed_matrix();
    test_rest_semicolon();
    return done_testing();
}
