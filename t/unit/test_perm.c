/* Permission algebra tests: the seed's matrix, defaulting, decisions. */
#include "bbt_perm.h"
#include "tap.h"

#include <string.h>

#define R BBT_LEVEL_READ
#define W BBT_LEVEL_WRITE
#define C BBT_LEVEL_CREATE
#define A BBT_LEVEL_ADMIN
#define N BBT_LEVEL_NONE

static const char *const names[] = {"PROJECT_READ",  "PROJECT_WRITE",
                                    "PROJECT_ADMIN", "REPO_READ",
                                    "REPO_WRITE",    "REPO_ADMIN"};

static bbt_perm_t perm_of(bbt_scope_t s, bbt_level_t l)
{
    bbt_perm_t p;

    p.scope = s;
    p.level = l;
    return p;
}

static void test_parse_name(void)
{
    bbt_perm_t p;
    size_t i;

    for (i = 0; i < 6; i++) {
        p.scope = (bbt_scope_t)9;
        p.level = N;
        is_int(bbt_perm_parse(names[i], &p), 0, "parse %s", names[i]);
        is_int(p.scope, i < 3 ? BBT_SCOPE_PROJECT : BBT_SCOPE_REPO, "%s scope",
               names[i]);
        is_int(p.level,
               i % 3 == 0   ? R
               : i % 3 == 1 ? W
                            : A,
               "%s level", names[i]);
        is_str(bbt_perm_name(p.scope, p.level), names[i], "%s name round trip",
               names[i]);
    }

    {
        static const char *const bad[] = {
            "",           "project_read", "Project_Read", "PROJECT_READ ",
            " REPO_READ", "REPO_READX",   "REPO_",        "PROJECT_NONE",
            "REPO_NONE",  "READ",         "REPO_CREATE",  "PROJECT_CREATE",
            "REPO-READ",  "REPO_READ\n",  "SYS_ADMIN",    "ADMIN",
            "SITE_READ"};
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            p.scope = BBT_SCOPE_REPO;
            p.level = BBT_LEVEL_ADMIN;
            is_int(bbt_perm_parse(bad[i], &p), -1, "parse refuses '%s'",
                   bad[i]);
        }
    }
    is_int(bbt_perm_parse(NULL, &p), -1, "parse refuses NULL");
    is_int(bbt_perm_parse("REPO_READ", NULL), -1, "parse refuses NULL out");

    is_str(bbt_perm_name(BBT_SCOPE_REPO, N), NULL, "no name for REPO_NONE");
    is_str(bbt_perm_name(BBT_SCOPE_PROJECT, N), NULL,
           "no name for PROJECT_NONE");
    is_str(bbt_perm_name(BBT_SCOPE_REPO, (bbt_level_t)5), NULL,
           "no name for level 5");
    is_str(bbt_perm_name((bbt_scope_t)3, R), NULL, "no name for scope 3");

    /* A grant's names: the six and REPO_CREATE, a project's. */
    for (i = 0; i < 6; i++) {
        bbt_perm_t g;

        ok(bbt_perm_parse_grant(names[i], &g) == 0 &&
               bbt_perm_parse(names[i], &p) == 0 && g.scope == p.scope &&
               g.level == p.level,
           "parse_grant %s as parse does", names[i]);
    }
    p.scope = BBT_SCOPE_REPO;
    p.level = N;
    is_int(bbt_perm_parse_grant("REPO_CREATE", &p), 0,
           "parse_grant REPO_CREATE");
    ok(p.scope == BBT_SCOPE_PROJECT && p.level == C,
       "REPO_CREATE is the project level create");
    is_str(bbt_perm_name(BBT_SCOPE_PROJECT, C), "REPO_CREATE",
           "create's name is REPO_CREATE");
    is_str(bbt_perm_name(BBT_SCOPE_REPO, C), NULL,
           "no repository permission create");
    p.level = A;
    is_int(bbt_perm_parse("REPO_CREATE", &p), -1,
           "a token's parse refuses REPO_CREATE");
    is_int(p.level, A, "and leaves out alone");
    {
        static const char *const bad[] = {
            "PROJECT_CREATE", "repo_create", "REPO_CREATE ", "CREATE", "",
            "SITE_READ"};
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
            is_int(bbt_perm_parse_grant(bad[i], &p), -1,
                   "parse_grant refuses '%s'", bad[i]);
    }
    is_int(bbt_perm_parse_grant(NULL, &p), -1, "parse_grant refuses NULL");

    /* A route's need: a grant's name, or SITE_READ, which no grant gives
     * and no token holds (refused above by parse and parse_grant). */
    for (i = 0; i < 6; i++) {
        bbt_perm_t g;

        ok(bbt_perm_parse_need(names[i], &g) == 0 &&
               bbt_perm_parse(names[i], &p) == 0 && g.scope == p.scope &&
               g.level == p.level,
           "parse_need %s as parse does", names[i]);
    }
    ok(bbt_perm_parse_need("REPO_CREATE", &p) == 0 &&
           p.scope == BBT_SCOPE_PROJECT && p.level == C,
       "parse_need REPO_CREATE as parse_grant does");
    p.scope = BBT_SCOPE_REPO;
    p.level = A;
    ok(bbt_perm_parse_need("SITE_READ", &p) == 0 && p.scope == BBT_SCOPE_SITE &&
           p.level == R && bbt_perm_site(p),
       "parse_need SITE_READ: scope site, level read");
    is_str(bbt_perm_name(BBT_SCOPE_SITE, R), "SITE_READ",
           "SITE_READ's name round trip");
    is_str(bbt_perm_name(BBT_SCOPE_SITE, W), NULL, "no SITE_WRITE");
    is_str(bbt_perm_name(BBT_SCOPE_SITE, A), NULL, "no SITE_ADMIN");
    is_str(bbt_perm_name(BBT_SCOPE_SITE, N), NULL, "no SITE_NONE");
    ok(!bbt_perm_site(perm_of(BBT_SCOPE_PROJECT, R)) &&
           !bbt_perm_site(perm_of(BBT_SCOPE_REPO, R)),
       "a project's or a repository's need is not the site's");
    {
        static const char *const bad[] = {"site_read",  "SITE_READ ",
                                          "SITE_WRITE", "SITE_ADMIN",
                                          "SITE",       "deny"};
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
            is_int(bbt_perm_parse_need(bad[i], &p), -1,
                   "parse_need refuses '%s'", bad[i]);
    }
    is_int(bbt_perm_parse_need(NULL, &p), -1, "parse_need refuses NULL");
    is_int(bbt_perm_parse_need("SITE_READ", NULL), -1,
           "parse_need refuses NULL out");

    /* Bitbucket's order, so that "at least" is a comparison. */
    ok(N < R && R < W && W < C && C < A, "read < write < create < admin");
}

