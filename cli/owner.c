/*
 * Whose code the CLI may run, and as whom `db upgrade` migrates.
 *
 * A session runs the code of whoever owns what it touches (a trigger on a
 * table, a function or an operator its statements find) with its own
 * rights; and a role that may create objects in a schema on the session's
 * search path may put there an operator or a function that a statement
 * finds before the built-in one.  SET ROLE does not change that: RESET
 * ROLE (or SET ROLE to the session user) is anyone's.  So a session whose
 * login is, or may become, a superuser runs only where no other role can
 * reach it: the schema's namespace (bbtoken_schema's, or the one the
 * schema would be made in) is one that no role but superusers may create
 * in, whose functions and operators superusers own, and whose objects of
 * ours (bbtoken_...) superusers own; and its search path is then that
 * namespace alone (and pg_temp).  The check itself names every function
 * and operator by schema, so nothing of anyone's runs before it.
 *
 * db upgrade runs the migrations as the tables' owner (whoever runs a
 * migration owns what it makes): SET ROLE for a member of that role, the
 * search path pinned to the tables' namespace ("$user" would name the
 * owner's own schema after SET ROLE).  Objects of ours another role owns
 * stop it.  A superuser's upgrade refused on a schema whose tables a role
 * that is no superuser owns first gives that owner what superusers own of
 * it (what an upgrade run by postgres left): changes of the catalog alone,
 * which run no one's code, and which never give a superuser anything.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_xact.h"
#include "db.h"
#include "interrupt.h"
#include "owner.h"
#include "tx.h"

/* Shorthands for the qualified SQL below. */
#define EQ " OPERATOR(pg_catalog.=) "
#define LIKE_OURS " OPERATOR(pg_catalog.~~) 'bbtoken\\_%'"

#define CLS_CLASS "'pg_catalog.pg_class'::pg_catalog.regclass"
#define CLS_CAST "'pg_catalog.pg_cast'::pg_catalog.regclass"

/* The namespace: bbtoken_schema's, else the one a schema would be made
 * in, as the session's search path finds them. */
#define BBTOKEN_NS_SQL                                                         \
    "SELECT n.oid AS ns, n.nspname, n.nspowner,"                               \
    " (SELECT c.relowner FROM pg_catalog.pg_class c"                           \
    "   WHERE c.oid" EQ "pg_catalog.to_regclass('bbtoken_schema')) AS tabown"  \
    " FROM pg_catalog.pg_namespace n WHERE n.oid" EQ "COALESCE("               \
    "  (SELECT c.relnamespace FROM pg_catalog.pg_class c"                      \
    "    WHERE c.oid" EQ "pg_catalog.to_regclass('bbtoken_schema')),"          \
    "  (SELECT m.oid FROM pg_catalog.pg_namespace m"                           \
    "    WHERE m.nspname" EQ "pg_catalog.current_schema()))"

/* For a superuser's session: the namespace, the tables' owner and whether
 * it is trusted, then the first way another's code could run in the
 * session, if any (the role, or NULL where none is to blame, and what),
 * and the first untrusted role owning an event trigger's function.
 * An untrusted role (r, or PUBLIC) owns the namespace, may create in it,
 * owns a function, an operator or an object of ours there, may put a
 * trigger on or refer to a table of ours (now, or, by default privileges
 * of the role that makes them, one a migration makes), owns the function
 * of an event trigger (which DDL, a migration, fires), or owns what the
 * tables reach (reach): what hangs on them (triggers, constraints,
 * defaults, indexes, rules, policies, tables inheriting from them, and a
 * domain's constraints) and, through pg_depend, what that uses: functions
 * (a trigger's, its WHEN's, a CHECK's), operators with their commutators
 * and negators, types, collations, operator classes with their members, a
 * table a rule writes and what hangs on that, a foreign table's server and
 * wrapper; or may put a trigger on or refer to any table reached; or owns
 * the function of a cast (but one from or to a type of its own) or of an
 * operator class's member anywhere, which PostgreSQL finds for any
 * statement; or a table not reached refers to one reached (a foreign key,
 * whose cascade runs that table's triggers, and those of tables referring
 * to it, in our statements).  r: the roles that are not, and may not become,
 * superusers (BBTOKEN_POWER_ROLES_SQL) nor act as the login; pg_database_owner
 * among them unless the database's owner is trusted (it may own objects, and it
 * stands for that owner).  What a function's body calls pg_depend does
 * not know: its owner's, trusted, to answer for. */
