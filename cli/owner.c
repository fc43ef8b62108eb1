/*
 * Which role the CLI acts as on the schema, and whose code it may run.
 *
 * Whoever runs a migration owns what it makes; and a session runs the code
 * of whoever owns the objects it touches (a trigger on a table, a function
 * it calls) with its own rights, which a non-SECURITY-DEFINER function
 * keeps even through SET ROLE (RESET ROLE is anyone's).  So:
 *   - a superuser's session runs only on a schema whose every object
 *     (bbtoken_..., in bbtoken_schema's namespace) a superuser owns:
 *     otherwise the owner of one could have it run their trigger as a
 *     superuser.  It may give the tables' owner back what another role
 *     owns (db upgrade: catalog changes alone, no one's code runs), but
 *     migrates only a superuser's schema;
 *   - db upgrade runs the migrations as the tables' owner (SET ROLE for a
 *     member of its role), with the search path pinned to the schema's
 *     namespace ("$user" would name the owner's own schema after SET ROLE),
 *     and refuses while another role owns part of the schema.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

/* The tables' owner (bbtoken_schema's), whether a superuser, and the
 * namespace, as a search path. */
#define BBTOKEN_OWNER_SQL                                                      \
    "SELECT o.rolname, o.rolsuper, o.rolname = current_user,"                  \
    " format('%I, pg_temp', n.nspname)"                                        \
    " FROM pg_class c JOIN pg_roles o ON o.oid = c.relowner"                   \
    " JOIN pg_namespace n ON n.oid = c.relnamespace"                           \
    " WHERE c.oid = to_regclass('bbtoken_schema')"

/* The schema's objects that a role other than the tables' owner owns: the
 * statement that gives each to $1, the role that has it, and whether that
 * role is a superuser.  A sequence that belongs to a column goes with its
 * table; an index, with its table.  Catalogs and built-ins alone. */
#define BBTOKEN_FOREIGN_SQL                                                    \
    "WITH s AS (SELECT relnamespace AS ns, relowner AS own FROM pg_class"      \
    "           WHERE oid = to_regclass('bbtoken_schema')),"                   \
    " o(stmt, own) AS ("                                                       \
    "  SELECT format('ALTER %s %s OWNER TO %I', CASE c.relkind"                \
    "    WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'"                        \
    "    WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'"      \
    "    WHEN 'c' THEN 'TYPE' ELSE 'TABLE' END, c.oid::regclass, $1::text),"   \
    "   c.relowner"                                                            \
    "  FROM pg_class c, s WHERE c.relnamespace = s.ns"                         \
    "   AND c.relname LIKE 'bbtoken\\_%' AND c.relowner <> s.own"              \
    "   AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c', 'S')"                  \
    "   AND NOT EXISTS (SELECT 1 FROM pg_depend d"                             \
    "        WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid"       \
    "          AND d.refclassid = 'pg_class'::regclass"                        \
    "          AND d.deptype IN ('a', 'i'))"                                   \
    "  UNION ALL"                                                              \
    "  SELECT format('ALTER %s %s OWNER TO %I', CASE p.prokind"                \
    "    WHEN 'a' THEN 'AGGREGATE' ELSE 'ROUTINE' END, p.oid::regprocedure,"   \
    "    $1::text), p.proowner"                                                \
    "  FROM pg_proc p, s WHERE p.pronamespace = s.ns"                          \
    "   AND p.proname LIKE 'bbtoken\\_%' AND p.proowner <> s.own"              \
    "  UNION ALL"                                                              \
    "  SELECT format('ALTER TYPE %s OWNER TO %I', t.oid::regtype, $1::text),"  \
    "   t.typowner"                                                            \
    "  FROM pg_type t, s WHERE t.typnamespace = s.ns"                          \
    "   AND t.typname LIKE 'bbtoken\\_%' AND t.typowner <> s.own"              \
    "   AND t.typtype IN ('e', 'd', 'r', 'm'))"                                \
    " SELECT o.stmt, r.rolname, r.rolsuper FROM o"                             \
    " JOIN pg_roles r ON r.oid = o.own ORDER BY NOT r.rolsuper, 1"

/* What the owner query said; owner and path are the result's. */
typedef struct {
    PGresult *res;
    const char *owner;
    int owner_super;
    int self;
    const char *path;
} bbtoken_owner_t;

static int bbtoken_owner_read(bbtoken_ctx_t *ctx, bbtoken_owner_t *o)
{
    o->res = bbtoken_exec_once(ctx, "finding the schema's owner",
                               BBTOKEN_OWNER_SQL, 0, NULL);
    if (!o->res) {
        return BBTOKEN_EXIT_FAIL;
    }
    if (PQntuples(o->res) != 1) {
        PQclear(o->res);
        o->res = NULL;
        return bbtoken_fail("finding the schema's owner: no bbtoken_schema");
    }
    o->owner = PQgetvalue(o->res, 0, 0);
    o->owner_super = PQgetvalue(o->res, 0, 1)[0] == 't';
    o->self = PQgetvalue(o->res, 0, 2)[0] == 't';
    o->path = PQgetvalue(o->res, 0, 3);
    return 0;
}

/* The schema's objects another role owns; NULL after reporting. */
static PGresult *bbtoken_owner_foreign(bbtoken_ctx_t *ctx, const char *owner)
{
    const char *params[1] = {owner};

    return bbtoken_exec_once(ctx, "finding the schema's owners",
                             BBTOKEN_FOREIGN_SQL, 1, params);
}

