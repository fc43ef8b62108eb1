/*
 * The token inventory's statement (bbt_inventory.h).
 */
#include "bbt_inventory.h"

#include <stdio.h>
#include <string.h>

#define BBT_INV_ISO "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'"

static const char bbt_inv_cols[] =
    "SELECT t.id, COALESCE(u.name, bbtoken_scope_name(t.project_key,"
    " t.repo_slug)), t.name, t.project_perm, t.repo_perm,"
    " to_char(t.created_at AT TIME ZONE 'UTC', " BBT_INV_ISO "),"
    " to_char(t.expires_at AT TIME ZONE 'UTC', " BBT_INV_ISO "),"
    " to_char(t.last_authenticated AT TIME ZONE 'UTC', " BBT_INV_ISO "),"
    " (extract(epoch FROM t.created_at) * 1000)::bigint,"
    " (extract(epoch FROM t.expires_at) * 1000)::bigint,"
    " (extract(epoch FROM t.last_authenticated) * 1000)::bigint,"
    " t.expires_at IS NOT NULL AND t.expires_at <= now(),"
    " array_to_string(ARRAY(SELECT host(a) FROM unnest(t.last_addresses)"
    " WITH ORDINALITY AS x(a, n) ORDER BY n), ','),"
    " t.project_key, t.repo_slug, array_to_string(t.allowed_nets, ','),"
    " (SELECT count(*) FROM bbtoken_token_nets n WHERE n.token_id = t.id)";

/* Every live token, with its owner if it has one. */
static const char bbt_inv_from_any[] =
    " FROM bbtoken_tokens t LEFT JOIN bbtoken_users u ON u.id = t.user_id"
    " WHERE t.revoked_at IS NULL";

/* A page is read from two halves, each in the order of an index (schema
 * 31), so that LIMIT stops each after start + limit rows rather than
 * after sorting every live token: the users' tokens, user by user in name
 * order; and the projects' and repositories' tokens, by their holder's
 * name.  Each half gives only the order's columns (holder, creation, id);
 * the merge of the two is cut to the page, and only the page's tokens are
 * read for the columns above. */
static const char bbt_inv_from_users[] =
    "SELECT t.id, u.name AS h, t.created_at AS at FROM bbtoken_users u"
    " CROSS JOIN LATERAL (SELECT t.id, t.created_at FROM bbtoken_tokens t"
    " WHERE t.user_id = u.id AND t.revoked_at IS NULL";
/* A user's tokens are a look-up by key whatever the statistics say (OFFSET
 * 0 keeps the planner from flattening it into a join): on statistics that
 * call the tables empty (ANALYZE after a mass delete, before VACUUM) a
 * join had the user_id as a join filter on the index instead of its
 * condition, every live token read again for each user. */
#define BBT_INV_USERS_END " ORDER BY t.created_at, t.id OFFSET 0) t"
#define BBT_INV_ORDER_USERS " ORDER BY u.name, t.created_at, t.id"
static const char bbt_inv_from_scopes[] =
    "SELECT t.id, bbtoken_scope_name(t.project_key, t.repo_slug) AS h,"
    " t.created_at AS at FROM bbtoken_tokens t LEFT JOIN bbtoken_users u"
    " ON u.id = t.user_id WHERE t.revoked_at IS NULL AND t.user_id IS NULL";
#define BBT_INV_ORDER_SCOPES                                                   \
    " ORDER BY bbtoken_scope_name(t.project_key, t.repo_slug), t.created_at,"  \
    " t.id"
/* The page's tokens, in the same order, and their owners: each a look-up
 * by key, as above (as joins, on such statistics, every token, or every
 * user, was read again for each row of the page). */
static const char bbt_inv_page[] =
    ") p CROSS JOIN LATERAL (SELECT * FROM bbtoken_tokens t"
    " WHERE t.id = p.id OFFSET 0) t"
    " LEFT JOIN LATERAL (SELECT u.name FROM bbtoken_users u"
    " WHERE u.id = t.user_id OFFSET 0) u ON true"
    " ORDER BY p.h, p.at, p.id";

