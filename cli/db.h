/*
 * The CLI's database session (db.c): connecting, the schema version check,
 * the session settings the audit trail reads, running parameterized
 * statements and reporting their failures, the look-ups most commands
 * start with, and the token tables list prints.  Every statement is
 * parameterized: no text from the command line is ever spliced into SQL.
 */
#ifndef BBTOKEN_DB_H
#define BBTOKEN_DB_H

#include <libpq-fe.h>

#include "bbt_sqlstate.h"
#include "bbt_token.h"
#include "cli.h"

struct bbtoken_ctx {
    const char *db; /* --db, or NULL: libpq's environment alone */
    PGconn *conn;   /* opened once a command has checked its arguments */
    int any_schema; /* db commands: connect whatever the schema version */
    /* In a try of bbtoken_tx: an abort of the database's (40P01, 40001)
     * is bbtoken_tx's to judge, kept in aborted, not reported. */
    int in_tx;
    char aborted[8]; /* its SQLSTATE, or "" */
    /* A write outside any transaction (bbtoken_exec_rows): bbtoken_exec
     * runs it in one of its own, BEGIN to COMMIT, not as one, so that a
     * connection lost before its COMMIT leaves nothing done, and one lost
     * at it can be asked about (xact.c). */
    int write_alone;
    /* ... and every change it makes writes a record of it to the audit
     * trail (bbtoken_exec_audited): one that wrote none changed nothing. */
    int write_audited;
    /* In a try of bbtoken_tx whose BEGIN was answered: a connection lost
     * before its COMMIT was sent changed nothing. */
    int begun;
    /* db upgrade: a superuser's session gives the tables' owner back what
     * superusers own of the schema (owner.c). */
    int upgrading;
    /* The login is, or may become, a superuser, or reads the server's
     * files; and owner.c's guard has let it through, its search path
     * pinned. */
    int super_session;
    int guarded;
    /* What the command holds in its database session (BBTOKEN_HELD_*
     * bits), which a connection made again does not: after a COMMIT whose
     * answer was lost and which was done, a command holding any stops
     * there (xact.c), and stopped says so: main exits
     * BBTOKEN_EXIT_STOPPED whatever the command returned. */
    unsigned held;
    int stopped;
    /* How many sessions were lost at a COMMIT and made again (xact.c):
     * what one holds (a held cursor) is not in the next. */
    unsigned lost;
    /* A COMMIT of the CLI's is running (db.c's notice receiver), and how
     * many times the server said, since last told, that a commit's wait
     * for a synchronous standby was given up: committed on that server,
     * it may be missing from the standby a failover would promote. */
    int committing;
    unsigned unconfirmed;
    /* The commits so told (bbtoken_committed), and what the first did.
     * They are said once, so that a failure stays one line: at the end of
     * the failure's line (bbtoken_say_tail), or, where the command
     * succeeds, in a line of its own at its end
     * (bbtoken_unconfirmed_said). */
    unsigned unconfirmed_commits;
    char unconfirmed_what[160];
    char tail[192]; /* bbtoken_unconfirmed_tail's text */
    /* The command is one of many transactions (ctx->done's): its end's
     * line counts the commits not confirmed rather than naming one. */
    int several;
    /* What a command of many transactions has done so far that a failure
     * of its next does not undo (bbtoken_done: "1000 tokens of frank were
     * revoked before it (running the command again revokes the rest)"),
     * or "": the failure's message says it, where it would say nothing
     * was changed (bbtoken_changed). */
    char done[512];
    /* The same, where done tells of lines on stdout ("the 1000 tokens
     * listed above") that a write failed to list, as it then reads
     * (bbtoken_done_unlisted), or "": a write that fails says this, one
     * that succeeds makes done true (bbtoken_flush_stdout). */
    char unlisted[512];
    /* The same, where a refusal a run again meets as well ends the
     * command (the owner guard's, for the catalog's state): what was
     * done before it, and that a run again does the rest only once that
     * is put right (bbtoken_done_rest), or "": done then. */
    char refused[512];
    /* The owner guard refused the session (bbtoken_owner_fail): where it
     * is one made again after a lost COMMIT, xact.c says ctx->refused
     * for what came before, as the guard's refusal does. */
    int guard_refused;
    /* db upgrade's hand-back of the schema's objects is under way
     * (owner.c): a session made again to ask what became of its COMMIT
     * reads the catalog alone, its search path pinned, unguarded. */
    int reclaiming;
};

