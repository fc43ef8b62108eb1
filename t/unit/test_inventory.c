/* The token inventory's statement: which conditions each filter adds, with
 * which parameters, and what is refused. */
#include "bbt_inventory.h"
#include "tap.h"

#include <string.h>

static int has(const bbt_inventory_query_t *q, const char *s)
{
    return strstr(q->sql, s) != NULL;
}

static void test_plain(void)
{
    bbt_inventory_t f;
    bbt_inventory_query_t q;

    memset(&f, 0, sizeof(f));
    ok(!bbt_inventory_filtered(&f), "no filter: not filtered");
    ok(bbt_inventory_sql(&f, 0, -1, 0, &q) == 0 && q.nparams == 0,
       "no filter: no parameters");
    ok(has(&q, "WHERE t.revoked_at IS NULL") &&
           has(&q, "ORDER BY 2, t.created_at, t.id") && !has(&q, "LIMIT") &&
           !has(&q, "UPDATE"),
       "live tokens only, ordered, no limit, no change");
    ok(has(&q, "LEFT JOIN bbtoken_users u ON u.id = t.user_id") &&
           !has(&q, "FROM bbtoken_tokens t JOIN"),
       "every kind of token: the owner LEFT JOINed");
    ok(has(&q, "COALESCE(u.name, bbtoken_scope_name(t.project_key,"
               " t.repo_slug))") &&
           has(&q, "t.project_key, t.repo_slug,"),
       "the holder's name, and a token's project and repository");
    ok(has(&q, "array_to_string(t.allowed_nets, ','),") &&
           has(&q, "(SELECT count(*) FROM bbtoken_token_nets n"
                   " WHERE n.token_id = t.id) FROM"),
       "then its allow-list and how many address groups it was used from");
    ok(!has(&q, "t.user_id IS"), "no kind: no condition on the holder");
}

/* A page: two halves in their indexes' order, each cut at the page's end,
 * merged in the one order of the list. */
static void test_page(void)
{
    bbt_inventory_t f;
    bbt_inventory_query_t q;
    const char *users, *scopes;

    memset(&f, 0, sizeof(f));
    ok(bbt_inventory_sql(&f, 0, 26, 50, &q) == 0 && q.nparams == 2 &&
           strcmp(q.params[0], "26") == 0 && strcmp(q.params[1], "50") == 0,
       "a page: LIMIT and OFFSET as parameters");
    users = strstr(q.sql, "(SELECT t.id, u.name AS h, t.created_at AS at"
                          " FROM bbtoken_users u CROSS JOIN LATERAL"
                          " (SELECT t.id, t.created_at FROM bbtoken_tokens t"
                          " WHERE t.user_id = u.id AND t.revoked_at IS NULL"
                          " ORDER BY t.created_at, t.id OFFSET 0) t"
                          " ORDER BY u.name, t.created_at, t.id"
                          " LIMIT (SELECT $1::bigint + $2::bigint))");
    scopes = strstr(q.sql, "(SELECT t.id, bbtoken_scope_name(t.project_key,"
                           " t.repo_slug) AS h, t.created_at AS at"
                           " FROM bbtoken_tokens t"
                           " LEFT JOIN bbtoken_users u ON u.id = t.user_id"
                           " WHERE t.revoked_at IS NULL AND t.user_id IS NULL"
                           " ORDER BY bbtoken_scope_name(t.project_key,"
                           " t.repo_slug), t.created_at, t.id"
                           " LIMIT (SELECT $1::bigint + $2::bigint))");
    ok(users && scopes && users < scopes && has(&q, ") UNION ALL ("),
       "the users' tokens by name, then the others' by holder, each cut at "
       "start + limit");
    ok(has(&q, ") s ORDER BY h, at, id LIMIT $1::bigint OFFSET $2::bigint) p"
               " CROSS JOIN LATERAL (SELECT * FROM bbtoken_tokens t"
               " WHERE t.id = p.id OFFSET 0) t LEFT JOIN LATERAL"
               " (SELECT u.name FROM bbtoken_users u WHERE u.id = t.user_id"
               " OFFSET 0) u ON true ORDER BY p.h, p.at, p.id") &&
           strncmp(q.sql, "SELECT t.id, COALESCE(u.name,", 29) == 0,
       "merged, cut to the page, and only the page's tokens read in full");
    f.kind = BBT_INV_KIND_PERSONAL;
    f.owner = "alice";
    ok(bbt_inventory_sql(&f, 0, 26, 50, &q) == 0 && q.nparams == 3 &&
           !has(&q, "UNION") &&
           !has(&q, "AS h, t.created_at AS at FROM"
                    " bbtoken_tokens t") &&
           has(&q,
               "t.revoked_at IS NULL AND t.user_id IS NOT NULL"
               " ORDER BY t.created_at, t.id OFFSET 0) t"
               " WHERE lower(u.name COLLATE \"C\") = lower($1 COLLATE \"C\")"
               " ORDER BY u.name, t.created_at, t.id"
               " LIMIT $2::bigint OFFSET $3::bigint) p"),
       "the users' tokens alone: one half, the page's LIMIT and OFFSET; each "
       "user's a look-up by key, the owner's condition outside it");
    f.kind = BBT_INV_KIND_REPO;
    f.owner = NULL;
    f.project = "p1";
    ok(bbt_inventory_sql(&f, 0, 26, 50, &q) == 0 && q.nparams == 3 &&
           !has(&q, "UNION") &&
           !has(&q, "JOIN bbtoken_tokens t ON t.user_id") &&
           has(&q, "t.user_id IS NULL AND t.repo_slug IS NOT NULL ORDER BY"
                   " bbtoken_scope_name(t.project_key, t.repo_slug),"
                   " t.created_at, t.id LIMIT $2::bigint OFFSET $3::bigint) p"),
       "repositories' tokens alone: the other half");
    f.kind = BBT_INV_KIND_ANY;
    f.owner = "alice";
    ok(bbt_inventory_sql(&f, 0, 26, 50, &q) == 0 && q.nparams == 4 &&
           has(&q, "lower(u.name COLLATE \"C\") = lower($1 COLLATE \"C\") AND "
                   "(t.project_key = $2 OR") &&
           strstr(strstr(q.sql, "UNION ALL"),
                  "lower(u.name COLLATE \"C\") = lower($1 COLLATE \"C\") AND "
                  "(t.project_key = $2 OR"),
       "both halves filtered alike, by the same parameters");
    ok(bbt_inventory_sql(&f, 1, 26, 50, &q) == 0 && !has(&q, "UNION") &&
           !has(&q, "LIMIT") && q.nparams == 3 && q.params[2] == NULL &&
           has(&q, "string_to_array($3, ' ')"),
       "a revocation: a batch of ids, no page");
}