/* Give the owner what another role owns of the schema, in one transaction
 * (a superuser connected), and say so. */
static int bbtoken_owner_reclaim(bbtoken_ctx_t *ctx, const char *owner)
{
    PGresult *res = NULL, *alter;
    int i, n;

    if (!(alter = bbtoken_exec_once(ctx, "beginning", "BEGIN", 0, NULL))) {
        return BBTOKEN_EXIT_FAIL;
    }
    PQclear(alter);
    if (!(res = bbtoken_owner_foreign(ctx, owner))) {
        goto rollback;
    }
    n = PQntuples(res);
    for (i = 0; i < n; i++) {
        if (!(alter = bbtoken_exec_once(ctx,
                                        "giving the schema's objects "
                                        "to the owner of its tables",
                                        PQgetvalue(res, i, 0), 0, NULL))) {
            goto rollback;
        }
        PQclear(alter);
    }
    if (!(alter = bbtoken_exec_once(ctx, "committing", "COMMIT", 0, NULL))) {
        goto rollback;
    }
    PQclear(alter);
    if (n > 0) {
        printf("gave %d of the schema's objects that other roles owned (%s "
               "among them) to %s, the owner of its tables\n",
               n, PQgetvalue(res, n - 1, 1), owner);
    }
    PQclear(res);
    return 0;
rollback:
    PQclear(res);
    bbtoken_exec_quiet(ctx, "ROLLBACK");
    return BBTOKEN_EXIT_FAIL;
}

int bbtoken_owner_guard(bbtoken_ctx_t *ctx)
{
    const char *super = PQparameterStatus(ctx->conn, "is_superuser");
    bbtoken_owner_t o;
    PGresult *res;
    int rc;

    if (!super || strcmp(super, "on") != 0) {
        return 0;
    }
    if ((rc = bbtoken_owner_read(ctx, &o)) != 0) {
        return rc;
    }
    if (ctx->upgrading && (rc = bbtoken_owner_reclaim(ctx, o.owner)) != 0) {
        goto out;
    }
    if (!o.owner_super) {
        rc = bbtoken_fail(
            "the schema's tables belong to role %s, which is no superuser: "
            "a superuser's session would run whatever %s put on them (a "
            "trigger) with a superuser's rights; connect as %s",
            o.owner, o.owner, o.owner);
        goto out;
    }
    if (!(res = bbtoken_owner_foreign(ctx, o.owner))) {
        rc = BBTOKEN_EXIT_FAIL;
        goto out;
    }
    /* Listed superusers' first: the last row says whether any is not. */
    if (PQntuples(res) > 0 &&
        PQgetvalue(res, PQntuples(res) - 1, 2)[0] != 't') {
        rc = bbtoken_fail(
            "%d of the schema's objects belong to roles other than %s, the "
            "owner of its tables, %s among them, which is no superuser: a "
            "superuser's session would run their code with a superuser's "
            "rights; bbtoken db upgrade, as a superuser, gives them to %s",
            PQntuples(res), o.owner, PQgetvalue(res, PQntuples(res) - 1, 1),
            o.owner);
    }
    PQclear(res);
out:
    PQclear(o.res);
    return rc;
}

int bbtoken_upgrade_as_owner(bbtoken_ctx_t *ctx)
{
    const char *params[1];
    bbtoken_owner_t o;
    PGresult *res;
    int rc;

    /* A superuser's session: give back what another role owns, and stop
     * unless a superuser owns the tables. */
    if ((rc = bbtoken_owner_guard(ctx)) != 0 ||
        (rc = bbtoken_owner_read(ctx, &o)) != 0) {
        return rc;
    }
    if (!o.self) {
        char sql[600];
        char *role = PQescapeIdentifier(ctx->conn, o.owner, strlen(o.owner));

        res = NULL;
        if (role) {
            snprintf(sql, sizeof(sql), "SET ROLE %s", role);
            PQfreemem(role);
            res = PQexec(ctx->conn, sql);
        }
        if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
            PQclear(res);
            rc = bbtoken_fail("the schema's tables belong to role %s: run "
                              "db upgrade as %s or a member of its role",
                              o.owner, o.owner);
            goto out;
        }
        PQclear(res);
    }
    params[0] = o.path;
    if (!(res = bbtoken_exec_once(ctx, "setting the search path",
                                  "SELECT set_config('search_path', $1, false)",
                                  1, params))) {
        rc = BBTOKEN_EXIT_FAIL;
        goto out;
    }
    PQclear(res);
    /* Another's objects (an earlier upgrade's) cannot be replaced by the
     * owner, and only a superuser can give them back. */
    if (!(res = bbtoken_owner_foreign(ctx, o.owner))) {
        rc = BBTOKEN_EXIT_FAIL;
        goto out;
    }
    if (PQntuples(res) > 0) {
        rc = bbtoken_fail("%d of the schema's objects belong to role %s, "
                          "not to %s, the owner of its tables: run db "
                          "upgrade once as a superuser, which gives them "
                          "to %s",
                          PQntuples(res), PQgetvalue(res, 0, 1), o.owner,
                          o.owner);
    }
    PQclear(res);
out:
    PQclear(o.res);
    return rc;
}