#define BBTOKEN_GUARD_SQL                                                      \
    "WITH RECURSIVE s AS (" BBTOKEN_NS_SQL "),"                                \
    " pw AS (" BBTOKEN_POWER_ROLES_SQL "),"                                    \
    " r AS (SELECT x.oid, x.rolname FROM pg_catalog.pg_roles x"                \
    "   WHERE NOT EXISTS (SELECT FROM pw"                                      \
    "           WHERE pg_catalog.pg_has_role(x.oid, pw.oid, 'MEMBER'))"        \
    "     AND NOT pg_catalog.pg_has_role(x.oid, session_user, 'MEMBER')"       \
    "     AND (x.rolname OPERATOR(pg_catalog.<>) 'pg_database_owner'"          \
    "          OR NOT EXISTS (SELECT FROM pg_catalog.pg_database db"           \
    "           WHERE db.datname" EQ "pg_catalog.current_database()"           \
    "             AND (pg_catalog.pg_has_role(db.datdba, session_user,"        \
    "                                         'MEMBER')"                       \
    "                  OR EXISTS (SELECT FROM pw WHERE pg_catalog.pg_has_role" \
    "                       (db.datdba, pw.oid, 'MEMBER')))))),"               \
    " rr AS (SELECT oid, rolname::pg_catalog.text AS name FROM r"              \
    "        UNION ALL SELECT 0::pg_catalog.oid, 'PUBLIC'),"                   \
    " ours AS (SELECT c.oid, c.relname::pg_catalog.text AS name"               \
    "   FROM pg_catalog.pg_class c, s"                                         \
    "   WHERE c.relnamespace" EQ "s.ns AND c.relname" LIKE_OURS "),"           \
    " reach(cls, obj) AS ("                                                    \
    "  SELECT " CLS_CLASS "::pg_catalog.oid, o.oid FROM ours o"                \
    "  UNION SELECT e.cls, e.obj FROM reach x, LATERAL ("                      \
    "   SELECT d.refclassid, d.refobjid FROM pg_catalog.pg_depend d"           \
    "    WHERE d.classid" EQ "x.cls AND d.objid" EQ "x.obj"                    \
    "   UNION ALL SELECT d.classid, d.objid FROM pg_catalog.pg_depend d"       \
    "    WHERE d.refclassid" EQ "x.cls AND d.refobjid" EQ "x.obj"              \
    "   AND ((x.cls" EQ CLS_CLASS " AND EXISTS (SELECT FROM"                   \
    "          pg_catalog.pg_class k WHERE k.oid" EQ "x.obj"                   \
    "          AND k.relkind" EQ "ANY ('{r,p,v,f,m}'::pg_catalog.\"char\"[]))" \
    "         AND (d.deptype" EQ "ANY ('{a,i}'::pg_catalog.\"char\"[])"        \
    "              OR (d.classid" EQ CLS_CLASS " AND EXISTS (SELECT FROM"      \
    "                   pg_catalog.pg_inherits i WHERE i.inhrelid" EQ          \
    "                   d.objid AND i.inhparent" EQ "x.obj))))"                \
    "    OR (x.cls" EQ "'pg_catalog.pg_constraint'::pg_catalog.regclass"       \
    "        AND d.deptype" EQ "'i'::pg_catalog.\"char\")"                     \
    "    OR (x.cls" EQ "'pg_catalog.pg_type'::pg_catalog.regclass"             \
    "        AND d.classid" EQ                                                 \
    "'pg_catalog.pg_constraint'::pg_catalog.regclass"                          \
    "        AND d.deptype" EQ "'a'::pg_catalog.\"char\")"                     \
    "    OR (x.cls" EQ "ANY (ARRAY['pg_catalog.pg_opclass',"                   \
    "         'pg_catalog.pg_opfamily']::pg_catalog.regclass[])"               \
    "        AND d.classid" EQ "ANY (ARRAY['pg_catalog.pg_amop',"              \
    "         'pg_catalog.pg_amproc']::pg_catalog.regclass[])))"               \
    "   UNION ALL SELECT x.cls, n.o FROM pg_catalog.pg_operator o,"            \
    "    LATERAL (VALUES (o.oprcom), (o.oprnegate)) n(o)"                      \
    "    WHERE x.cls" EQ "'pg_catalog.pg_operator'::pg_catalog.regclass"       \
    "     AND o.oid" EQ "x.obj AND n.o OPERATOR(pg_catalog.<>)"                \
    "     0::pg_catalog.oid) e(cls, obj)),"                                    \
    " rels AS (SELECT k.oid,"                                                  \
    "   pg_catalog.format('%s', k.oid::pg_catalog.regclass) AS name"           \
    "   FROM reach x, pg_catalog.pg_class k"                                   \
    "   WHERE x.cls" EQ CLS_CLASS " AND k.oid" EQ "x.obj"                      \
    "    AND k.relkind" EQ "ANY ('{r,p,v,f,m}'::pg_catalog.\"char\"[])),"      \
    " evt(what, own) AS (SELECT pg_catalog.concat("                            \
    "   'owns the function of the event trigger ', e.evtname), p.proowner"     \
    "   FROM pg_catalog.pg_event_trigger e, pg_catalog.pg_proc p"              \
    "   WHERE p.oid" EQ "e.evtfoid"                                            \
    "    AND e.evtenabled OPERATOR(pg_catalog.<>) 'D'::pg_catalog.\"char\"),"  \
    " owners(cls, oid, own) AS ("                                              \
    "  SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass, oid, proowner"        \
    "   FROM pg_catalog.pg_proc"                                               \
    "  UNION ALL SELECT 'pg_catalog.pg_operator'::pg_catalog.regclass, oid,"   \
    "   oprowner FROM pg_catalog.pg_operator"                                  \
    "  UNION ALL SELECT 'pg_catalog.pg_type'::pg_catalog.regclass, oid,"       \
    "   typowner FROM pg_catalog.pg_type"                                      \
    "  UNION ALL SELECT 'pg_catalog.pg_collation'::pg_catalog.regclass, oid,"  \
    "   collowner FROM pg_catalog.pg_collation"                                \
    "  UNION ALL SELECT " CLS_CLASS ", oid, relowner FROM pg_catalog.pg_class" \
    "  UNION ALL SELECT 'pg_catalog.pg_opclass'::pg_catalog.regclass, oid,"    \
    "   opcowner FROM pg_catalog.pg_opclass"                                   \
    "  UNION ALL SELECT 'pg_catalog.pg_opfamily'::pg_catalog.regclass, oid,"   \
    "   opfowner FROM pg_catalog.pg_opfamily"                                  \
    "  UNION ALL SELECT 'pg_catalog.pg_conversion'::pg_catalog.regclass, oid," \
    "   conowner FROM pg_catalog.pg_conversion"                                \
    "  UNION ALL SELECT 'pg_catalog.pg_foreign_server'::pg_catalog.regclass,"  \
    "   oid, srvowner FROM pg_catalog.pg_foreign_server"                       \
    "  UNION ALL SELECT"                                                       \
    "   'pg_catalog.pg_foreign_data_wrapper'::pg_catalog.regclass, oid,"       \
    "   fdwowner FROM pg_catalog.pg_foreign_data_wrapper),"                    \
    " bad(what, own) AS ("                                                     \
    "  SELECT 'owns the schema', s.nspowner FROM s"                            \
    "  UNION ALL SELECT 'may create objects there', r.oid FROM r, s"           \
    "   WHERE pg_catalog.has_schema_privilege(r.oid, s.ns, 'CREATE')"          \
    "  UNION ALL SELECT 'owns a function there', p.proowner"                   \
    "   FROM pg_catalog.pg_proc p, s WHERE p.pronamespace" EQ "s.ns"           \
    "  UNION ALL SELECT 'owns an operator there', o.oprowner"                  \
    "   FROM pg_catalog.pg_operator o, s WHERE o.oprnamespace" EQ "s.ns"       \
    "  UNION ALL SELECT pg_catalog.concat('owns ', c.relname, ' there'),"      \
    "   c.relowner FROM pg_catalog.pg_class c, ours o WHERE c.oid" EQ "o.oid"  \
    "  UNION ALL SELECT pg_catalog.concat('owns the type ', t.typname,"        \
    "   ' there'), t.typowner"                                                 \
    "   FROM pg_catalog.pg_type t, s WHERE t.typnamespace" EQ "s.ns"           \
    "    AND t.typname" LIKE_OURS "  UNION ALL SELECT pg_catalog.concat("      \
    "   'may put a trigger on or refer to ', c.name), r.oid FROM r, rels c"    \
    "   WHERE pg_catalog.has_table_privilege(r.oid, c.oid, 'TRIGGER')"         \
    "    OR pg_catalog.has_any_column_privilege(r.oid, c.oid, 'REFERENCES')"   \
    "  UNION ALL SELECT 'may put a trigger on or refer to the tables made "    \
    "there (default privileges)', a.grantee"                                   \
    "   FROM pg_catalog.pg_default_acl d, pg_catalog.aclexplode(d.defaclacl) " \
    "a,"                                                                       \
    "    s WHERE d.defaclobjtype" EQ "'r'::pg_catalog.\"char\""                \
    "    AND d.defaclrole" EQ "ANY (ARRAY[s.tabown,"                           \
    "         (SELECT x.oid FROM pg_catalog.pg_roles x"                        \
    "          WHERE x.rolname" EQ "current_user)])"                           \
    "    AND (d.defaclnamespace" EQ "0::pg_catalog.oid"                        \
    "         OR d.defaclnamespace" EQ "s.ns)"                                 \
    "    AND a.privilege_type" EQ "ANY"                                        \
    "        ('{TRIGGER,REFERENCES}'::pg_catalog.text[])"                      \
    "  UNION ALL SELECT what, own FROM evt"                                    \
    "  UNION ALL SELECT pg_catalog.concat('owns the function of the ',"        \
    "   pg_catalog.pg_describe_object(" CLS_CAST ", c.oid, 0)), p.proowner"    \
    "   FROM pg_catalog.pg_cast c, pg_catalog.pg_proc p"                       \
    "   WHERE p.oid" EQ "c.castfunc AND NOT EXISTS (SELECT FROM"               \
    "    pg_catalog.pg_type t, r WHERE t.typowner" EQ "r.oid"                  \
    "    AND t.oid" EQ "ANY (ARRAY[c.castsource, c.casttarget]))"              \
    "  UNION ALL SELECT pg_catalog.concat('owns ',"                            \
    "   pg_catalog.pg_describe_object(w.cls, w.oid, 0), ', a member of ',"     \
    "   pg_catalog.pg_describe_object(m.refclassid, m.refobjid, 0)), w.own"    \
    "   FROM pg_catalog.pg_depend a, pg_catalog.pg_depend m, owners w"         \
    "   WHERE a.classid" EQ "ANY (ARRAY['pg_catalog.pg_amop',"                 \
    "          'pg_catalog.pg_amproc']::pg_catalog.regclass[])"                \
    "    AND m.classid" EQ "a.classid AND m.objid" EQ "a.objid"                \
    "    AND m.refclassid" EQ "ANY (ARRAY['pg_catalog.pg_opclass',"            \
    "          'pg_catalog.pg_opfamily']::pg_catalog.regclass[])"              \
    "    AND w.cls" EQ "a.refclassid AND w.oid" EQ "a.refobjid"                \
    "  UNION ALL SELECT pg_catalog.concat('owns the function of ',"            \
    "   pg_catalog.pg_describe_object('pg_catalog.pg_amop'::pg_catalog."       \
    "regclass, am.oid, 0)), p.proowner FROM pg_catalog.pg_amop am,"            \
    "   pg_catalog.pg_operator o, pg_catalog.pg_proc p"                        \
    "   WHERE o.oid" EQ "am.amopopr AND p.oid" EQ "o.oprcode"                  \
    "  UNION ALL SELECT pg_catalog.concat('owns ', pg_catalog."                \
    "pg_describe_object(x.cls, x.obj, 0), ', which the tables use'), w.own"    \
    "   FROM reach x, owners w WHERE w.cls" EQ "x.cls AND w.oid" EQ "x.obj"    \
    "  UNION ALL SELECT pg_catalog.concat('table ',"                           \
    "   k.relnamespace::pg_catalog.regnamespace, '.', k.relname,"              \
    "   ' refers to ', c.name), NULL::pg_catalog.oid"                          \
    "   FROM pg_catalog.pg_constraint f, rels c, pg_catalog.pg_class k"        \
    "   WHERE f.confrelid" EQ "c.oid AND k.oid" EQ "f.conrelid"                \
    "    AND NOT EXISTS (SELECT FROM rels o WHERE o.oid" EQ "k.oid)),"         \
    " found AS (SELECT b.what, rr.name FROM bad b"                             \
    "   LEFT JOIN rr ON rr.oid" EQ "b.own"                                     \
    "   WHERE b.own IS NULL OR rr.oid IS NOT NULL"                             \
    "   ORDER BY rr.name NULLS FIRST, b.what LIMIT 1)"                         \
    " SELECT s.nspname, o.rolname,"                                            \
    "  NOT EXISTS (SELECT FROM r WHERE r.oid" EQ "s.tabown),"                  \
    "  (SELECT name FROM found), (SELECT what FROM found),"                    \
    "  EXISTS (SELECT FROM found),"                                            \
    "  (SELECT rr.name FROM evt, rr WHERE rr.oid" EQ "evt.own LIMIT 1)"        \
    " FROM s LEFT JOIN pg_catalog.pg_roles o ON o.oid" EQ "s.tabown"