/* The database's numbers: 3 admin, 4 create (never the other way: a module
 * from before create reads 3 as admin). */
static void test_db_levels(void)
{
    static const bbt_level_t want[] = {N, R, W, A, C};
    bbt_level_t l;
    int v;

    for (v = 0; v <= 4; v++) {
        l = (bbt_level_t)9;
        ok(bbt_level_from_db(v, &l) == 0 && l == want[v], "db %d is %s", v,
           v ? bbt_perm_name(BBT_SCOPE_PROJECT, want[v]) : "none");
        is_int(bbt_level_to_db(want[v]), v, "and back");
    }
    for (v = -2; v <= 12; v += (v == -1 ? 6 : 1)) {
        l = A;
        ok(bbt_level_from_db(v, &l) == -1 && l == N, "db %d refused, none", v);
    }
    is_int(bbt_level_to_db((bbt_level_t)7), 0, "no number for level 7");
}

/* The seed's table, written out rather than computed. */
static const struct {
    bbt_level_t p, r;
    int valid;
} matrix[] = {
    {R, R, 1}, {R, W, 1}, {R, A, 1}, {W, R, 0}, {W, W, 1},
    {W, A, 1}, {A, R, 0}, {A, W, 0}, {A, A, 1},
};

static void test_matrix(void)
{
    int p, r, count = 0;
    size_t i;

    for (i = 0; i < 9; i++)
        is_int(bbt_perm_combination_valid(matrix[i].p, matrix[i].r),
               matrix[i].valid, "PROJECT_%s + REPO_%s %s",
               matrix[i].p == R   ? "READ"
               : matrix[i].p == W ? "WRITE"
                                  : "ADMIN",
               matrix[i].r == R   ? "READ"
               : matrix[i].r == W ? "WRITE"
                                  : "ADMIN",
               matrix[i].valid ? "valid" : "impossible");
    for (p = -2; p <= 5; p++)
        for (r = -2; r <= 5; r++)
            count +=
                bbt_perm_combination_valid((bbt_level_t)p, (bbt_level_t)r) != 0;
    is_int(count, 6, "exactly six valid pairs over levels -2..5");
    is_int(bbt_perm_combination_valid(N, N), 0, "NONE + NONE invalid");
    is_int(bbt_perm_combination_valid(N, R), 0, "no project level invalid");
    is_int(bbt_perm_combination_valid(R, N), 0, "no repo level invalid");
    is_int(bbt_perm_combination_valid(A, (bbt_level_t)5), 0, "level 5 invalid");
    is_int(bbt_perm_combination_valid(C, C), 0, "a token never holds create");
    is_int(bbt_perm_combination_valid(R, C), 0, "nor as its repo level");
    is_int(bbt_perm_combination_valid(C, A), 0, "nor as its project level");
}

