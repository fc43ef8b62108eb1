/*
 * Whose code the CLI may run (owner.c): a session that is or may become a
 * superuser only where no other role can put code in its way, and as
 * whom db upgrade migrates; the roles it asks about, as SQL.
 */
#ifndef BBTOKEN_OWNER_H
#define BBTOKEN_OWNER_H

#include "cli.h"

/* The roles whose members are, or may become, superusers: superusers,
 * pg_execute_server_program and pg_write_server_files (whose programs and
 * files act as the server's system user, which logs in as postgres), a
 * role that may run a function writing the server's files (lo_export,
 * adminpack's pg_file_write: granted, it is pg_write_server_files), and, before
 * PostgreSQL 16, roles with CREATEROLE (which may grant themselves
 * those).  Every name qualified: it runs before the search path is
 * pinned; and no cast PostgreSQL does not define itself (one made with
 * another role's function would run it), so versions, six digits, are
 * compared as text. */
#define BBTOKEN_POWER_ROLES_SQL                                                \
    "SELECT su.oid FROM pg_catalog.pg_roles su"                                \
    " WHERE su.rolsuper OR su.rolname OPERATOR(pg_catalog.=) ANY"              \
    "  "                                                                       \
    "('{pg_execute_server_program,pg_write_server_files}'::pg_catalog.name[])" \
    "  OR (su.rolcreaterole AND pg_catalog.current_setting("                   \
    "   'server_version_num') OPERATOR(pg_catalog.<) "                         \
    "'160000'::pg_catalog.text)"                                               \
    "  OR " BBTOKEN_MAY_RUN_SQL(BBTOKEN_WRITE_FUNCS)

/* Whether role su may run one of the functions named, those that exist.
 * Their arguments' types are named by schema too: the database's search
 * path, not pinned yet, could put another's domain "oid" first, and the
 * function would not be found. */
#define BBTOKEN_MAY_RUN_SQL(funcs)                                             \
    "EXISTS (SELECT FROM pg_catalog.unnest(" funcs "::pg_catalog.text[]) f(n)" \
    " WHERE pg_catalog.has_function_privilege(su.oid,"                         \
    "  pg_catalog.to_regprocedure(f.n), 'EXECUTE'))"
#define BBTOKEN_WRITE_FUNCS                                                    \
    "'{\"pg_catalog.lo_export(pg_catalog.oid,pg_catalog.text)\","              \
    "\"pg_catalog.pg_file_write(pg_catalog.text,pg_catalog.text,"              \
    "pg_catalog.bool)\"}'"

/* Whether role su may run dblink's dblink_connect_u, in whatever schema
 * dblink was made: it connects without a password check, as postgres
 * where pg_hba.conf lets the server's system user in by peer or trust, so
 * its session is guarded; but where every login needs a password it
 * cannot, so its own code is not trusted for it (nor for a grant alone,
 * without the schema's USAGE).  Found by what it is, not by its name: C,
 * which only a superuser may make, SECURITY DEFINER, and skipping the
 * password check only while its owner is a superuser. */
#define BBTOKEN_DBLINK_SQL                                                     \
    "EXISTS (SELECT FROM pg_catalog.pg_proc p, pg_catalog.pg_language l,"      \
    "  pg_catalog.pg_roles o"                                                  \
    " WHERE p.proname OPERATOR(pg_catalog.=) 'dblink_connect_u'"               \
    "  AND p.prosecdef AND l.oid OPERATOR(pg_catalog.=) p.prolang"             \
    "  AND l.lanname OPERATOR(pg_catalog.=) 'c'"                               \
    "  AND p.probin OPERATOR(pg_catalog.=) '$libdir/dblink'"                   \
    "  AND o.oid OPERATOR(pg_catalog.=) p.proowner AND o.rolsuper"             \
    "  AND pg_catalog.has_function_privilege(su.oid, p.oid, 'EXECUTE'))"

/* The roles whose members are guarded without being trusted: those that
 * read the server's files (pg_read_server_files, and a role that may run a
 * function reading them), and one that may run dblink_connect_u. */
#define BBTOKEN_READ_ROLES_SQL                                                 \
    "SELECT su.oid FROM pg_catalog.pg_roles su"                                \
    " WHERE su.rolname OPERATOR(pg_catalog.=) 'pg_read_server_files'"          \
    "  OR " BBTOKEN_MAY_RUN_SQL(BBTOKEN_READ_FUNCS) " OR " BBTOKEN_DBLINK_SQL
#define BBTOKEN_READ_FUNCS                                                     \
    "'{\"pg_catalog.lo_import(pg_catalog.text)\","                             \
    "\"pg_catalog.lo_import(pg_catalog.text,pg_catalog.oid)\","                \
    "\"pg_catalog.pg_read_file(pg_catalog.text)\","                            \
    "\"pg_catalog.pg_read_file(pg_catalog.text,pg_catalog.int8,"               \
    "pg_catalog.int8)\","                                                      \
    "\"pg_catalog.pg_read_file(pg_catalog.text,pg_catalog.int8,"               \
    "pg_catalog.int8,pg_catalog.bool)\","                                      \
    "\"pg_catalog.pg_read_binary_file(pg_catalog.text)\","                     \
    "\"pg_catalog.pg_read_binary_file(pg_catalog.text,pg_catalog.int8,"        \
    "pg_catalog.int8)\","                                                      \
    "\"pg_catalog.pg_read_binary_file(pg_catalog.text,pg_catalog.int8,"        \
    "pg_catalog.int8,pg_catalog.bool)\"}'"

/* In a session whose login is or may become a superuser, before anything
 * of the schema's is read: refuse unless no role but superusers may reach
 * the schema's namespace (create in it, own its functions, operators or
 * objects of ours), then pin the search path to it.  Nothing for anyone
 * else.  0, or an exit status after reporting.  owner.c. */
int bbtoken_owner_guard(bbtoken_ctx_t *ctx);

/* The guard again (a migration committed since). */
int bbtoken_owner_recheck(bbtoken_ctx_t *ctx);

/* Before db upgrade applies a migration to an existing schema: the guard,
 * then run as the role that owns its tables (SET ROLE), with the search
 * path pinned to the tables' namespace; refused while another role owns
 * any of it.  0, or an exit status after reporting.  owner.c. */
int bbtoken_upgrade_as_owner(bbtoken_ctx_t *ctx);

#endif