/* The objects of ours in the tables' namespace (nsp, a parameter) that a
 * role other than the tables' owner owns: the statement that gives each
 * to role `to` (a parameter; names qualified: run with an empty search
 * path), the role, and whether it is a superuser.  A sequence that belongs to a
 * column goes with its table; an index, with its table. */
#define BBTOKEN_FOREIGN_OF(to, nsp)                                            \
    "WITH s AS (SELECT c.relnamespace AS ns, c.relowner AS own"                \
    "           FROM pg_catalog.pg_class c"                                    \
    "           WHERE c.oid" EQ "pg_catalog.to_regclass(pg_catalog.format("    \
    "                 '%I.bbtoken_schema', " nsp "::pg_catalog.text))),"       \
    " o(stmt, own) AS ("                                                       \
    "  SELECT pg_catalog.format('ALTER %s %I.%I OWNER TO %I', CASE c.relkind"  \
    "    WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'"                        \
    "    WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'"      \
    "    WHEN 'c' THEN 'TYPE' ELSE 'TABLE' END, n.nspname, c.relname,"         \
    "    " to "::text), c.relowner"                                            \
    "  FROM pg_catalog.pg_class c, pg_catalog.pg_namespace n, s"               \
    "  WHERE c.relnamespace" EQ "s.ns AND n.oid" EQ "s.ns"                     \
    "   AND c.relname" LIKE_OURS                                               \
    " AND c.relowner OPERATOR(pg_catalog.<>) s.own"                            \
    "   AND c.relkind OPERATOR(pg_catalog.=) ANY"                              \
    "       ('{r,p,v,m,f,c,S}'::pg_catalog.\"char\"[])"                        \
    "   AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d"                    \
    "        WHERE d.classid" EQ "'pg_catalog.pg_class'::pg_catalog.regclass"  \
    "          AND d.objid" EQ "c.oid"                                         \
    "          AND d.refclassid" EQ                                            \
    "'pg_catalog.pg_class'::pg_catalog.regclass"                               \
    "          AND d.deptype OPERATOR(pg_catalog.=) ANY"                       \
    "              ('{a,i}'::pg_catalog.\"char\"[]))"                          \
    "  UNION ALL"                                                              \
    "  SELECT pg_catalog.format('ALTER %s %I.%I(%s) OWNER TO %I',"             \
    "    CASE p.prokind WHEN 'a' THEN 'AGGREGATE' ELSE 'ROUTINE' END,"         \
    "    n.nspname, p.proname,"                                                \
    "    pg_catalog.pg_get_function_identity_arguments(p.oid), " to "::text)," \
    "    p.proowner"                                                           \
    "  FROM pg_catalog.pg_proc p, pg_catalog.pg_namespace n, s"                \
    "  WHERE p.pronamespace" EQ "s.ns AND n.oid" EQ "s.ns"                     \
    "   AND p.proname" LIKE_OURS                                               \
    " AND p.proowner OPERATOR(pg_catalog.<>) s.own"                            \
    "  UNION ALL"                                                              \
    "  SELECT pg_catalog.format('ALTER TYPE %I.%I OWNER TO %I', n.nspname,"    \
    "    t.typname, " to "::text), t.typowner"                                 \
    "  FROM pg_catalog.pg_type t, pg_catalog.pg_namespace n, s"                \
    "  WHERE t.typnamespace" EQ "s.ns AND n.oid" EQ "s.ns"                     \
    "   AND t.typname" LIKE_OURS                                               \
    " AND t.typowner OPERATOR(pg_catalog.<>) s.own"                            \
    "   AND t.typtype OPERATOR(pg_catalog.=) ANY"                              \
    "       ('{e,d,r,m}'::pg_catalog.\"char\"[]))"                             \
    " SELECT o.stmt, r.rolname, r.rolsuper FROM o, pg_catalog.pg_roles r"      \
    " WHERE r.oid" EQ "o.own ORDER BY 3, 1"