/* ctx->held's bits. */
#define BBTOKEN_HELD_NOTIFY_LOCK 1u /* notify's claim, and its cursors */
#define BBTOKEN_HELD_CURSOR 2u      /* a held stream's cursor */
#define BBTOKEN_HELD_INIT_LOCK 4u   /* db upgrade --init's advisory lock */
#define BBTOKEN_HELD_OWNER 8u       /* db upgrade's role and search path */

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

/* The schema's migrations, compiled in (migrations.c). */
typedef struct {
    int version;
    const char *name;
    const char *sql;
} bbtoken_migration_t;

extern const bbtoken_migration_t *const bbtoken_migration_list;
extern const int bbtoken_migration_count;
#define BBTOKEN_SCHEMA_LATEST                                                  \
    (bbtoken_migration_list[bbtoken_migration_count - 1].version)

typedef struct {
    char id[24]; /* bigint as text, handed back to SQL as a parameter */
    char name[BBT_USER_MAX + 1];
    int active;
} bbtoken_user_t;

/* ISO 8601 in UTC, whatever the session's TimeZone. */
#define BBTOKEN_ISO "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'"

/* The point in time of a bbtoken_when_t's two parameters: $1 and $2
 * (purge), $2 and $3 (audit). */
#define BBTOKEN_WHEN_12                                                        \
    "COALESCE($1::timestamp AT TIME ZONE 'UTC',"                               \
    " now() - make_interval(secs => $2::bigint))"
#define BBTOKEN_WHEN_23                                                        \
    "COALESCE($2::timestamp AT TIME ZONE 'UTC',"                               \
    " now() - make_interval(secs => $3::bigint))"

/* Connect, tell the database who acts, and (unless ctx->any_schema) check
 * the schema version.  0, or an exit status after reporting. */
int bbtoken_connect(bbtoken_ctx_t *ctx);

/* How a commit the synchronous standby did not confirm is told (after
 * "committed on this server, but" where the COMMIT was answered). */
#define BBTOKEN_UNCONFIRMED                                                    \
    "the synchronous standby did not confirm it: a failover may lose it"

/* ... and how many of the command's were not, at the end of a failure's
 * line, or after "done, but" (%u the count, %s "it" or "they"). */
#define BBTOKEN_UNCONFIRMED_OF                                                 \
    "the synchronous standby did not confirm %u of the command's commits: "    \
    "a failover may lose what %s did"

/* A COMMIT sent as what was answered: where the server said meanwhile that
 * its wait for a synchronous standby was given up (a cancel, a
 * statement_timeout), count it (ctx->unconfirmed_commits), to be said
 * once.  The command goes on and its exit status stays: the change is
 * made, and every session of that server sees it. */
void bbtoken_committed(bbtoken_ctx_t *ctx, const char *what);

/* The tail of a failure's line (bbtoken_say_tail, arg the ctx): the
 * commits the standby did not confirm so far, told or not yet
 * (BBTOKEN_UNCONFIRMED_OF), or NULL for none. */
const char *bbtoken_unconfirmed_tail(void *arg);

/* At the end of a command that succeeded: its commits the standby did
 * not confirm, if any, in one line on stderr: "WHAT: committed on this
 * server, but " BBTOKEN_UNCONFIRMED for the one commit of a command of
 * one transaction, else "done, but " BBTOKEN_UNCONFIRMED_OF. */
void bbtoken_unconfirmed_said(bbtoken_ctx_t *ctx);

/* Whatever stdout holds written out: 0 (ctx->done then holds for what it
 * lists), or -1 after saying in one line why (as what, which may be
 * NULL) and what the command's transactions did before it (ctx->unlisted,
 * else ctx->done). */
int bbtoken_flush_stdout(bbtoken_ctx_t *ctx, const char *what);

/* Whether libpq takes --db's value s as a connection string (a conninfo
 * or a URI) rather than a database name.  dbmask.c. */
int bbtoken_is_conninfo(const char *s);

/* libpq's message msg with every value of --db (db) masked, in memory the
 * caller frees; NULL: nothing of msg may be shown.  dbmask.c. */