static void test_kind(void)
{
    static const struct {
        const char *name;
        bbt_inv_kind_t kind;
        const char *sql;
    } k[] = {
        {"personal", BBT_INV_KIND_PERSONAL, " AND t.user_id IS NOT NULL"},
        {"project", BBT_INV_KIND_PROJECT,
         " AND t.user_id IS NULL AND t.repo_slug IS NULL"},
        {"repository", BBT_INV_KIND_REPO,
         " AND t.user_id IS NULL AND t.repo_slug IS NOT NULL"},
    };
    bbt_inventory_t f;
    bbt_inventory_query_t q;
    bbt_inv_kind_t got;
    size_t i;

    for (i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
        got = BBT_INV_KIND_ANY;
        ok(bbt_inventory_kind(k[i].name, &got) == 0 && got == k[i].kind,
           "kind %s", k[i].name);
        memset(&f, 0, sizeof(f));
        f.kind = k[i].kind;
        ok(bbt_inventory_filtered(&f), "kind %s: filtered", k[i].name);
        ok(bbt_inventory_sql(&f, 0, -1, 0, &q) == 0 && q.nparams == 0 &&
               has(&q, k[i].sql),
           "kind %s: its condition, no parameter", k[i].name);
    }
    ok(bbt_inventory_kind("Personal", &got) == -1, "kinds in lower case only");
    ok(bbt_inventory_kind("repo", &got) == -1, "repo is not a kind's word");
    ok(bbt_inventory_kind("", &got) == -1, "empty");
    ok(bbt_inventory_kind(NULL, &got) == -1, "NULL");
    memset(&f, 0, sizeof(f));
    f.kind = (bbt_inv_kind_t)4;
    ok(bbt_inventory_sql(&f, 0, -1, 0, &q) == -1, "a kind out of range");
}