#define BBTOKEN_FOREIGN_SQL BBTOKEN_FOREIGN_OF("$1", "$2")

/* The schema's objects another role owns, in namespace nsp; NULL after
 * reporting. */
static PGresult *bbtoken_owner_foreign(bbtoken_ctx_t *ctx, const char *owner,
                                       const char *nsp)
{
    const char *params[2] = {owner, nsp};

    return bbtoken_exec_once(ctx, "finding the schema's owners",
                             BBTOKEN_FOREIGN_SQL, 2, params);
}

/* Pin the search path to the namespace (a quoted identifier, or "" for
 * none but pg_catalog's). */
static int bbtoken_owner_path(bbtoken_ctx_t *ctx, const char *ns)
{
    char path[300];
    const char *params[1] = {path};
    PGresult *res;

    snprintf(path, sizeof(path), "%s%spg_temp", ns, ns[0] ? ", " : "");
    res = bbtoken_exec_once(
        ctx, "setting the search path",
        "SELECT pg_catalog.set_config('search_path', $1, false)", 1, params);
    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    PQclear(res);
    return 0;
}

/* The hand-back below: whom to, where, and how many it gave. */
typedef struct {
    const char *owner, *nsp;
    int n;
} bbtoken_reclaim_t;

static int bbtoken_reclaim_body(bbtoken_ctx_t *ctx, void *arg)
{
    bbtoken_reclaim_t *r = arg;
    PGresult *res, *alter;
    int i, rc = 0;

    r->n = 0;
    if (!(res = bbtoken_owner_foreign(ctx, r->owner, r->nsp))) {
        return BBTOKEN_EXIT_FAIL;
    }
    for (i = 0; i < PQntuples(res) && rc == 0; i++) {
        if (PQgetvalue(res, i, 2)[0] != 't') {
            continue;
        }
        if (!(alter = bbtoken_exec_once(ctx,
                                        "giving the schema's objects "
                                        "to the owner of its tables",
                                        PQgetvalue(res, i, 0), 0, NULL))) {
            rc = BBTOKEN_EXIT_FAIL;
        } else {
            PQclear(alter);
            r->n++;
        }
    }
    PQclear(res);
    return rc;
}

