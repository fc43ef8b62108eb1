/* The allow/deny decision: target, token= minimum, Destination, password
 * users. */
#include "bbt_decide.h"
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

static bbt_perm_t repo(bbt_level_t l)
{
    return perm(BBT_SCOPE_REPO, l);
}

static bbt_perm_t project(bbt_level_t l)
{
    return perm(BBT_SCOPE_PROJECT, l);
}

/* A token request on PROJ/repo needing `need`. */
static bbt_access_t token(bbt_level_t tp, bbt_level_t tr, bbt_level_t owner,
                          bbt_perm_t need)
{
    bbt_access_t a;

    memset(&a, 0, sizeof(a));
    a.token_project_level = tp;
    a.token_repo_level = tr;
    strcpy(a.target.key, "PROJ");
    strcpy(a.target.slug, "repo");
    a.target.need = need;
    a.owner_level = owner;
    a.token_need = project(N);
    return a;
}

static void with_dest(bbt_access_t *a, bbt_perm_t need, bbt_level_t owner)
{
    a->has_dest = 1;
    strcpy(a->dest.key, "DEST");
    strcpy(a->dest.slug, "other");
    a->dest.need = need;
    a->dest_owner_level = owner;
}

static int same_perm(bbt_perm_t a, bbt_perm_t b)
{
    return a.scope == b.scope && a.level == b.level;
}

static void check(const bbt_access_t *a, bbt_decision_t want,
                  const bbt_target_t *want_on, bbt_perm_t want_what,
                  const char *what_for)
{
    const bbt_target_t *on = NULL;
    const char *name;
    bbt_perm_t what = perm(BBT_SCOPE_PROJECT, N);

    is_int(bbt_decide(a, &on, &what), want, "%s", what_for);
    ok(on == want_on, "  decided on the %s",
       want_on == &a->dest ? "Destination" : "target");
    name = bbt_perm_name(want_what.scope, want_what.level);
    ok(same_perm(what, want_what), "  by %s", name ? name : "no permission");
}

/* Without token= and a Destination, the decision is the matrix's. */
static void test_matrix(void)
{
    static const bbt_level_t levels[] = {N, R, W, A};
    int bad = 0, n = 0;
    size_t tp, tr, ow, s, l;

    for (tp = 0; tp < 4; tp++)
        for (tr = 0; tr < 4; tr++)
            for (ow = 0; ow < 4; ow++)
                for (s = 0; s < 2; s++)
                    for (l = 0; l < 4; l++) {
                        bbt_perm_t need = perm((bbt_scope_t)s, levels[l]);
                        bbt_access_t a =
                            token(levels[tp], levels[tr], levels[ow], need);
                        const bbt_target_t *on;
                        bbt_perm_t what;

                        n++;
                        if (bbt_decide(&a, &on, &what) !=
                                bbt_perm_decide(need, levels[tp], levels[tr],
                                                levels[ow]) ||
                            on != &a.target || !same_perm(what, need))
                            bad++;
                    }
    is_int(bad, 0, "a plain token request is decided as the matrix says (%d)",
           n);
}

static void test_token_need(void)
{
    bbt_access_t a;

    a = token(R, R, A, repo(R));
    a.token_need = project(A);
    check(&a, BBT_DECIDE_TOKEN_SCOPE, &a.target, project(A),
          "token=PROJECT_ADMIN refuses a read-only token");

    a = token(A, A, R, repo(R));
    a.token_need = project(A);
    check(&a, BBT_DECIDE_ALLOW, &a.target, project(A),
          "token= caps the token alone: an owner with REPO_READ forks");

    a = token(A, A, N, repo(R));
    a.token_need = project(A);
    check(&a, BBT_DECIDE_OWNER, &a.target, repo(R),
          "the target comes first: an owner without access is refused");

    a = token(W, W, A, repo(R));
    a.token_need = repo(A);
    check(&a, BBT_DECIDE_TOKEN_SCOPE, &a.target, repo(A),
          "token=REPO_ADMIN against a REPO_WRITE token");
}