/* By holder (the second column), then oldest first. */
#define BBT_INV_ORDER " ORDER BY 2, t.created_at, t.id"

/* What each kind is, as a condition on the row. */
static const struct {
    const char *name;
    const char *sql;
} bbt_inv_kinds[] = {
    [BBT_INV_KIND_ANY] = {NULL, ""},
    [BBT_INV_KIND_PERSONAL] = {"personal", " AND t.user_id IS NOT NULL"},
    [BBT_INV_KIND_PROJECT] = {"project", " AND t.user_id IS NULL"
                                         " AND t.repo_slug IS NULL"},
    [BBT_INV_KIND_REPO] = {"repository", " AND t.user_id IS NULL"
                                         " AND t.repo_slug IS NOT NULL"},
};

#define BBT_INV_NKINDS (sizeof(bbt_inv_kinds) / sizeof(bbt_inv_kinds[0]))

int bbt_inventory_kind(const char *s, bbt_inv_kind_t *out)
{
    size_t i;

    for (i = 1; s && i < BBT_INV_NKINDS; i++) {
        if (strcmp(s, bbt_inv_kinds[i].name) == 0) {
            *out = (bbt_inv_kind_t)i;
            return 0;
        }
    }
    return -1;
}

int bbt_inventory_filtered(const bbt_inventory_t *f)
{
    return f->owner || f->project || f->kind != BBT_INV_KIND_ANY ||
           f->expired || f->never_used || f->unused > 0 ||
           f->min.level != BBT_LEVEL_NONE;
}

/* Append s to q->sql: 0, or -1 when it does not fit. */
static int bbt_inv_cat(bbt_inventory_query_t *q, const char *s)
{
    size_t have = strlen(q->sql), n = strlen(s);

    if (have + n >= sizeof(q->sql)) {
        return -1;
    }
    memcpy(q->sql + have, s, n + 1);
    return 0;
}

/* A parameter: its number, as text for the statement ("$3"), into num. */
static const char *bbt_inv_param(bbt_inventory_query_t *q, const char *value,
                                 char num[16])
{
    q->params[q->nparams++] = value;
    snprintf(num, 16, "$%d", q->nparams);
    return num;
}

/* A number parameter, kept in q->nums. */
static const char *bbt_inv_num(bbt_inventory_query_t *q, long long v,
                               char num[16])
{
    snprintf(q->nums[q->nparams], sizeof(q->nums[0]), "%lld", v);
    return bbt_inv_param(q, q->nums[q->nparams], num);
}

/* The names of a filter's parameters ("$1"; "" when it has none). */
typedef struct {
    char owner[16], project[16], unused[16], min[16];
} bbt_inv_names_t;

/* f's condition on the owner alone, after lead (" AND", " WHERE"). */
static int bbt_inv_owner(bbt_inventory_query_t *q, const bbt_inventory_t *f,
                         const bbt_inv_names_t *nm, const char *lead)
{
    char buf[128];

    if (!f->owner) {
        return 0;
    }
    snprintf(buf, sizeof(buf), "%s " BBT_SQL_NAME_ANY_CASE("u.name", "%s"),
             lead, nm->owner);
    return bbt_inv_cat(q, buf);
}

/* f's conditions on the token (and its owner, if any), each parameter by
 * its name in nm; not the owner's alone (bbt_inv_owner). */