/* The rows' evidence of the hand-back after its COMMIT's answer was lost
 * (xact.c): no object of ours in the namespace ($4) is a superuser's.
 * Whoever gave them, that is what it answers. */
static const char bbtoken_reclaim_ask_sql[] =
    BBT_XACT_ASK("NOT EXISTS (SELECT FROM (" BBTOKEN_FOREIGN_OF(
        "$3", "$4") ") f WHERE f.rolsuper)");

/* Give owner (no superuser) what superusers own of the schema's objects,
 * in one transaction, and say so.  Never anything a role that is no
 * superuser owns: that would give it the owner's rights.  Its COMMIT's
 * answer lost, it is asked about as any write is, in a session made
 * again that reads the catalog alone (ctx->reclaiming). */
static int bbtoken_owner_reclaim(bbtoken_ctx_t *ctx, const char *owner,
                                 const char *nsp)
{
    bbtoken_reclaim_t r = {owner, nsp, 0};
    const bbtoken_tx_ask_t ask = {
        bbtoken_reclaim_ask_sql,
        {owner, nsp},
        "no object of the schema's that a superuser owns",
        NULL};
    const bbtoken_tx_t tx = {
        "giving the schema's objects to the owner of its tables",
        "BEGIN",
        NULL,
        bbtoken_reclaim_body,
        &r,
        NULL,
        &ask,
        0};
    int rc;

    if (bbtoken_owner_path(ctx, "") != 0) {
        return BBTOKEN_EXIT_FAIL;
    }
    ctx->reclaiming = 1;
    rc = bbtoken_tx(ctx, &tx);
    ctx->reclaiming = 0;
    if (rc == 0 && r.n > 0) {
        printf("gave %d of the schema's objects that superusers owned to "
               "%s, the owner of its tables\n",
               r.n, owner);
    }
    return rc;
}

