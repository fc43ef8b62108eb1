/* Token kinds: a project's and a repository's tokens reach only their own
 * scope, with their own permission as the ceiling and no owner to cap
 * them; the scope's own checks; identities no user name can take. */
#include "bbt_decide.h"
#include "bbt_kind.h"
#include "tap.h"

#include <stdio.h>
#include <string.h>

#define R BBT_LEVEL_READ
#define W BBT_LEVEL_WRITE
#define A BBT_LEVEL_ADMIN
#define N BBT_LEVEL_NONE

static bbt_perm_t perm(bbt_scope_t s, bbt_level_t l)
{
    bbt_perm_t p;

    p.scope = s;
    p.level = l;
    return p;
}

static bbt_target_t target(const char *key, const char *slug, bbt_perm_t need)
{
    bbt_target_t t;

    memset(&t, 0, sizeof(t));
    strcpy(t.key, key);
    strcpy(t.slug, slug);
    t.need = need;
    return t;
}

static bbt_tokscope_t scope(bbt_kind_t kind, const char *key, const char *slug)
{
    bbt_tokscope_t s;

    memset(&s, 0, sizeof(s));
    s.kind = kind;
    strcpy(s.key, key);
    strcpy(s.slug, slug);
    return s;
}

/* A token request of scope s, levels (tp, tr), owner level `owner`, on
 * key/slug needing need. */
static bbt_access_t token(bbt_tokscope_t s, bbt_level_t tp, bbt_level_t tr,
                          bbt_level_t owner, const char *key, const char *slug,
                          bbt_perm_t need)
{
    bbt_access_t a;

    memset(&a, 0, sizeof(a));
    a.scope = s;
    a.token_project_level = tp;
    a.token_repo_level = tr;
    a.owner_level = owner;
    a.target = target(key, slug, need);
    a.token_need = perm(BBT_SCOPE_PROJECT, N);
    return a;
}

static bbt_decision_t decide(const bbt_access_t *a)
{
    const bbt_target_t *on;
    bbt_perm_t what;

    return bbt_decide(a, &on, &what);
}

static void test_rows(void)
{
    bbt_tokscope_t s;

    ok(bbt_kind_from_row(NULL, NULL, &s) == 0 && s.kind == BBT_KIND_PERSONAL,
       "no key, no slug: a personal token");
    ok(bbt_kind_from_row("PROJ", NULL, &s) == 0 && s.kind == BBT_KIND_PROJECT &&
           !strcmp(s.key, "PROJ") && !s.slug[0],
       "a key: a project's token");
    ok(bbt_kind_from_row("PROJ", "repo", &s) == 0 && s.kind == BBT_KIND_REPO &&
           !strcmp(s.slug, "repo"),
       "a key and a slug: a repository's token");
    ok(bbt_kind_from_row("~alice", "dots", &s) == 0 && s.kind == BBT_KIND_REPO,
       "a personal project's repository");
    ok(bbt_kind_from_row(NULL, "repo", &s) == -1 && s.kind == BBT_KIND_INVALID,
       "a slug without a key: invalid");
    ok(bbt_kind_from_row("proj", NULL, &s) == -1 && s.kind == BBT_KIND_INVALID,
       "a key not spelled canonically: invalid");
    ok(bbt_kind_from_row("PROJ", "x.git", &s) == -1,
       "a slug the schema refuses: invalid");
    ok(bbt_kind_from_row("PROJ", "", &s) == -1, "an empty slug: invalid");
    s = scope(BBT_KIND_PERSONAL, "PROJ", "");
    ok(!bbt_kind_valid(&s), "a personal token bound to a project: invalid");
}

static void test_perms(void)
{
    ok(bbt_kind_perms_valid(BBT_KIND_PERSONAL, R, W), "personal: READ, WRITE");
    ok(!bbt_kind_perms_valid(BBT_KIND_PERSONAL, N, W),
       "personal: no project level is broken");
    ok(bbt_kind_perms_valid(BBT_KIND_PROJECT, A, A), "project: ADMIN, ADMIN");
    ok(!bbt_kind_perms_valid(BBT_KIND_PROJECT, W, R),
       "project: repository below project is broken");
    ok(bbt_kind_perms_valid(BBT_KIND_REPO, N, R), "repository: -, READ");
    ok(bbt_kind_perms_valid(BBT_KIND_REPO, N, A), "repository: -, ADMIN");
    ok(!bbt_kind_perms_valid(BBT_KIND_REPO, R, R),
       "repository: a project level is broken");
    ok(!bbt_kind_perms_valid(BBT_KIND_REPO, N, N),
       "repository: no repository level is broken");
    ok(!bbt_kind_perms_valid(BBT_KIND_INVALID, R, R), "invalid: never");
}