char *bbtoken_masked(const char *db, const char *msg);

/* Whether --db, db (parsed as opts), names what it means (dbarg.c): 0, or
 * BBTOKEN_EXIT_FAIL after saying what it leaves to libpq's environment
 * (an empty value, an empty item of a host list, a URI naming no host and
 * no database), naming a keyword, never a value. */
int bbtoken_db_unnamed(const char *db, const PQconninfoOption *opts);

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

/* The database's schema version, or -1 when it has no bbtoken_schema. */
int bbtoken_schema_version(bbtoken_ctx_t *ctx, int *version);

/* Bring the planner's statistics for tables (their names, as the search
 * path finds them, comma-separated) up to date where they are stale:
 * ANALYZE, of those this role owns (another's would only warn).  A command
 * that reads the whole site calls it first.  Statistics taken when a table
 * held none of the rows it holds now (ANALYZE after a mass delete, before
 * VACUUM, then a bulk load before autovacuum came round again) call a
 * table of many pages empty, and the planner joins by loops that read a
 * table whole for each row of another: hours for a few thousand tokens.
 * That state is told from the catalog alone; the rows changed since the
 * last ANALYZE (autovacuum's rule) are told too, but a session reports
 * them up to a second after its commit.  Fresh statistics are left alone:
 * ANALYZE of a big site's tables takes seconds.  A table locked by another
 * (autovacuum) is skipped, not waited for.  On a hot standby, which
 * cannot ANALYZE (its statistics are the primary's), it does nothing.  0,
 * or an exit status after reporting. */
int bbtoken_analyze(bbtoken_ctx_t *ctx, const char *tables);

/* The tables a statement over every token reads, itself or through the
 * triggers of its change (bbtoken_lookup's rows, their levels from the
 * grants): bbtoken_analyze's list for the commands that read the whole
 * site, each adding those it reads besides.  Those that change one
 * holder's tokens (revoke --user, user disable) do without: on such
 * statistics they read a table of a few pages whole for each of the
 * holder's tokens, which stops with those pages, and on a big site whose
 * statistics are merely behind (autovacuum's rule) the ANALYZE would cost
 * them more than it saves (0.6 s at 20,000 tokens). */
#define BBTOKEN_ANALYZE_TOKENS                                                 \
    "bbtoken_tokens,bbtoken_users,bbtoken_project_grants,"                     \
    "bbtoken_repo_grants,bbtoken_lookup"

/* What a failed statement's error means (bbt_sql_classify). */
bbt_sql_class_t bbtoken_classify(const PGresult *res);

/* Report a failed statement (as `what`) and free it; returns
 * BBTOKEN_EXIT_FAIL. */
int bbtoken_db_fail(bbtoken_ctx_t *ctx, PGresult *res, const char *what);

/* Set ctx->done: what the command's transactions committed so far did,
 * as a clause about the transaction that would fail next ("it"); and
 * ctx->unlisted and ctx->refused emptied. */