/* A refusal, as bbtoken_fail says it, ending with what the command's
 * transactions before it did: db upgrade looks again after each
 * migration, which stays committed.  A run again meets the same
 * refusal until the catalog is put right, so the clause is the one
 * without the promise of a run again (ctx->refused) where there is one. */
static int bbtoken_owner_fail(bbtoken_ctx_t *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int bbtoken_owner_fail(bbtoken_ctx_t *ctx, const char *fmt, ...)
{
    char why[2048], after[sizeof(ctx->done) + 16];
    const char *but = after;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    ctx->guard_refused = 1;
    if (ctx->refused[0]) {
        snprintf(after, sizeof(after), "; but %s", ctx->refused);
    } else {
        but = bbtoken_changed(ctx, "", "; but ", after, sizeof(after));
    }
    return bbtoken_fail("%s%s", why, but);
}

/* Whom such a member must be: one the guard does not hold a superuser. */
#define BBTOKEN_NO_POWER                                                       \
    "that is no superuser and may not become one (no CREATEROLE, nor "         \
    "pg_execute_server_program, pg_write_server_files or "                     \
    "pg_read_server_files, nor a function of theirs or dblink_connect_u "      \
    "granted)"

int bbtoken_owner_guard(bbtoken_ctx_t *ctx)
{
    PGresult *res;
    const char *nsp, *owner, *bad;
    char *ns, said[1024] = "", *outer;
    size_t outer_size;
    int rc = BBTOKEN_EXIT_FAIL, owner_trusted;

    if (!ctx->super_session || ctx->guarded) {
        return 0;
    }
    /* Made again to ask what became of the hand-back's COMMIT (xact.c):
     * the question reads the catalog alone, by pg_catalog's names, and
     * the command ends after it, refused as below. */
    if (ctx->reclaiming) {
        return bbtoken_owner_path(ctx, "");
    }
    if (!(res = bbtoken_exec_once(ctx, "checking who may reach the schema",
                                  BBTOKEN_GUARD_SQL, 0, NULL))) {
        return BBTOKEN_EXIT_FAIL;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return bbtoken_owner_fail(ctx,
                                  "no schema of the search path exists to hold "
                                  "mod_bbtoken's tables");
    }
    nsp = PQgetvalue(res, 0, 0);
    owner = PQgetisnull(res, 0, 1) ? NULL : PQgetvalue(res, 0, 1);
    owner_trusted = PQgetvalue(res, 0, 2)[0] == 't';
    bad = PQgetvalue(res, 0, 5)[0] == 't' ? PQgetvalue(res, 0, 3) : NULL;
    if (owner && !owner_trusted) {
        /* Giving back is DDL, which runs the event triggers' functions. */
        if (ctx->upgrading && !PQgetisnull(res, 0, 6)) {
            rc = bbtoken_owner_fail(
                ctx,
                "role %s, which is no superuser, owns the "
                "function of an event trigger: a superuser's "
                "DDL runs it with a superuser's rights; take "
                "that from %s, or connect as %s or a member of "
                "its role " BBTOKEN_NO_POWER,
                PQgetvalue(res, 0, 6), PQgetvalue(res, 0, 6), owner);
            goto out;
        }
        /* What the hand-back says (its COMMIT's answer lost: what became
         * of it) is part of the one line of the refusal. */
        if (ctx->upgrading) {
            outer = bbtoken_say_held(&outer_size);
            bbtoken_say_hold(said, sizeof(said));
            rc = bbtoken_owner_reclaim(ctx, owner, nsp);
            bbtoken_say_resume(outer, outer_size);
            if (rc != 0) {
                rc = bbtoken_fail("%s", said);
                goto out;
            }
        }
        rc = bbtoken_owner_fail(
            ctx,
            "%s%sthe schema's tables belong to role %s, which is "
            "no superuser: a superuser's session would run "
            "with its rights whatever %s put on them (a "
            "trigger); connect as %s or a member of its role " BBTOKEN_NO_POWER,
            said, said[0] ? "; " : "", owner, owner, owner);
        goto out;
    }
    if (bad && bad[0]) {
        rc = bbtoken_owner_fail(
            ctx,
            "role %s, which is no superuser, %s (schema %s): a "
            "superuser's session would run what it makes there "
            "with a superuser's rights; take that from %s, or "
            "connect as a role that is no superuser",
            bad, PQgetvalue(res, 0, 4), nsp, bad);
        goto out;
    }
    if (bad) {
        rc = bbtoken_owner_fail(
            ctx,
            "%s (schema %s): a cascade of its foreign key runs "
            "that table's triggers, and those of tables "
            "referring to it, in a superuser's session; drop "
            "the key, or connect as a role that is no superuser",
            PQgetvalue(res, 0, 4), nsp);
        goto out;
    }
    ns = PQescapeIdentifier(ctx->conn, nsp, strlen(nsp));
    if (!ns) {
        rc = bbtoken_fail("out of memory");
        goto out;
    }
    rc = bbtoken_owner_path(ctx, ns);
    PQfreemem(ns);
    ctx->guarded = rc == 0;
out:
    PQclear(res);
    return rc;
}

int bbtoken_owner_recheck(bbtoken_ctx_t *ctx)
{
    ctx->guarded = 0;
    return bbtoken_owner_guard(ctx);
}

int bbtoken_upgrade_as_owner(bbtoken_ctx_t *ctx)
{
    PGresult *res;
    const char *owner, *nsp;
    char *id;
    int rc = BBTOKEN_EXIT_FAIL;

    if ((rc = bbtoken_owner_guard(ctx)) != 0) {
        return rc;
    }
    if (!(res = bbtoken_exec_once(
              ctx, "finding the schema's owner",
              "SELECT o.rolname, o.rolname" EQ "current_user, s.nspname"
              " FROM (" BBTOKEN_NS_SQL ") s, pg_catalog.pg_roles o"
              " WHERE o.oid" EQ "s.tabown",
              0, NULL))) {
        return BBTOKEN_EXIT_FAIL;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return bbtoken_owner_fail(
            ctx, "finding the schema's owner: no bbtoken_schema");
    }
    owner = PQgetvalue(res, 0, 0);
    nsp = PQgetvalue(res, 0, 2);
    if (PQgetvalue(res, 0, 1)[0] != 't') {
        char sql[600];
        PGresult *set = NULL;

        if (bbtoken_interrupt_stops()) {
            rc = bbtoken_interrupt_fail(ctx, "finding the schema's owner");
            goto out;
        }
        if ((id = PQescapeIdentifier(ctx->conn, owner, strlen(owner)))) {
            snprintf(sql, sizeof(sql), "SET ROLE %s", id);
            PQfreemem(id);
            set = PQexec(ctx->conn, sql);
        }
        if (!set || PQresultStatus(set) != PGRES_COMMAND_OK) {
            PQclear(set);
            rc =
                bbtoken_owner_fail(ctx,
                                   "the schema's tables belong to role %s: run "
                                   "db upgrade as %s or a member of its role",
                                   owner, owner);
            goto out;
        }
        PQclear(set);
    }
    if (!(id = PQescapeIdentifier(ctx->conn, nsp, strlen(nsp)))) {
        rc = bbtoken_fail("out of memory");
        goto out;
    }
    rc = bbtoken_owner_path(ctx, id);
    PQfreemem(id);
    if (rc != 0) {
        goto out;
    }
    /* The session's own, which a connection made again would not have:
     * a migration run there would make objects its login owns. */
    ctx->held |= BBTOKEN_HELD_OWNER;
    {
        PGresult *f = bbtoken_owner_foreign(ctx, owner, nsp);

        if (!f) {
            rc = BBTOKEN_EXIT_FAIL;
            goto out;
        }
        /* Another's objects (an earlier upgrade's) cannot be replaced by
         * the owner. */
        if (PQntuples(f) > 0) {
            rc = bbtoken_owner_fail(
                ctx,
                "%d of the schema's objects belong to role %s, not to %s, "
                "the owner of its tables: %s",
                PQntuples(f), PQgetvalue(f, 0, 1), owner,
                PQgetvalue(f, 0, 2)[0] == 't'
                    ? "run db upgrade once as a superuser, which gives them "
                      "to the owner"
                    : "give them to the owner (ALTER ... OWNER TO), or drop "
                      "them");
        }
        PQclear(f);
    }
out:
    PQclear(res);
    return rc;
}