static void test_filters(void)
{
    bbt_inventory_t f;
    bbt_inventory_query_t q;

    memset(&f, 0, sizeof(f));
    f.owner = "Alice";
    f.project = "proj";
    f.expired = 1;
    f.never_used = 1;
    f.unused = 30 * 86400;
    f.min.scope = BBT_SCOPE_REPO;
    f.min.level = BBT_LEVEL_WRITE;
    ok(bbt_inventory_filtered(&f), "filtered");
    ok(bbt_inventory_sql(&f, 0, -1, 0, &q) == 0, "every filter: a statement");
    ok(q.nparams == 4, "four parameters (%d)", q.nparams);
    ok(strcmp(q.params[0], "Alice") == 0 &&
           has(&q, "lower(u.name COLLATE \"C\") = lower($1 COLLATE \"C\")"),
       "owner: $1, in any case");
    ok(strcmp(q.params[1], "PROJ") == 0 && has(&q, "g.project_key = $2"),
       "project: $2, canonical");
    ok(has(&q, "(t.project_key = $2 OR "),
       "project: the project's and its repositories' own tokens too");
    ok(has(&q, " OR u.is_admin OR $2 = '~' || u.slug OR EXISTS"),
       "project: a global admin's and the personal project owner's too");
    ok(has(&q, "t.expires_at <= now()"), "expired");
    ok(has(&q, "t.last_authenticated IS NULL"), "never used");
    ok(strcmp(q.params[2], "2592000") == 0 &&
           has(&q, "COALESCE(t.last_authenticated, t.created_at) <= now() - "
                   "make_interval(secs => $3::bigint)"),
       "unused for: $3 seconds");
    ok(strcmp(q.params[3], "2") == 0 &&
           has(&q, "bbtoken_perm_level(t.repo_perm) >= $4::integer"),
       "level at least: the repository's, $4");
    ok(bbt_inventory_sql(&f, 0, 1000, 1000000, &q) == 0 &&
           has(&q,
               "t.user_id = u.id AND t.revoked_at IS NULL AND (t.project_key"
               " = $2 OR") &&
           has(&q, "OFFSET 0) t WHERE lower(u.name COLLATE \"C\") = lower($1 "
                   "COLLATE \"C\") ORDER BY"),
       "every filter, a page: fits; the owner's outside the users' look-up, "
       "the rest inside (%zu bytes)",
       strlen(q.sql));
    f.min.scope = BBT_SCOPE_PROJECT;
    ok(bbt_inventory_sql(&f, 0, -1, 0, &q) == 0 &&
           has(&q, "bbtoken_perm_level(t.project_perm) >="),
       "level at least: the project's");
    ok(bbt_inventory_sql(&f, 1, -1, 0, &q) == 0 && q.nparams == 5 &&
           q.params[4] == NULL &&
           strncmp(q.sql, "WITH rev AS (UPDATE bbtoken_tokens", 34) == 0 &&
           has(&q, "bbtoken_perm_level(t.project_perm) >= $4::integer") &&
           has(&q, "AND t.id = ANY (string_to_array($5, ' '))"
                   " ORDER BY t.id FOR UPDATE OF t) RETURNING id)") &&
           has(&q, "FROM unnest(string_to_array($5, ' ')) WITH ORDINALITY"),
       "revoke: a batch of ids, the caller's last parameter, rechecked, "
       "locked lowest first, a row each");
}

static void test_refused(void)
{
    bbt_inventory_t f;
    bbt_inventory_query_t q;

    memset(&f, 0, sizeof(f));
    f.owner = "a b";
    ok(bbt_inventory_sql(&f, 0, -1, 0, &q) == -1, "an owner that is no name");
    f.owner = NULL;
    f.project = "1x";
    ok(bbt_inventory_sql(&f, 0, -1, 0, &q) == -1, "a project that is no key");
    f.project = NULL;
    f.unused = -1;
    ok(bbt_inventory_sql(&f, 0, -1, 0, &q) == -1, "unused for a negative time");
    f.unused = BBT_INVENTORY_UNUSED_MAX + 1;
    ok(bbt_inventory_sql(&f, 0, -1, 0, &q) == -1, "unused for too long");
    f.unused = 0;
    f.min.level = (bbt_level_t)(BBT_LEVEL_ADMIN + 1);
    ok(bbt_inventory_sql(&f, 0, -1, 0, &q) == -1, "a level out of range");
    f.min.scope = BBT_SCOPE_PROJECT;
    f.min.level = BBT_LEVEL_CREATE;
    ok(bbt_inventory_sql(&f, 0, -1, 0, &q) == -1, "create: no token holds it");
    f.min.level = BBT_LEVEL_ADMIN;
    ok(bbt_inventory_sql(&f, 0, -1, 0, &q) == 0 &&
           strcmp(q.params[q.nparams - 1], "3") == 0,
       "admin: the database's number for it, 3");
}

int main(void)
{
    test_plain();
    test_page();
    test_filters();
    test_kind();
    test_refused();
    return done_testing();
}