/* What the backend is told the token holds (BBTOKEN_TOKEN_PERMISSIONS):
 * for every kind and pair, Bitbucket's names as bbt_perm_name spells them,
 * the project's first, a repository token's repository one alone; nothing
 * for a pair its kind may not hold, levels out of range among them. */
static void test_perm_names(void)
{
    static const bbt_kind_t kinds[] = {BBT_KIND_PERSONAL, BBT_KIND_PROJECT,
                                       BBT_KIND_REPO, BBT_KIND_INVALID};
    size_t k;
    int p, r, wrong = 0, named = 0;

    for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        for (p = -1; p <= BBT_LEVEL_ADMIN + 1; p++) {
            for (r = -1; r <= BBT_LEVEL_ADMIN + 1; r++) {
                const char *got = bbt_kind_perm_names(kinds[k], (bbt_level_t)p,
                                                      (bbt_level_t)r);
                char want[64];

                if (!bbt_kind_perms_valid(kinds[k], (bbt_level_t)p,
                                          (bbt_level_t)r)) {
                    if (got) {
                        diag("kind %d (%d, %d): '%s', want none", (int)k, p, r,
                             got);
                        wrong++;
                    }
                    continue;
                }
                named++;
                if (p == BBT_LEVEL_NONE) {
                    snprintf(want, sizeof(want), "%s",
                             bbt_perm_name(BBT_SCOPE_REPO, (bbt_level_t)r));
                } else {
                    snprintf(want, sizeof(want), "%s %s",
                             bbt_perm_name(BBT_SCOPE_PROJECT, (bbt_level_t)p),
                             bbt_perm_name(BBT_SCOPE_REPO, (bbt_level_t)r));
                }
                if (!got || strcmp(got, want) != 0) {
                    diag("kind %d (%d, %d): '%s', want '%s'", (int)k, p, r,
                         got ? got : "NULL", want);
                    wrong++;
                }
            }
        }
    }
    is_int(wrong, 0, "every pair named as bbt_perm_name spells it, or not");
    is_int(named, 6 + 6 + 3,
           "six pairs for personal and project tokens, "
           "three for repository tokens");
    is_str(bbt_kind_perm_names(BBT_KIND_PERSONAL, W, W),
           "PROJECT_WRITE REPO_WRITE", "personal: PROJECT_WRITE REPO_WRITE");
    is_str(bbt_kind_perm_names(BBT_KIND_PROJECT, R, A),
           "PROJECT_READ REPO_ADMIN", "project: PROJECT_READ REPO_ADMIN");
    is_str(bbt_kind_perm_names(BBT_KIND_REPO, N, W), "REPO_WRITE",
           "repository: REPO_WRITE alone");
    is_str(bbt_kind_perm_names(BBT_KIND_REPO, R, W), NULL,
           "repository with a project level: none");
    is_str(bbt_kind_perm_names(BBT_KIND_PERSONAL, N, W), NULL,
           "personal without a project level: none");
    is_str(bbt_kind_perm_names(BBT_KIND_PROJECT, BBT_LEVEL_CREATE, A), NULL,
           "create, which no token holds: none");
}

static void test_perm_lists(void)
{
    bbt_perm_t l[2];
    bbt_level_t p, r;
    const char *why = NULL;

    l[0] = perm(BBT_SCOPE_REPO, W);
    ok(bbt_kind_perms_from_list(BBT_KIND_REPO, l, 1, &p, &r, &why) == 0 &&
           p == N && r == W,
       "repository token, REPO_WRITE: no project level, WRITE");
    ok(bbt_kind_perms_from_list(BBT_KIND_REPO, l, 0, &p, &r, &why) == 0 &&
           p == N && r == A,
       "repository token, no list: REPO_ADMIN alone");
    l[1] = perm(BBT_SCOPE_PROJECT, R);
    ok(bbt_kind_perms_from_list(BBT_KIND_REPO, l, 2, &p, &r, &why) == -1 &&
           why && strstr(why, "no project permission"),
       "repository token with a PROJECT_ permission: refused, saying why");
    l[1] = perm(BBT_SCOPE_REPO, R);
    ok(bbt_kind_perms_from_list(BBT_KIND_REPO, l, 2, &p, &r, &why) == -1,
       "two repository permissions: refused");
    l[0] = perm(BBT_SCOPE_PROJECT, W);
    ok(bbt_kind_perms_from_list(BBT_KIND_PROJECT, l, 1, &p, &r, &why) == 0 &&
           p == W && r == W,
       "project token: the personal rules (PROJECT_WRITE gives REPO_WRITE)");
    l[0] = perm(BBT_SCOPE_PROJECT, A);
    l[1] = perm(BBT_SCOPE_REPO, R);
    ok(bbt_kind_perms_from_list(BBT_KIND_PROJECT, l, 2, &p, &r, &why) == 0 &&
           p == A && r == A,
       "project token, PROJECT_ADMIN with REPO_READ: REPO_ADMIN, inherited");
}