static int bbt_inv_where_token(bbt_inventory_query_t *q,
                               const bbt_inventory_t *f,
                               const bbt_inv_names_t *nm)
{
    char buf[512];
    int rc = 0;

    if (f->project) {
        /* Whoever the module lets in there (bbtoken_owner_levels): a
         * global admin and a personal project's owner need no grant.  A
         * disabled owner's tokens are listed as well: enabling the owner
         * again brings their reach back. */
        snprintf(buf, sizeof(buf),
                 " AND (t.project_key = %s OR u.is_admin"
                 " OR %s = '~' || u.slug"
                 " OR EXISTS (SELECT 1 FROM bbtoken_project_grants g"
                 " WHERE g.user_id = u.id AND g.project_key = %s)"
                 " OR EXISTS (SELECT 1 FROM bbtoken_repo_grants g"
                 " WHERE g.user_id = u.id AND g.project_key = %s))",
                 nm->project, nm->project, nm->project, nm->project);
        rc |= bbt_inv_cat(q, buf);
    }
    rc |= bbt_inv_cat(q, bbt_inv_kinds[f->kind].sql);
    if (f->expired) {
        rc |= bbt_inv_cat(q, " AND t.expires_at <= now()");
    }
    if (f->never_used) {
        rc |= bbt_inv_cat(q, " AND t.last_authenticated IS NULL");
    }
    if (f->unused > 0) {
        snprintf(buf, sizeof(buf),
                 " AND COALESCE(t.last_authenticated, t.created_at) <="
                 " now() - make_interval(secs => %s::bigint)",
                 nm->unused);
        rc |= bbt_inv_cat(q, buf);
    }
    if (f->min.level != BBT_LEVEL_NONE) {
        snprintf(buf, sizeof(buf), " AND bbtoken_perm_level(%s) >= %s::integer",
                 f->min.scope == BBT_SCOPE_PROJECT ? "t.project_perm"
                                                   : "t.repo_perm",
                 nm->min);
        rc |= bbt_inv_cat(q, buf);
    }
    return rc;
}

/* f's conditions, each parameter by its name in nm. */
static int bbt_inv_where(bbt_inventory_query_t *q, const bbt_inventory_t *f,
                         const bbt_inv_names_t *nm)
{
    return bbt_inv_owner(q, f, nm, " AND") | bbt_inv_where_token(q, f, nm);
}

/* One half of a page (bbt_inv_from_users): its rows up to the page's end,
 * in its index's order.  parens: as one arm of the merge. */
static int bbt_inv_half(bbt_inventory_query_t *q, const bbt_inventory_t *f,
                        const bbt_inv_names_t *nm, const char *from,
                        const char *order, const char *lim, int parens)
{
    int rc = 0;

    rc |= bbt_inv_cat(q, parens ? "(" : "");
    rc |= bbt_inv_cat(q, from);
    if (from == bbt_inv_from_users) {
        /* The token's conditions inside the look-up; the owner's outside,
         * where the user is found by its own index. */
        rc |= bbt_inv_where_token(q, f, nm);
        rc |= bbt_inv_cat(q, BBT_INV_USERS_END);
        rc |= bbt_inv_owner(q, f, nm, " WHERE");
    } else {
        rc |= bbt_inv_where(q, f, nm);
    }
    rc |= bbt_inv_cat(q, order);
    rc |= bbt_inv_cat(q, lim);
    rc |= bbt_inv_cat(q, parens ? ")" : "");
    return rc;
}