static void test_dest(void)
{
    bbt_access_t a;

    a = token(W, W, W, repo(R));
    with_dest(&a, repo(W), W);
    check(&a, BBT_DECIDE_ALLOW, &a.dest, repo(W),
          "COPY: source and Destination allowed");

    a = token(W, W, W, repo(R));
    with_dest(&a, repo(W), R);
    check(&a, BBT_DECIDE_OWNER, &a.dest, repo(W),
          "the owner cannot write the Destination");

    a = token(R, R, A, repo(R));
    with_dest(&a, repo(W), A);
    check(&a, BBT_DECIDE_TOKEN_SCOPE, &a.dest, repo(W),
          "a read-only token cannot write the Destination");

    a = token(W, W, R, repo(W));
    with_dest(&a, repo(R), A);
    check(&a, BBT_DECIDE_OWNER, &a.target, repo(W),
          "a refused source decides before the Destination");

    a = token(W, W, W, repo(R));
    with_dest(&a, repo(W), W);
    a.dest_token_need = project(A);
    check(&a, BBT_DECIDE_TOKEN_SCOPE, &a.dest, project(A),
          "the Destination route's token= holds the token to it too");

    a = token(A, A, W, repo(R));
    with_dest(&a, repo(W), W);
    a.dest_token_need = project(A);
    check(&a, BBT_DECIDE_ALLOW, &a.dest, project(A),
          "  and caps the token alone, not its owner");

    a = token(A, A, A, repo(R));
    with_dest(&a, project(A), A);
    a.token_need = project(A);
    a.dest_owner_level = W;
    check(&a, BBT_DECIDE_OWNER, &a.dest, project(A),
          "token= and then the Destination's own owner level");

    a = token(A, A, A, repo(R));
    with_dest(&a, repo(N), A);
    check(&a, BBT_DECIDE_TOKEN_SCOPE, &a.dest, repo(N),
          "fail closed: a Destination that needs nothing valid is refused");
}

/* A fork or a move (body-project=): the project the body names is the
 * second target, a project with no slug, decided like a Destination. */
static void into(bbt_access_t *a, const char *key, bbt_level_t owner)
{
    a->has_dest = 1;
    strcpy(a->dest.key, key);
    a->dest.need = project(A);
    a->dest_owner_level = owner;
    a->dest_token_need = project(N);
}

static void test_body_project(void)
{
    bbt_access_t a;

    a = token(A, A, A, repo(A));
    into(&a, "OTHER", A);
    check(&a, BBT_DECIDE_ALLOW, &a.dest, project(A),
          "a move by a full token whose owner administers both projects");

    a = token(R, A, A, repo(A));
    into(&a, "OTHER", A);
    check(&a, BBT_DECIDE_TOKEN_SCOPE, &a.dest, project(A),
          "a REPO_ADMIN token cannot move into another project, even where "
          "its owner may");

    a = token(A, A, A, repo(A));
    into(&a, "OTHER", W);
    check(&a, BBT_DECIDE_OWNER, &a.dest, project(A),
          "nor a full token whose owner is no project admin there");

    /* Its own key and an "id" the backend may take instead: the token's
     * own level must reach the route's permission. */
    a = token(R, A, A, repo(A));
    strcpy(a.into_id.key, "by id");
    a.into_id.need = project(A);
    check(&a, BBT_DECIDE_TOKEN_SCOPE, &a.into_id, project(A),
          "a REPO_ADMIN token cannot move into a project given by id");

    a = token(A, A, A, repo(A));
    strcpy(a.into_id.key, "by id");
    a.into_id.need = project(A);
    check(&a, BBT_DECIDE_ALLOW, &a.into_id, project(A),
          "a PROJECT_ADMIN token may (the backend checks its owner there)");

    a = token(A, A, A, repo(A));
    a.scope.kind = BBT_KIND_PROJECT;
    strcpy(a.scope.key, "PROJ");
    into(&a, "OTHER", A);
    check(&a, BBT_DECIDE_OUT_OF_SCOPE, &a.dest, project(A),
          "a project token cannot move out of its project");

    a = token(A, A, N, repo(R));
    a.scope.kind = BBT_KIND_PROJECT;
    strcpy(a.scope.key, "PROJ");
    into(&a, "PROJ", N);
    check(&a, BBT_DECIDE_ALLOW, &a.dest, project(A),
          "  but may fork inside it (no owner to ask)");

    a = token(N, A, N, repo(R));
    a.scope.kind = BBT_KIND_REPO;
    strcpy(a.scope.key, "PROJ");
    strcpy(a.scope.slug, "repo");
    into(&a, "PROJ", N);
    check(&a, BBT_DECIDE_OUT_OF_SCOPE, &a.dest, project(A),
          "a repository token cannot fork, even into its own project");

    a = token(A, A, N, repo(R));
    a.scope.kind = BBT_KIND_PROJECT;
    strcpy(a.scope.key, "PROJ");
    into(&a, "", N);
    a.dest_personal = 1;
    check(&a, BBT_DECIDE_OUT_OF_SCOPE, &a.dest, project(A),
          "a personal project a project token has not: no key, refused");

    a = token(A, A, A, repo(R));
    into(&a, "", A);
    a.dest_personal = 1;
    check(&a, BBT_DECIDE_OUT_OF_SCOPE, &a.dest, project(A),
          "fail closed: a personal project never filled in is refused");

    a = token(A, A, A, repo(R));
    into(&a, "~alice", A);
    a.dest_personal = 1;
    check(&a, BBT_DECIDE_ALLOW, &a.dest, project(A),
          "a personal token forks into its owner's project");

    a = token(N, N, R, repo(R));
    a.password = 1;
    into(&a, "", A);
    a.dest_personal = 1;
    check(&a, BBT_DECIDE_OUT_OF_SCOPE, &a.dest, project(A),
          "  a password user too is refused a project without a key");
}