static void test_project_token(void)
{
    bbt_tokscope_t s = scope(BBT_KIND_PROJECT, "PROJ", "");
    bbt_access_t a;

    a = token(s, R, W, N, "PROJ", "repo", perm(BBT_SCOPE_REPO, W));
    is_int(decide(&a), BBT_DECIDE_ALLOW,
           "project token: push to a repository of its project, no owner "
           "level at all");
    a = token(s, R, W, N, "PROJ", "", perm(BBT_SCOPE_PROJECT, R));
    is_int(decide(&a), BBT_DECIDE_ALLOW, "  read the project itself");
    a = token(s, R, R, A, "PROJ", "repo", perm(BBT_SCOPE_REPO, W));
    is_int(decide(&a), BBT_DECIDE_TOKEN_SCOPE,
           "  its own level is the ceiling: REPO_READ cannot push");
    a = token(s, A, A, A, "OTHER", "repo", perm(BBT_SCOPE_REPO, R));
    is_int(decide(&a), BBT_DECIDE_OUT_OF_SCOPE,
           "  another project's repository: out of scope, even for ADMIN");
    a = token(s, A, A, A, "OTHER", "", perm(BBT_SCOPE_PROJECT, R));
    is_int(decide(&a), BBT_DECIDE_OUT_OF_SCOPE, "  another project itself");
    a = token(s, A, A, A, "PROJ2", "repo", perm(BBT_SCOPE_REPO, R));
    is_int(decide(&a), BBT_DECIDE_OUT_OF_SCOPE,
           "  a project whose key starts with its key");
    a = token(s, A, A, A, "~alice", "repo", perm(BBT_SCOPE_REPO, R));
    is_int(decide(&a), BBT_DECIDE_OUT_OF_SCOPE, "  a personal project");
    a = token(s, A, A, N, "PROJ", "", perm(BBT_SCOPE_PROJECT, A));
    is_int(decide(&a), BBT_DECIDE_ALLOW, "  PROJECT_ADMIN: project settings");
    a = token(s, A, A, N, "PROJ", "repo", perm(BBT_SCOPE_REPO, R));
    a.token_need = perm(BBT_SCOPE_PROJECT, A);
    is_int(decide(&a), BBT_DECIDE_ALLOW, "  token=PROJECT_ADMIN: held");
    a.token_project_level = W;
    is_int(decide(&a), BBT_DECIDE_TOKEN_SCOPE, "  token=PROJECT_ADMIN: not");
}

