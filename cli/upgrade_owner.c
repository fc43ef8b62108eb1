/*
 * Who runs the migrations of `bbtoken db upgrade`: the role that owns the
 * schema's tables (bbtoken_schema's owner), whoever connected.
 *
 * A migration makes functions and tables, and whoever runs it owns them.
 * Run by a superuser (the README's `runuser -u postgres`) on tables another
 * role owns, it left that role's tables holding triggers whose SECURITY
 * DEFINER functions ran as the superuser: the tables' owner, who may put a
 * trigger of its own on its own table, then had those functions' writes
 * run it as the superuser, and became one.  So a superuser's upgrade takes
 * the owner's role first (SET ROLE), and gives the owner back what an
 * earlier upgrade left to another role; anyone else must be the owner, or
 * a member of its role.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

/* The owner, whether it is who connected, and whether who connected is a
 * superuser. */
#define BBTOKEN_OWNER_SQL                                                      \
    "SELECT o.rolname, o.rolname = current_user,"                              \
    " (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)"            \
    " FROM pg_class c JOIN pg_roles o ON o.oid = c.relowner"                   \
    " WHERE c.oid = 'bbtoken_schema'::regclass"

/* The schema's objects (named bbtoken_..., in bbtoken_schema's namespace)
 * that a role other than the tables' owner owns: the statement that gives
 * each to $1, and the role that has it.  A sequence that belongs to a
 * column goes with its table; an index, with its table. */
#define BBTOKEN_FOREIGN_SQL                                                    \
    "WITH s AS (SELECT relnamespace AS ns, relowner AS own FROM pg_class"      \
    "           WHERE oid = 'bbtoken_schema'::regclass),"                      \
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
    " SELECT o.stmt, r.rolname FROM o JOIN pg_roles r ON r.oid = o.own"        \
    " ORDER BY 1"

/* Give the owner (a superuser connected) what another role owns of the
 * schema, in one transaction, and say so. */
static int bbtoken_owner_reclaim(bbtoken_ctx_t *ctx, const char *owner)
{
    const char *params[1] = {owner};
    PGresult *res = NULL, *alter;
    int i, n, rc = BBTOKEN_EXIT_FAIL;

    if (!(res = bbtoken_exec_once(ctx, "beginning", "BEGIN", 0, NULL))) {
        return rc;
    }
    PQclear(res);
    if (!(res = bbtoken_exec_once(ctx, "finding the schema's owners",
                                  BBTOKEN_FOREIGN_SQL, 1, params))) {
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
               n, PQgetvalue(res, 0, 1), owner);
    }
    PQclear(res);
    return 0;
rollback:
    PQclear(res);
    bbtoken_exec_quiet(ctx, "ROLLBACK");
    return rc;
}

int bbtoken_upgrade_as_owner(bbtoken_ctx_t *ctx)
{
    PGresult *res;
    const char *params[1];
    char *owner, *role;
    int self, super, rc = BBTOKEN_EXIT_FAIL;

    if (!(res = bbtoken_exec_once(ctx, "finding the schema's owner",
                                  BBTOKEN_OWNER_SQL, 0, NULL))) {
        return rc;
    }
    if (PQntuples(res) != 1 || !(owner = strdup(PQgetvalue(res, 0, 0)))) {
        PQclear(res);
        return bbtoken_fail("finding the schema's owner: no answer");
    }
    self = PQgetvalue(res, 0, 1)[0] == 't';
    super = PQgetvalue(res, 0, 2)[0] == 't';
    PQclear(res);
    if (super && bbtoken_owner_reclaim(ctx, owner) != 0) {
        goto out;
    }
    if (!self) {
        role = PQescapeIdentifier(ctx->conn, owner, strlen(owner));
        res = NULL;
        if (role) {
            char sql[600];

            snprintf(sql, sizeof(sql), "SET ROLE %s", role);
            PQfreemem(role);
            res = PQexec(ctx->conn, sql);
        }
        if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
            PQclear(res);
            rc = bbtoken_fail("the schema's tables belong to role %s: run "
                              "db upgrade as %s, or as a superuser (who "
                              "runs it as %s)",
                              owner, owner, owner);
            goto out;
        }
        PQclear(res);
    }
    params[0] = owner;
    if (!super) {
        /* Another's objects (an earlier upgrade's) cannot be replaced by
         * the owner, and only a superuser can give them back. */
        if (!(res = bbtoken_exec_once(ctx, "finding the schema's owners",
                                      BBTOKEN_FOREIGN_SQL, 1, params))) {
            goto out;
        }
        if (PQntuples(res) > 0) {
            rc = bbtoken_fail("%d of the schema's objects belong to role %s, "
                              "not to %s, the owner of its tables: run db "
                              "upgrade once as a superuser, which gives them "
                              "to %s",
                              PQntuples(res), PQgetvalue(res, 0, 1), owner,
                              owner);
            PQclear(res);
            goto out;
        }
        PQclear(res);
    }
    rc = 0;
out:
    free(owner);
    return rc;
}