/* A token request on PROJ/repo by a token of kind bound to key (PROJ/repo
 * for a repository's), that names a repository elsewhere (query-repo=,
 * body-repo=) found outside its scope. */
static bbt_access_t named(bbt_kind_t kind, const char *key)
{
    bbt_access_t a = token(kind == BBT_KIND_REPO ? N : R, R, N, repo(R));

    a.scope.kind = kind;
    strcpy(a.scope.key, key);
    if (kind == BBT_KIND_REPO)
        strcpy(a.scope.slug, "repo");
    a.named_outside = 1;
    strcpy(a.named.repo.key, "OTHER");
    strcpy(a.named.repo.slug, "secret");
    return a;
}

static void test_named(void)
{
    bbt_access_t a;
    const bbt_target_t *on = NULL;
    bbt_perm_t what;

    a = named(BBT_KIND_REPO, "PROJ");
    a.named_outside = 0;
    check(&a, BBT_DECIDE_ALLOW, &a.target, repo(R),
          "a repository token reads its repository");
    a.named_outside = 1;
    is_int(bbt_decide(&a, &on, &what), BBT_DECIDE_OUT_OF_SCOPE,
           "  but not when it names OTHER/secret elsewhere");
    ok(on == &a.named.repo, "  decided on the repository named");

    a = named(BBT_KIND_PROJECT, "PROJ");
    is_int(bbt_decide(&a, &on, &what), BBT_DECIDE_OUT_OF_SCOPE,
           "a project token naming one outside its project");
    ok(on == &a.named.repo, "  decided on the repository named");

    a = named(BBT_KIND_PROJECT, "OTHER");
    is_int(bbt_decide(&a, &on, &what), BBT_DECIDE_OUT_OF_SCOPE,
           "  the target outside is said first");
    ok(on == &a.target, "  decided on the target");

    a = named(BBT_KIND_PERSONAL, "");
    a.password = 1;
    a.owner_level = R;
    check(&a, BBT_DECIDE_ALLOW, &a.target, repo(R),
          "a password user is decided on the path alone");
}

static void test_password(void)
{
    bbt_access_t a;

    a = token(N, N, R, repo(R));
    a.password = 1;
    check(&a, BBT_DECIDE_ALLOW, &a.target, repo(R),
          "a password user reads with a read grant (no token levels)");

    a = token(N, N, R, repo(W));
    a.password = 1;
    check(&a, BBT_DECIDE_OWNER, &a.target, repo(W),
          "a password user cannot write with a read grant");

    a = token(N, N, R, repo(R));
    a.password = 1;
    a.token_need = project(A);
    check(&a, BBT_DECIDE_ALLOW, &a.target, repo(R),
          "token= does not apply to a password user");

    a = token(N, N, W, repo(R));
    a.password = 1;
    with_dest(&a, repo(W), R);
    check(&a, BBT_DECIDE_OWNER, &a.dest, repo(W),
          "a password user's Destination is held to the user's grants");

    a = token(N, N, W, repo(R));
    a.password = 1;
    with_dest(&a, repo(W), W);
    a.dest_token_need = project(A);
    check(&a, BBT_DECIDE_ALLOW, &a.dest, repo(W),
          "nor does the Destination's token=");

    a = token(N, N, N, repo(R));
    a.password = 1;
    check(&a, BBT_DECIDE_OWNER, &a.target, repo(R),
          "a password user without grants gets nothing");
}

/* A SITE_READ request (a list across projects): no target, empty key
 * and slug. */
static bbt_access_t site(bbt_kind_t kind, bbt_level_t tp, bbt_level_t tr)
{
    bbt_access_t a;

    memset(&a, 0, sizeof(a));
    a.token_project_level = tp;
    a.token_repo_level = tr;
    a.scope.kind = kind;
    if (kind != BBT_KIND_PERSONAL)
        strcpy(a.scope.key, "PROJ");
    if (kind == BBT_KIND_REPO)
        strcpy(a.scope.slug, "repo");
    a.target.need = perm(BBT_SCOPE_SITE, R);
    a.token_need = project(N);
    a.into_id.need = project(N);
    return a;
}