/* from_list on names; expect (p, r) or refusal (p == N). */
static void fl(const char *a, const char *b, const char *c, bbt_level_t wp,
               bbt_level_t wr)
{
    bbt_perm_t list[3];
    const char *in[3] = {a, b, c};
    size_t n = 0, i;
    bbt_level_t p = (bbt_level_t)7, r = (bbt_level_t)7;
    const char *why = "unset";
    char label[100] = "";
    int rv;

    for (i = 0; i < 3; i++) {
        if (!in[i])
            continue;
        bbt_perm_parse(in[i], &list[n++]);
        strcat(label, in[i]);
        strcat(label, " ");
    }
    if (n == 0)
        strcpy(label, "(none) ");
    rv = bbt_perm_from_list(list, n, &p, &r, &why);
    if (wp == N) {
        ok(rv == -1 && p == N && r == N && why && *why && strlen(why) < 80,
           "from_list refuses %s(%s)", label, why ? why : "no reason");
    } else {
        ok(rv == 0 && p == wp && r == wr && why == NULL,
           "from_list %s-> %s + %s", label, bbt_perm_name(0, wp),
           bbt_perm_name(1, wr));
        if (rv != 0 || p != wp || r != wr)
            diag("got rv %d, project %d, repo %d", rv, (int)p, (int)r);
    }
}

static void test_from_list(void)
{
    bbt_perm_t list[2];
    bbt_level_t p, r;
    const char *why;
    int pi, ri;

    fl(NULL, NULL, NULL, A, A);
    fl("REPO_READ", NULL, NULL, R, R);
    fl("REPO_WRITE", NULL, NULL, R, W);
    fl("REPO_ADMIN", NULL, NULL, R, A);
    fl("PROJECT_READ", NULL, NULL, R, R);
    fl("PROJECT_WRITE", NULL, NULL, W, W);
    fl("PROJECT_ADMIN", NULL, NULL, A, A);

    /* All nine pairs, in both orders: a repository level below the
     * project level is raised to it (inherited), the project level kept. */
    for (pi = 0; pi < 3; pi++)
        for (ri = 0; ri < 3; ri++) {
            static const bbt_level_t lv[] = {R, W, A};
            bbt_level_t lp = lv[pi], lr = lv[ri] >= lp ? lv[ri] : lp;

            fl(names[pi], names[3 + ri], NULL, lp, lr);
            fl(names[3 + ri], names[pi], NULL, lp, lr);
        }

    fl("REPO_READ", "REPO_READ", NULL, N, N);
    fl("REPO_READ", "REPO_WRITE", NULL, N, N);
    fl("PROJECT_READ", "PROJECT_READ", NULL, N, N);
    fl("PROJECT_READ", "PROJECT_ADMIN", NULL, N, N);
    fl("PROJECT_READ", "REPO_READ", "REPO_ADMIN", N, N);
    fl("PROJECT_READ", "REPO_READ", "PROJECT_READ", N, N);

    list[0].scope = BBT_SCOPE_REPO;
    list[0].level = N;
    why = NULL;
    is_int(bbt_perm_from_list(list, 1, &p, &r, &why), -1,
           "from_list refuses level NONE");
    ok(why != NULL, "with a reason");
    list[0].level = (bbt_level_t)5;
    is_int(bbt_perm_from_list(list, 1, &p, &r, &why), -1,
           "from_list refuses level 5");
    why = NULL;
    bbt_perm_parse_grant("REPO_CREATE", &list[0]);
    is_int(bbt_perm_from_list(list, 1, &p, &r, &why), -1,
           "from_list refuses REPO_CREATE");
    ok(why && strstr(why, "REPO_CREATE"), "saying why: %s", why ? why : "-");
    list[0].scope = (bbt_scope_t)5;
    list[0].level = R;
    is_int(bbt_perm_from_list(list, 1, &p, &r, &why), -1,
           "from_list refuses scope 5");
    is_int(bbt_perm_from_list(NULL, 1, &p, &r, &why), -1,
           "from_list refuses NULL list with n > 0");
    is_int(bbt_perm_from_list(NULL, 0, &p, &r, NULL), 0,
           "from_list accepts NULL list with n == 0, why NULL");
    ok(p == A && r == A, "and gives ADMIN + ADMIN");
    list[0].scope = BBT_SCOPE_PROJECT;
    list[0].level = W;
    list[1].scope = BBT_SCOPE_PROJECT;
    list[1].level = A;
    is_int(bbt_perm_from_list(list, 2, &p, &r, NULL), -1,
           "from_list refuses with why NULL");
    is_int(bbt_perm_from_list(list, 1, NULL, &r, &why), -1,
           "from_list refuses NULL project out");
}