void bbtoken_done(bbtoken_ctx_t *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* After bbtoken_done, where its clause tells of lines printed on stdout:
 * ctx->unlisted, the same as it is true if they were not all written. */
void bbtoken_done_unlisted(bbtoken_ctx_t *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* bbtoken_done where a run again does the rest (again: "running the
 * command again revokes the rest"): done says it in parentheses, and
 * ctx->refused, for a refusal a run again meets too, after "once that is
 * put right". */
void bbtoken_done_rest(bbtoken_ctx_t *ctx, const char *again, const char *fmt,
                       ...) __attribute__((format(printf, 3, 4)));
#define BBTOKEN_REVOKES_REST "running the command again revokes the rest"

/* What a failure's message says of what is changed: plain while the
 * command has done nothing (ctx->done empty), else lead and ctx->done,
 * in buf (size bytes). */
const char *bbtoken_changed(const bbtoken_ctx_t *ctx, const char *plain,
                            const char *lead, char *buf, size_t size);

/* ... where a transaction changed nothing: "nothing was changed (safe to
 * run again)", or that it changed nothing, but what came before it did. */
#define BBTOKEN_UNCHANGED(ctx, buf)                                            \
    bbtoken_changed((ctx), "nothing was changed (safe to run again)",          \
                    "that transaction changed nothing, but ", (buf),           \
                    sizeof(buf))

/* Run a statement as it is, once: inside a transaction (whose runner
 * judges an abort), or where none is to be expected (the session's
 * settings, and reading the schema's version, which only a migration
 * under its lock writes): those are not run again.  NULL (reported as
 * `what`) unless it succeeded.  db.c. */
PGresult *bbtoken_exec_once(bbtoken_ctx_t *ctx, const char *what,
                            const char *sql, int n, const char *const *params);

/* Run a statement; NULL (reported as `what`) unless it succeeded.  Run
 * outside a transaction, the statement is its own and bbtoken_tx runs it
 * (again when the database aborted it).  tx.c. */
PGresult *bbtoken_exec(bbtoken_ctx_t *ctx, const char *what, const char *sql,
                       int n, const char *const *params);

/* Run a statement that changes rows; *rows gets how many. */
int bbtoken_exec_rows(bbtoken_ctx_t *ctx, const char *what, const char *sql,
                      int n, const char *const *params, long *rows);

/* bbtoken_exec_rows for a statement every change of which the schema's
 * triggers record in the audit trail (bbtoken_tx_t's audited): outside a
 * transaction, a lost COMMIT of one that recorded none lost nothing. */
int bbtoken_exec_audited(bbtoken_ctx_t *ctx, const char *what, const char *sql,
                         int n, const char *const *params, long *rows);

/* Run a statement whose result does not matter (ROLLBACK after a
 * failure). */
void bbtoken_exec_quiet(bbtoken_ctx_t *ctx, const char *sql);

/* Check NAME, connect, and find the user (regardless of case). */
int bbtoken_connect_user(bbtoken_ctx_t *ctx, const char *name,
                         bbtoken_user_t *u);

/* The one boolean a statement answers (SELECT EXISTS ...): 1 or 0, or
 * -1 after reporting its failure (doing says what was being done). */
int bbtoken_exec_bool(bbtoken_ctx_t *ctx, const char *doing, const char *sql,
                      int nparams, const char *const *params);

/* A command that names a holder or a filter's target and finds nothing
 * of it fails when the database knows nothing of it either, as one of an
 * unknown token does (most likely a typing mistake): project key (slug
 * NULL) or repository key/slug, what in the message ("project KEY").  0
 * when it is known, or an exit status after reporting. */
int bbtoken_scope_known(bbtoken_ctx_t *ctx, const char *what, const char *key,
                        const char *slug);

/* The same for a user, by name (regardless of case). */
int bbtoken_user_known(bbtoken_ctx_t *ctx, const char *name);

/* An UPDATE by token id changed nothing: say whether the token is unknown
 * or revoked (revoked_msg). */
int bbtoken_token_missing(bbtoken_ctx_t *ctx, const char *id,
                          const char *revoked_msg);

/* A value of a result, or `null` when it is SQL NULL. */
const char *bbtoken_get(const PGresult *res, int row, int col,
                        const char *null);

/* What a stream does to each batch before printing it (a revocation):
 * *kept gets a result of a row per row of res, in order, whose first
 * column is true for a row to print.  0, or an exit status after
 * reporting; with *kept set, the batch was acted on all the same (done,
 * and then stopped: xact.c), and it is printed before the pass stops. */
typedef int bbtoken_stream_act_fn(bbtoken_ctx_t *ctx, const PGresult *res,
                                  PGresult **kept, void *arg);

/* Rows read a batch at a time (stream.c): from a cursor in a read-only
 * transaction of their own, or held past it, or from one result already
 * in hand. */
typedef struct {
    bbtoken_ctx_t *ctx;
    const char *what; /* in messages */
    PGresult *res;    /* the batch in hand */
    int cursor;       /* a cursor is open; else res is all of the rows */
    int held;         /* ... WITH HOLD, its transaction committed */
    int done;         /* res, all of the rows, was handed out */
    /* NULL, or what a printing pass does first to each batch (a held
     * cursor's: it writes), and its verdict on res's rows. */
    bbtoken_stream_act_fn *act;
    void *act_arg;
    PGresult *kept;
    int stop; /* act stopped after the batch in hand: no further one */
    /* A held cursor's: the batch in hand is its last (its act holds
     * nothing of the session for after), and the session's count of
     * ctx->lost when it was opened. */
    int drained;
    unsigned lost;
} bbtoken_stream_t;

/* Open a cursor over sql, SCROLL to be read twice (a table).  0, or an
 * exit status after reporting. */
int bbtoken_stream_open(bbtoken_ctx_t *ctx, bbtoken_stream_t *s,
                        const char *what, const char *sql, int n,
                        const char *const *params, int scroll);

/* Open a SCROLL cursor over sql WITH HOLD: one snapshot, whose rows the
 * server keeps past its transaction, so that act (a stream's, which may
 * be NULL) writes in transactions of its own, each as short as a batch,
 * while the rows are printed.  0, or an exit status after reporting. */
int bbtoken_stream_open_held(bbtoken_ctx_t *ctx, bbtoken_stream_t *s,
                             const char *what, const char *sql, int n,
                             const char *const *params,
                             bbtoken_stream_act_fn *act, void *arg);

/* The rows of res, which the stream frees. */
void bbtoken_stream_result(bbtoken_stream_t *s, PGresult *res);

/* The next batch into s->res: 1, 0 at the end, -1 after reporting. */
int bbtoken_stream_next(bbtoken_stream_t *s);

/* Back before the first row.  0, or an exit status after reporting. */
int bbtoken_stream_rewind(bbtoken_stream_t *s);

/* End the stream: COMMIT when rc is 0, else ROLLBACK (a held cursor:
 * CLOSE, unless its session was lost since: it went with it).  rc, or an
 * exit status after reporting. */
int bbtoken_stream_close(bbtoken_stream_t *s, int rc);

/* The most scratch cells a row fills. */
#define BBTOKEN_STREAM_SCRATCH 4

/* Set a table's row from row i of res; formatted cells go into scratch. */
typedef void bbtoken_stream_fill_fn(const PGresult *res, int i,
                                    const char **row,
                                    char (*scratch)[BBTOKEN_CELL_MAX],
                                    const void *arg);

/* Print the rows as a table under head, as bbtoken_table would (the rows
 * are read twice: the widths, then the lines, which s's act may leave
 * out); nothing at all for no rows when quiet_empty.  *rows (if rows)
 * gets how many lines.  0, or an exit status after reporting, after
 * whatever was printed. */
int bbtoken_stream_table(bbtoken_stream_t *s, const char *const *head, int cols,
                         const int *min, bbtoken_stream_fill_fn *fill,
                         const void *arg, int quiet_empty, long *rows);

/* Row i of res as a JSON array's element; NULL is out of memory. */
typedef json_t *bbtoken_stream_json_fn(const PGresult *res, int i,
                                       const void *arg);

/* Print the rows as one JSON array, as bbtoken_json_out would, an element
 * at a time.  0, or an exit status after reporting, after whatever was
 * printed (then no whole document). */
int bbtoken_stream_json(bbtoken_stream_t *s, bbtoken_stream_json_fn *elem,
                        const void *arg);

/* Declare cursor `name` (an identifier) over sql WITH HOLD, in the
 * caller's transaction: the server keeps its rows past the COMMIT, so
 * that statements of their own (writes a read-only snapshot cannot
 * make) run between its batches.  0, or an exit status after
 * reporting. */
int bbtoken_stream_hold(bbtoken_ctx_t *ctx, const char *what, const char *name,
                        const char *sql);

/* The same without HOLD: its rows are read in the transaction, which must
 * stay open while they are (notify's dry run, which rolls it back). */
int bbtoken_stream_scroll(bbtoken_ctx_t *ctx, const char *what,
                          const char *name, const char *sql);

/* Whether rows a and b of res go together. */
typedef int bbtoken_same_fn(const PGresult *res, int a, int b);

/* A held cursor's rows a group at a time: the rows that go together
 * (same), each group whole however big, the rest a batch at a time. */
typedef struct {
    bbtoken_ctx_t *ctx;
    const char *what;   /* in messages */
    const char *cursor; /* its name */
    bbtoken_same_fn *same;
    PGresult *res; /* the batch in hand */
    long size;     /* rows a batch asks for */
    int next;      /* the next group's first row in res */
    int last;      /* res ends with the cursor's last row */
} bbtoken_groups_t;

void bbtoken_groups_init(bbtoken_groups_t *g, bbtoken_ctx_t *ctx,
                         const char *what, const char *cursor,
                         bbtoken_same_fn *same);

/* The next group: rows [*first, *end) of g->res, valid until the next
 * call.  1; 0 after the last; -1 after a failure (reported). */
int bbtoken_groups_next(bbtoken_groups_t *g, int *first, int *end);

/* Free the batch in hand and close the cursor. */
void bbtoken_groups_close(bbtoken_groups_t *g);

/* A report read through a stream: its statement, and its rows as a table
 * or as JSON. */
typedef struct {
    const char *what; /* in messages */
    const char *sql;
    const char *const *head; /* the table's */
    int cols;
    bbtoken_stream_fill_fn *fill;
    bbtoken_stream_json_fn *json;
    int quiet_empty; /* no rows: no table, not even its header */
} bbtoken_report_t;

/* Run r's statement with its n params and print its rows (as JSON when
 * json).  0, or an exit status after reporting. */
int bbtoken_stream_report(bbtoken_ctx_t *ctx, const bbtoken_report_t *r, int n,
                          const char *const *params, int json);

/* One column of a token table: its header, its least width, and what of
 * the result it shows. */
typedef enum {
    BBTOKEN_COL_VALUE,  /* col's value, or `null` (if set) for SQL NULL */
    BBTOKEN_COL_PERMS,  /* bbtoken_perms_cell of col and col2 */
    BBTOKEN_COL_EXPIRES /* bbtoken_expires_cell of col and col2 */
} bbtoken_col_kind_t;

typedef struct {
    const char *head;
    int min;
    bbtoken_col_kind_t kind;
    int col, col2;
    const char *null;
} bbtoken_column_t;

/* The most columns a token table has, and how many an array of them
 * holds. */
#define BBTOKEN_TOKEN_COLS 12
#define BBTOKEN_NCOLS(cols) ((int)(sizeof(cols) / sizeof((cols)[0])))

/* Print the rows of s as a table of ncols columns (at most
 * BBTOKEN_TOKEN_COLS); *rows (if rows) gets how many.  0, or an exit
 * status after reporting. */
int bbtoken_token_table(bbtoken_stream_t *s, const bbtoken_column_t *cols,
                        int ncols, long *rows);

/* Tokens a bulk write's transaction (a revocation's) takes at most: a big
 * site's run holds a batch in memory and in locks, not every token. */
#define BBTOKEN_WRITE_BATCH "1000"

/* A transaction (tx.c): its statements, then COMMIT. */
typedef struct {
    const char *what;   /* what it does, in messages */
    const char *begin;  /* "BEGIN ..."; NULL: body is one statement, its
                           own transaction, and there is no COMMIT */
    const char *commit; /* the COMMIT, in messages; NULL: what */
    /* The statements, through bbtoken_exec: 0 to commit, or an exit status
     * (BBTOKEN_EXIT_FAIL after reporting, or the caller's own) to roll
     * back.  A try may be run again: it keeps in arg what the next one
     * needs, and shows nothing it would show twice. */
    int (*body)(bbtoken_ctx_t *ctx, void *arg);
    void *arg;
    /* A COMMIT whose answer the connection lost, in messages, where the
     * database, asked again (xact.c), cannot say whether it committed.
     * NULL: what, and that it is not known whether it took effect. */
    const char *lost;
    /* What tells its commit from another's after such a loss; NULL: its
     * records in the audit trail. */
    const struct bbtoken_tx_ask *ask;
    /* Every change it can make writes a record of this transaction to the
     * audit trail (the schema's triggers: what they record, and what
     * other triggers derive from that alone), so one that wrote none
     * changed nothing, whatever id it took (a row locked, one written
     * over with the values it held), and a lost COMMIT lost nothing
     * (xact.c).  0 where it may change what the audit trail does not
     * record (notify's notices, db check --repair's lookup rows, purge's
     * leak report counts, a migration). */
    int audited;
} bbtoken_tx_t;

/* The rows' evidence of a transaction's commit (bbt_xact.h), asked about
 * after its COMMIT's answer was lost, where the audit trail's is not the
 * one: a token made, or rotated. */
typedef struct bbtoken_tx_ask {
    const char *sql;      /* BBT_XACT_ASK(...): $1 its id, $2 its server */
    const char *args[2];  /* its $3 and $4 (NULL: none) */
    const char *evidence; /* what the rows then hold, in messages */
    const char *done;     /* what was done, in messages (NULL: what) */
} bbtoken_tx_ask_t;

/* A transaction's id ("" where it took none: it wrote nothing), its
 * server's start and its own (now(), UTC), read just before its COMMIT
 * (xact.c); and whether it changed nothing: no id, or, audited, no record
 * of its own in the audit trail. */
typedef struct {
    char xid[32];
    char server[64];
    char start[40];
    int unchanged;
} bbtoken_xact_t;

/* Read x in the open transaction, asking the audit trail where audited
 * (bbtoken_tx_t's).  0, or an exit status after reporting (as what). */
int bbtoken_xact_read(bbtoken_ctx_t *ctx, const char *what, int audited,
                      bbtoken_xact_t *x);

/* The connection was lost at tx's COMMIT, which x was read for (lost:
 * libpq's message): connect again (ctx->conn is then the new connection)
 * and, unless x says it changed nothing and the server is the one that
 * ran it, ask what became of it, for at most the session's lock_timeout
 * (BBTOKEN_MINT_LOCK_WAIT where it has none) while it is in progress.  0
 * when it changed nothing there, or committed and the rows show it (with
 * ctx->unconfirmed's word), said on stderr, unless ctx->held: then
 * BBTOKEN_EXIT_STOPPED, ctx->stopped set, after saying that the rest was
 * not done; or an exit status after saying that it was not done
 * (aborted: nothing changed) or that whether it took effect is not
 * known. */
int bbtoken_xact_lost(bbtoken_ctx_t *ctx, const bbtoken_tx_t *tx,
                      const bbtoken_xact_t *x, const char *lost);

/* How many times bbtoken_tx runs a transaction the database aborts. */
#define BBTOKEN_TX_TRIES 5

/* Run tx: BEGIN, its body, COMMIT.  A try the database aborted to let a
 * concurrent transaction go on (deadlock, serialization failure:
 * BBT_SQL_CONFLICT), in any statement or the COMMIT, did nothing, and is
 * run again from BEGIN after a short random pause, up to BBTOKEN_TX_TRIES
 * in all; then one line naming the SQLSTATE.  Any other failure is final.
 * The body's status, or an exit status after reporting. */
int bbtoken_tx(bbtoken_ctx_t *ctx, const bbtoken_tx_t *tx);

/* A new token's transaction (mint.c): what create and rotate each say and
 * store. */
#define BBTOKEN_MINT_LOCK_WAIT "30s"
typedef struct {
    const char *what;      /* the statement, in messages */
    const char *commit;    /* the COMMIT, in messages */
    const char *unwritten; /* what an unprinted token leaves, in messages */
    /* A COMMIT whose answer was lost, in messages (the token printed may
     * be valid or not); its id follows. */
    const char *lost;
    /* What the store leaves in the rows, asked about after a COMMIT whose
     * answer was lost: BBT_XACT_ASK's question over the new token's id
     * ($3) and old ($4), NULL where there is none; and what was done,
     * in messages. */
    const char *ask;
    const char *old;
    const char *done;
    /* Store m in the open transaction: the statement's result, rows
     * expected. */
    PGresult *(*store)(bbtoken_ctx_t *ctx, const bbt_minted_t *m, void *arg);
    /* Read and free a stored result: 0 to print and commit, or an exit
     * status after reporting (rolled back). */
    int (*stored)(bbtoken_ctx_t *ctx, PGresult *res, const bbt_minted_t *m,
                  void *arg);
    void *arg;
    /* The rows whose locks store waits for, to name the session holding
     * one when the wait is given up: the token rotated, the owner's id,
     * the project's key and the repository's slug, NULL where store names
     * none (a rotation names the token, whose row says the rest). */
    const char *const *held;
} bbtoken_mint_t;

/* Mint a token, store it, print it on stdout, then commit; the id is
 * drawn again (up to BBT_MINT_TRIES) while it is taken.  store waits at
 * most the session's lock_timeout for a lock, BBTOKEN_MINT_LOCK_WAIT
 * where the session has none, and then fails naming the session that
 * holds it.  0, or an exit status after reporting. */
int bbtoken_mint_commit(bbtoken_ctx_t *ctx, const bbtoken_mint_t *mt);

#endif