static void test_site(void)
{
    static const bbt_level_t pairs[6][2] = {{R, R}, {R, W}, {R, A},
                                            {W, W}, {W, A}, {A, A}};
    static const bbt_level_t owners[] = {N, R, W, A};
    const bbt_perm_t need = perm(BBT_SCOPE_SITE, R);
    bbt_access_t a;
    size_t i, j;

    /* Every personal token: whatever its pair, and whatever owner_level
     * says (none is asked for SITE_READ: the owner is live, or the token
     * was refused before the decision). */
    for (i = 0; i < 6; i++)
        for (j = 0; j < 4; j++) {
            char what[80];

            a = site(BBT_KIND_PERSONAL, pairs[i][0], pairs[i][1]);
            a.owner_level = owners[j];
            snprintf(what, sizeof(what),
                     "SITE_READ: a personal token %d/%d (owner_level %d)",
                     (int)pairs[i][0], (int)pairs[i][1], (int)owners[j]);
            check(&a, BBT_DECIDE_ALLOW, &a.target, need, what);
        }

    a = site(BBT_KIND_PROJECT, A, A);
    check(&a, BBT_DECIDE_SITE_WIDE, &a.target, need,
          "SITE_READ: a project's token, even PROJECT_ADMIN, is refused");
    a = site(BBT_KIND_PROJECT, R, R);
    a.owner_level = A;
    check(&a, BBT_DECIDE_SITE_WIDE, &a.target, need,
          "SITE_READ: a project's read token is refused");
    a = site(BBT_KIND_REPO, N, A);
    check(&a, BBT_DECIDE_SITE_WIDE, &a.target, need,
          "SITE_READ: a repository's token, even REPO_ADMIN, is refused");
    a = site(BBT_KIND_INVALID, A, A);
    check(&a, BBT_DECIDE_TOKEN_SCOPE, &a.target, need,
          "SITE_READ: a token of no kind is refused");

    /* A password user: their own account, live (admin on their own
     * personal project) or not. */
    a = site(BBT_KIND_PERSONAL, N, N);
    a.password = 1;
    a.owner_level = A;
    check(&a, BBT_DECIDE_ALLOW, &a.target, need,
          "SITE_READ: a password user with a live account");
    a.owner_level = N;
    check(&a, BBT_DECIDE_OWNER, &a.target, need,
          "SITE_READ: a password user disabled or without a row is refused");
    a.owner_level = (bbt_level_t)7;
    check(&a, BBT_DECIDE_OWNER, &a.target, need,
          "SITE_READ: a password user's level out of range is none");

    /* Fail closed: nothing else may come with it. */
    a = site(BBT_KIND_PERSONAL, R, R);
    a.token_project_level = W;
    check(&a, BBT_DECIDE_TOKEN_SCOPE, &a.target, need,
          "SITE_READ: an impossible token pair is refused");
    a = site(BBT_KIND_PERSONAL, A, A);
    a.target.need = perm(BBT_SCOPE_SITE, W);
    check(&a, BBT_DECIDE_TOKEN_SCOPE, &a.target, perm(BBT_SCOPE_SITE, W),
          "SITE_ at another level than read is refused");
    a = site(BBT_KIND_PERSONAL, A, A);
    a.token_need = project(R);
    check(&a, BBT_DECIDE_TOKEN_SCOPE, &a.target, need,
          "SITE_READ with a token= minimum is refused");
    a = site(BBT_KIND_PERSONAL, A, A);
    with_dest(&a, repo(R), A);
    check(&a, BBT_DECIDE_TOKEN_SCOPE, &a.target, need,
          "SITE_READ with a second target is refused");
    a = site(BBT_KIND_PERSONAL, A, A);
    a.named_outside = 1;
    check(&a, BBT_DECIDE_TOKEN_SCOPE, &a.target, need,
          "SITE_READ with a named repository is refused");
    a = site(BBT_KIND_PERSONAL, A, A);
    a.into_id.need = project(A);
    check(&a, BBT_DECIDE_TOKEN_SCOPE, &a.target, need,
          "SITE_READ with a project given by id is refused");
}

static void test_fail_closed(void)
{
    bbt_access_t a;

    a = token(W, R, A, repo(R));
    check(&a, BBT_DECIDE_TOKEN_SCOPE, &a.target, repo(R),
          "an impossible token pair is refused");

    a = token(A, A, A, repo(N));
    check(&a, BBT_DECIDE_TOKEN_SCOPE, &a.target, repo(N),
          "a target that needs no valid level is refused");

    a = token(A, A, (bbt_level_t)7, repo(R));
    check(&a, BBT_DECIDE_OWNER, &a.target, repo(R),
          "an owner level out of range is none");
}

int main(void)
{
    test_matrix();
    test_token_need();
    test_dest();
    test_body_project();
    test_named();
    test_password();
    test_site();
    test_fail_closed();
    return done_testing();
}