int bbt_inventory_sql(const bbt_inventory_t *f, int revoke, long limit,
                      long offset, bbt_inventory_query_t *q)
{
    bbt_inv_names_t nm;
    char l[16], o[16], ids[16], lim[80], end[80], buf[256];
    int rc = 0, users, scopes;

    memset(q, 0, sizeof(*q));
    memset(&nm, 0, sizeof(nm));
    if (f->unused < 0 || f->unused > BBT_INVENTORY_UNUSED_MAX ||
        f->min.level < BBT_LEVEL_NONE || f->min.level > BBT_LEVEL_ADMIN ||
        f->min.level == BBT_LEVEL_CREATE ||
        (unsigned)f->kind >= BBT_INV_NKINDS ||
        (f->owner && !bbt_input_user_name(f->owner, strlen(f->owner))) ||
        (f->project &&
         bbt_input_key(f->project, strlen(f->project), q->key) != 0)) {
        return -1;
    }
    if (f->owner) {
        bbt_inv_param(q, f->owner, nm.owner);
    }
    if (f->project) {
        bbt_inv_param(q, q->key, nm.project);
    }
    if (f->unused > 0) {
        bbt_inv_num(q, f->unused, nm.unused);
    }
    if (f->min.level != BBT_LEVEL_NONE) {
        bbt_inv_num(q, bbt_level_to_db(f->min.level), nm.min);
    }
    if (limit >= 0 && !revoke) {
        bbt_inv_num(q, limit, l);
        bbt_inv_num(q, offset, o);
        snprintf(end, sizeof(end), " LIMIT %s::bigint OFFSET %s::bigint", l, o);
        /* A query, not a number: PostgreSQL plans a LIMIT it cannot read
         * as one that takes a tenth of the rows, so each half is read in
         * index order whatever start is; given the number, it would sort
         * the whole half once start passed a guess of its size. */
        snprintf(lim, sizeof(lim), " LIMIT (SELECT %s::bigint + %s::bigint)", l,
                 o);
        users = f->kind == BBT_INV_KIND_ANY || f->kind == BBT_INV_KIND_PERSONAL;
        scopes = f->kind != BBT_INV_KIND_PERSONAL;
        rc |= bbt_inv_cat(q, bbt_inv_cols);
        rc |= bbt_inv_cat(q, " FROM (");
        if (users && scopes) {
            rc |= bbt_inv_cat(q, "SELECT * FROM (");
            rc |= bbt_inv_half(q, f, &nm, bbt_inv_from_users,
                               BBT_INV_ORDER_USERS, lim, 1);
            rc |= bbt_inv_cat(q, " UNION ALL ");
            rc |= bbt_inv_half(q, f, &nm, bbt_inv_from_scopes,
                               BBT_INV_ORDER_SCOPES, lim, 1);
            rc |= bbt_inv_cat(q, ") s ORDER BY h, at, id");
            rc |= bbt_inv_cat(q, end);
        } else {
            rc |= bbt_inv_half(
                q, f, &nm, users ? bbt_inv_from_users : bbt_inv_from_scopes,
                users ? BBT_INV_ORDER_USERS : BBT_INV_ORDER_SCOPES, end, 0);
        }
        rc |= bbt_inv_cat(q, bbt_inv_page);
        return rc ? -1 : 0;
    }
    if (revoke) {
        /* A batch of the ids the listing read: those the filter still
         * selects now (a token used, or revoked, since is left alone),
         * locked lowest id first as every revocation of more than one
         * token (sql/migrations/0024_lock_order.sql), then revoked; a row
         * per id given, in its order, says which. */
        bbt_inv_param(q, NULL, ids);
        rc |=
            bbt_inv_cat(q, "WITH rev AS (UPDATE bbtoken_tokens"
                           " SET revoked_at = now() WHERE id IN (SELECT t.id");
        rc |= bbt_inv_cat(q, bbt_inv_from_any);
        rc |= bbt_inv_where(q, f, &nm);
        snprintf(buf, sizeof(buf),
                 " AND t.id = ANY (string_to_array(%s, ' '))"
                 " ORDER BY t.id FOR UPDATE OF t) RETURNING id)"
                 " SELECT x.id IN (SELECT id FROM rev)"
                 " FROM unnest(string_to_array(%s, ' ')) WITH ORDINALITY"
                 " AS x(id, n) ORDER BY x.n",
                 ids, ids);
        rc |= bbt_inv_cat(q, buf);
        return rc ? -1 : 0;
    }
    rc |= bbt_inv_cat(q, bbt_inv_cols);
    rc |= bbt_inv_cat(q, bbt_inv_from_any);
    rc |= bbt_inv_where(q, f, &nm);
    rc |= bbt_inv_cat(q, BBT_INV_ORDER);
    return rc ? -1 : 0;
}