static void test_repo_token(void)
{
    bbt_tokscope_t s = scope(BBT_KIND_REPO, "PROJ", "repo");
    bbt_access_t a;
    const bbt_target_t *on;
    bbt_perm_t what;

    a = token(s, N, W, N, "PROJ", "repo", perm(BBT_SCOPE_REPO, W));
    is_int(decide(&a), BBT_DECIDE_ALLOW,
           "repository token: push to its repository, no owner");
    a = token(s, N, R, A, "PROJ", "repo", perm(BBT_SCOPE_REPO, W));
    is_int(decide(&a), BBT_DECIDE_TOKEN_SCOPE, "  REPO_READ cannot push");
    a = token(s, N, A, A, "PROJ", "other", perm(BBT_SCOPE_REPO, R));
    is_int(decide(&a), BBT_DECIDE_OUT_OF_SCOPE,
           "  another repository of the same project: out of scope");
    a = token(s, N, A, A, "PROJ", "Repo", perm(BBT_SCOPE_REPO, R));
    is_int(decide(&a), BBT_DECIDE_OUT_OF_SCOPE, "  slugs are compared exactly");
    a = token(s, N, A, A, "PROJ", "", perm(BBT_SCOPE_PROJECT, R));
    is_int(decide(&a), BBT_DECIDE_OUT_OF_SCOPE,
           "  its project itself: out of scope");
    a = token(s, N, A, A, "OTHER", "repo", perm(BBT_SCOPE_REPO, R));
    is_int(decide(&a), BBT_DECIDE_OUT_OF_SCOPE,
           "  the same slug in another project");
    a = token(s, N, A, A, "PROJ", "repo", perm(BBT_SCOPE_PROJECT, A));
    is_int(decide(&a), BBT_DECIDE_TOKEN_SCOPE,
           "  creating the repository (PROJECT_ADMIN on it): no project "
           "permission");
    a = token(s, N, A, A, "PROJ", "repo", perm(BBT_SCOPE_REPO, R));
    a.token_need = perm(BBT_SCOPE_PROJECT, R);
    is_int(decide(&a), BBT_DECIDE_TOKEN_SCOPE,
           "  token=PROJECT_READ: a repository token holds none");
    a = token(s, R, A, A, "PROJ", "repo", perm(BBT_SCOPE_REPO, R));
    is_int(decide(&a), BBT_DECIDE_TOKEN_SCOPE,
           "  a repository token with a project level (a broken row): "
           "refused");

    /* COPY and MOVE: both ends inside. */
    a = token(s, N, W, N, "PROJ", "repo", perm(BBT_SCOPE_REPO, R));
    a.has_dest = 1;
    a.dest = target("PROJ", "repo", perm(BBT_SCOPE_REPO, W));
    is_int(decide(&a), BBT_DECIDE_ALLOW, "  COPY within it");
    a.dest = target("PROJ", "other", perm(BBT_SCOPE_REPO, W));
    is_int(bbt_decide(&a, &on, &what), BBT_DECIDE_OUT_OF_SCOPE,
           "  COPY into another repository: out of scope");
    ok(on == &a.dest, "  decided on the Destination");
}

static void test_personal_unchanged(void)
{
    bbt_access_t a;

    a = token(scope(BBT_KIND_PERSONAL, "", ""), A, A, R, "ANY", "repo",
              perm(BBT_SCOPE_REPO, W));
    is_int(decide(&a), BBT_DECIDE_OWNER,
           "personal token: anywhere, and its owner caps it");
    a.owner_level = W;
    is_int(decide(&a), BBT_DECIDE_ALLOW, "  with the owner's WRITE: in");
    /* A password user's request carries no scope of its own. */
    a = token(scope(BBT_KIND_REPO, "PROJ", "repo"), N, N, W, "OTHER", "x",
              perm(BBT_SCOPE_REPO, W));
    a.password = 1;
    is_int(decide(&a), BBT_DECIDE_ALLOW,
           "a password user is decided by their own grants alone");
}

static void test_identity(void)
{
    char buf[BBT_KIND_ID_MAX];
    bbt_tokscope_t s = scope(BBT_KIND_PROJECT, "PROJ", "");

    is_str(bbt_kind_identity(&s, buf, sizeof(buf)), "project:PROJ",
           "a project token is project:KEY");
    ok(!bbt_input_user_name(buf, strlen(buf)), "  which no user name can be");
    is_str(bbt_kind_describe(&s, buf, sizeof(buf)), "project PROJ",
           "described in words");
    s = scope(BBT_KIND_REPO, "~alice", "site");
    is_str(bbt_kind_identity(&s, buf, sizeof(buf)), "repo:~alice/site",
           "a repository token is repo:KEY/slug");
    ok(!bbt_input_user_name(buf, strlen(buf)), "  which no user name can be");
    is_str(bbt_kind_describe(&s, buf, sizeof(buf)), "repository ~alice/site",
           "described in words");
    s = scope(BBT_KIND_PERSONAL, "", "");
    is_str(bbt_kind_identity(&s, buf, sizeof(buf)), "",
           "a personal token has no identity of its own");
    is_str(bbt_kind_describe(&s, buf, sizeof(buf)), "", "  nor a description");
    s = scope(BBT_KIND_REPO, "~", "");
    memset(s.key + 1, 'a', BBT_USER_MAX);
    memset(s.slug, 's', BBT_SLUG_MAX);
    bbt_kind_identity(&s, buf, sizeof(buf));
    is_int((int)strlen(buf), (int)sizeof(buf) - 1,
           "the longest identity fits BBT_KIND_ID_MAX");
}

int main(void)
{
    test_rows();
    test_perms();
    test_perm_names();
    test_perm_lists();
    test_project_token();
    test_repo_token();
    test_personal_unchanged();
    test_identity();
    return done_testing();
}