/* An independent statement of the rule, for the exhaustive sweep: levels
 * 0 none, 1 read, 2 write, 3 create, 4 admin; a token holds read, write or
 * admin, its repository level at least its project level. */
static bbt_decision_t oracle(int scope, int need, int tp, int tr, int owner)
{
    static const int valid[5][5] = {{0, 0, 0, 0, 0},
                                    {0, 1, 1, 0, 1},
                                    {0, 0, 1, 0, 1},
                                    {0, 0, 0, 0, 0},
                                    {0, 0, 0, 0, 1}};
    int tok;

    if (need < 1 || need > 4 || (scope != 0 && scope != 1) || tp < 0 ||
        tp > 4 || tr < 0 || tr > 4 || !valid[tp][tr])
        return BBT_DECIDE_TOKEN_SCOPE;
    tok = scope ? tr : tp;
    if (tok < need)
        return BBT_DECIDE_TOKEN_SCOPE;
    if (owner < need || owner > 4)
        return BBT_DECIDE_OWNER;
    return BBT_DECIDE_ALLOW;
}

static bbt_decision_t dc(bbt_scope_t s, bbt_level_t need, bbt_level_t tp,
                         bbt_level_t tr, bbt_level_t owner)
{
    bbt_perm_t p;

    p.scope = s;
    p.level = need;
    return bbt_perm_decide(p, tp, tr, owner);
}

static void test_decide(void)
{
    const bbt_scope_t P = BBT_SCOPE_PROJECT, S = BBT_SCOPE_REPO;
    int s, need, tp, tr, ow, mismatches = 0, allowed = 0;

    /* Named rows (scope, need, token project, token repo, owner). */
    is_int(dc(S, R, R, R, R), BBT_DECIDE_ALLOW,
           "REPO_READ: read token, "
           "read owner: allow");
    is_int(dc(S, W, R, W, W), BBT_DECIDE_ALLOW, "push with REPO_WRITE token");
    is_int(dc(S, W, A, A, A), BBT_DECIDE_ALLOW, "push with admin token");
    is_int(dc(S, W, R, R, A), BBT_DECIDE_TOKEN_SCOPE,
           "REPO_READ token, admin owner, push: token too low");
    is_int(dc(S, A, R, W, A), BBT_DECIDE_TOKEN_SCOPE,
           "REPO_ADMIN need, REPO_WRITE token: token too low");
    is_int(dc(S, R, R, R, N), BBT_DECIDE_OWNER,
           "read with owner having nothing: owner too low");
    is_int(dc(S, W, A, A, R), BBT_DECIDE_OWNER,
           "admin token, read-only owner, push: owner too low");
    is_int(dc(S, R, A, A, N), BBT_DECIDE_OWNER,
           "admin token, owner without grant: owner too low");
    is_int(dc(S, W, R, R, N), BBT_DECIDE_TOKEN_SCOPE,
           "both too low: the token is reported");
    is_int(dc(P, A, A, A, A), BBT_DECIDE_ALLOW, "PROJECT_ADMIN need: allow");
    is_int(dc(P, A, R, A, A), BBT_DECIDE_TOKEN_SCOPE,
           "PROJECT_ADMIN need, REPO_ADMIN only: token too low");
    is_int(dc(P, W, W, W, R), BBT_DECIDE_OWNER,
           "PROJECT_WRITE need, project-read owner: owner too low");
    is_int(dc(P, R, R, R, R), BBT_DECIDE_ALLOW, "PROJECT_READ: allow");
    is_int(dc(P, W, R, A, A), BBT_DECIDE_TOKEN_SCOPE,
           "PROJECT_WRITE need, project-read token: token too low");

    /* Create repository (REPO_CREATE, a project's). */
    is_int(dc(P, C, A, A, C), BBT_DECIDE_ALLOW,
           "create a repository: admin token, create owner");
    is_int(dc(P, C, A, A, A), BBT_DECIDE_ALLOW,
           "create a repository: admin token, admin owner");
    is_int(dc(P, C, W, W, C), BBT_DECIDE_TOKEN_SCOPE,
           "create a repository: PROJECT_WRITE token too low");
    is_int(dc(P, C, R, A, A), BBT_DECIDE_TOKEN_SCOPE,
           "create a repository: REPO_ADMIN token too low");
    is_int(dc(P, C, A, A, W), BBT_DECIDE_OWNER,
           "create a repository: write owner too low");
    is_int(dc(P, A, A, A, C), BBT_DECIDE_OWNER,
           "create owner, admin token: project settings refused");
    is_int(dc(S, A, A, A, C), BBT_DECIDE_OWNER,
           "create owner: repository admin refused");
    is_int(dc(S, W, A, A, C), BBT_DECIDE_ALLOW, "create owner pushes");
    is_int(dc(P, W, A, A, C), BBT_DECIDE_ALLOW, "create owner writes");
    is_int(dc(S, R, R, C, A), BBT_DECIDE_TOKEN_SCOPE,
           "token repo level create refused");
    is_int(dc(P, R, C, A, A), BBT_DECIDE_TOKEN_SCOPE,
           "token project level create refused");

    /* Fail closed. */
    is_int(dc(S, R, W, R, A), BBT_DECIDE_TOKEN_SCOPE,
           "impossible token pair is refused even for read");
    is_int(dc(S, R, N, R, A), BBT_DECIDE_TOKEN_SCOPE,
           "token without project level refused");
    is_int(dc(S, R, R, N, A), BBT_DECIDE_TOKEN_SCOPE,
           "token without repo level refused");
    is_int(dc(S, R, R, (bbt_level_t)5, A), BBT_DECIDE_TOKEN_SCOPE,
           "token repo level 5 refused");
    is_int(dc(S, N, A, A, A), BBT_DECIDE_TOKEN_SCOPE,
           "need level NONE refused (route said nothing)");
    is_int(dc(S, (bbt_level_t)5, A, A, A), BBT_DECIDE_TOKEN_SCOPE,
           "need level 5 refused");
    is_int(dc(BBT_SCOPE_SITE, R, A, A, A), BBT_DECIDE_TOKEN_SCOPE,
           "SITE_READ is no grant's: the matrix refuses it (bbt_decide "
           "decides it)");
    is_int(dc(S, R, R, R, (bbt_level_t)5), BBT_DECIDE_OWNER,
           "owner level 5 is garbage, refused");
    is_int(dc(S, R, R, R, (bbt_level_t)-1), BBT_DECIDE_OWNER,
           "owner level -1 refused");

    /* Everything, against the oracle. */
    for (s = -1; s <= 2; s++)
        for (need = -1; need <= 5; need++)
            for (tp = -1; tp <= 5; tp++)
                for (tr = -1; tr <= 5; tr++)
                    for (ow = -1; ow <= 5; ow++) {
                        bbt_decision_t got = dc(
                            (bbt_scope_t)s, (bbt_level_t)need, (bbt_level_t)tp,
                            (bbt_level_t)tr, (bbt_level_t)ow);
                        if (got != oracle(s, need, tp, tr, ow)) {
                            if (mismatches++ < 5)
                                diag("scope %d need %d tok %d/%d owner %d: "
                                     "got %d",
                                     s, need, tp, tr, ow, (int)got);
                        }
                        allowed += got == BBT_DECIDE_ALLOW;
                    }
    is_int(mismatches, 0, "exhaustive sweep agrees with the rule");
    /* Per valid pair: owner levels >= need, summed over needs and scopes:
     * 36 on a project, 48 on a repository. */
    is_int(allowed, 84, "exactly 84 allowed cases in the sweep");
}

int main(void)
{
    test_parse_name();
    test_db_levels();
    test_matrix();
    test_from_list();
    test_decide();
    return done_testing();
}
