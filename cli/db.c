/*
 * The database session (db.h).  Every command but `db` first checks that
 * the database is at the schema version this program knows, and tells the
 * database who is acting (the session settings bbtoken.source and
 * bbtoken.actor) for the audit trail its triggers keep.
 */
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bbt_sessionsql.h"
#include "db.h"
#include "dbarg.h"
#include "dbmask.h"
#include "interrupt.h"
#include "migrations.h"
#include "owner.h"
#include "tx.h"

/* The most of a login name, and of the sudo user's, the actor holds; and
 * the actor's room: both, " (sudo from ", ")" and the NUL. */
#define BBTOKEN_ACTOR_NAME 128
#define BBTOKEN_ACTOR_SUDO 64
#define BBTOKEN_ACTOR_LEN (BBTOKEN_ACTOR_NAME + BBTOKEN_ACTOR_SUDO + 16)

/* s as it may be shown (bbt_input_shown: the actor goes to the database
 * as UTF-8, which refuses the whole session for one byte that is not),
 * cut to at most max bytes between characters, into w (max + 1 bytes).
 * Returns the length written. */
static size_t bbtoken_actor_part(char *w, const char *s, size_t max)
{
    /* Shown, a character of up to four bytes is one byte at least: the
     * first 4 * max bytes of s show as max bytes or more, and those are
     * the same as all of s would show as. */
    char raw[4 * BBTOKEN_ACTOR_NAME + 1], shown[sizeof(raw)];
    size_t n;

    snprintf(raw, sizeof(raw), "%.*s", (int)(4 * max), s);
    n = bbt_input_shown(raw, shown);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)shown[n] & 0xc0) == 0x80) {
            n--;
        }
    }
    memcpy(w, shown, n);
    w[n] = '\0';
    return n;
}

/* Who runs this, for the audit trail: the login name of the real user, and
 * under sudo the user who ran sudo.  Self-reported, as any client's claim
 * is; the audit also records the database role, which is not. */
static void bbtoken_actor(char buf[BBTOKEN_ACTOR_LEN])
{
    static const char from[] = " (sudo from ";
    struct passwd *pw = getpwuid(getuid());
    const char *sudo = getenv("SUDO_USER");
    char uid[32];
    size_t n;

    snprintf(uid, sizeof(uid), "uid %lu", (unsigned long)getuid());
    n = bbtoken_actor_part(buf, pw && pw->pw_name ? pw->pw_name : uid,
                           BBTOKEN_ACTOR_NAME);
    if (getuid() == 0 && sudo && *sudo) {
        memcpy(buf + n, from, sizeof(from) - 1);
        n += sizeof(from) - 1;
        n += bbtoken_actor_part(buf + n, sudo, BBTOKEN_ACTOR_SUDO);
        memcpy(buf + n, ")", 2);
    }
}

/* Whether the database has the schema's version table: a statement that
 * named it while it is missing would fail as a whole. */
#define BBTOKEN_SQL_NO_SCHEMA "pg_catalog.to_regclass('bbtoken_schema') IS NULL"

/* The version the schema records, once its table is known to be there. */
static int bbtoken_schema_recorded(bbtoken_ctx_t *ctx, int *version)
{
    PGresult *res = bbtoken_exec_once(
        ctx, "reading the schema version",
        "SELECT COALESCE(max(version), 0) FROM bbtoken_schema", 0, NULL);

    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    *version = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

int bbtoken_schema_version(bbtoken_ctx_t *ctx, int *version)
{
    PGresult *res = bbtoken_exec_once(ctx, "reading the schema version",
                                      "SELECT " BBTOKEN_SQL_NO_SCHEMA, 0, NULL);
    int none;

    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    none = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (none) {
        *version = -1;
        return 0;
    }
    return bbtoken_schema_recorded(ctx, version);
}

/* Where the session's session_replication_role (srr, read by the
 * session's first statement) is not origin, set it (bbt_sessionsql.h): 0,
 * or BBTOKEN_EXIT_FAIL where the role may not, before anything is
 * written. */
static int bbtoken_session_origin(bbtoken_ctx_t *ctx, const char *srr)
{
    PGresult *res;
    int ok;

    if (strcmp(srr, "origin") == 0) {
        return 0;
    }
    if (bbtoken_interrupt_stops()) {
        return bbtoken_interrupt_fail(ctx, "setting session_replication_role");
    }
    res = PQexec(ctx->conn, BBT_SESSION_ORIGIN_SQL("false"));
    ok = PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok && bbtoken_classify(res) != BBT_SQL_PRIVILEGE) {
        return bbtoken_db_fail(ctx, res, "setting session_replication_role");
    }
    PQclear(res);
    if (!ok) {
        return bbtoken_fail(
            "session_replication_role is %s (from PGOPTIONS, "
            "ALTER ROLE or ALTER DATABASE ... SET), " BBT_SESSION_SRR_REFUSED
            ": connect without that setting",
            srr);
    }
    return 0;
}

/* Tell the database who acts (its audit triggers read these), and check
 * that it has the schema this program speaks.  JIT off for the session: on
 * a big site the planner's estimates for the reports, the bulk revocations
 * and notify's notices pass jit_above_cost, and compiling a statement
 * costs more than its run ever wins back (README, The CLI). */
static int bbtoken_session(bbtoken_ctx_t *ctx)
{
    /* The columns after the settings of bbt_sessionsql.h. */
    enum {
        COL_NONE = BBT_SESSION_SETTINGS_COLS,
        COL_JIT,
        COL_ISOLATION,
        COL_SUPER,
        COL_SCS,
        COL_SRR
    };
    char actor[BBTOKEN_ACTOR_LEN];
    const char *params[1] = {actor};
    PGresult *res;
    int version, none, rc;

    bbtoken_actor(actor);
    /* One round trip: the settings, and whether there is a schema.  Every
     * setting the schema's triggers read is the CLI's own, or none (''),
     * whatever PGOPTIONS or an ALTER ROLE or DATABASE ... SET gave the
     * session (bbt_sessionsql.h).  READ COMMITTED whatever the database's
     * default: the lookup's triggers order a change of a user or a grant
     * and a token created meanwhile only there, each statement reading
     * what was committed when it began (README, The schema); a
     * transaction that wants a snapshot (db check, notify) asks for it in
     * its BEGIN.  standard_conforming_strings on whatever the database
     * sets (its owner may): off, the schema's names' pattern 'bbtoken\_%'
     * reads _ as any character, and a superuser's db upgrade gave the
     * tables' owner another's table named like ours. */
    res = bbtoken_exec_once(
        ctx, "starting the session",
        "SELECT " BBT_SESSION_SETTINGS_SQL(
            "'cli'", "$1", "''",
            "false") ", " BBTOKEN_SQL_NO_SCHEMA
                     ", pg_catalog.set_config('jit', 'off', false),"
                     " pg_catalog.set_config('default_transaction_isolation',"
                     " 'read committed', false),"
                     " EXISTS (SELECT FROM (" BBTOKEN_POWER_ROLES_SQL
                     " UNION ALL " BBTOKEN_READ_ROLES_SQL ") p"
                     " WHERE pg_catalog.pg_has_role(session_user, p.oid, "
                     "'MEMBER')),"
                     " pg_catalog.set_config('standard_conforming_strings', "
                     "'on', false),"
                     " " BBT_SESSION_SRR_SQL,
        1, params);
    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    none = PQgetvalue(res, 0, COL_NONE)[0] == 't';
    ctx->super_session = PQgetvalue(res, 0, COL_SUPER)[0] == 't';
    rc = bbtoken_session_origin(ctx, PQgetvalue(res, 0, COL_SRR));
    PQclear(res);
    if (rc != 0) {
        return rc;
    }
    /* Before anything of the schema's is read (every name this statement
     * used is qualified): a superuser's session would run the code of
     * whoever may reach the schema. */
    if (bbtoken_owner_guard(ctx) != 0) {
        return BBTOKEN_EXIT_FAIL;
    }
    if (ctx->any_schema) {
        return 0;
    }
    if (none) {
        return bbtoken_fail("this database has no mod_bbtoken schema "
                            "(bbtoken db upgrade --init creates it)");
    }
    if (bbtoken_schema_recorded(ctx, &version) != 0) {
        return BBTOKEN_EXIT_FAIL;
    }
    if (version < BBTOKEN_SCHEMA_LATEST) {
        return bbtoken_fail("the database schema is version %d, this bbtoken "
                            "needs %d: run bbtoken db upgrade",
                            version, BBTOKEN_SCHEMA_LATEST);
    }
    if (version > BBTOKEN_SCHEMA_LATEST) {
        return bbtoken_fail("the database schema is version %d, newer than "
                            "this bbtoken knows (%d): use a newer bbtoken",
                            version, BBTOKEN_SCHEMA_LATEST);
    }
    return 0;
}

/* What the server says besides its answers once connected (a WARNING, a
 * NOTICE) is not shown.  libpq's default prints it whole on stderr, DETAIL
 * and HINT lines too: a failure would be more than its one line, a
 * trigger's RAISE would reach the terminal byte for byte, and a DETAIL may
 * quote a row (a token's salt and hash, which bbtoken_db_fail keeps out of
 * sight).  The schema raises none (t/22-cli-notices): what an
 * administrator must see fails its statement.  What comes is PostgreSQL's
 * own remark, which the server's log keeps, or another role's code.
 *
 * But one is noted, to be said in the CLI's own words
 * (bbtoken_committed): a commit's wait for a synchronous standby given up
 * (a cancel, a statement_timeout, its backend ended), after which the
 * COMMIT is answered or the connection lost, the transaction committed on
 * that server and perhaps not on the standby a failover would promote:
 * a revocation or a user disabled that comes back.  Its SQLSTATE is the
 * plain warning's (01000; 57P01 where the backend was ended), which any
 * RAISE WARNING has too, and its words are translated, so it is known by
 * the file PostgreSQL names as raising it, syncrep.c; a server that names
 * none is believed for any WARNING while a COMMIT of the CLI's runs. */
static void bbtoken_notice(void *arg, const PGresult *res)
{
    bbtoken_ctx_t *ctx = arg;
    const char *severity =
        PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *file = PQresultErrorField(res, PG_DIAG_SOURCE_FILE);

    if (severity && strcmp(severity, "WARNING") == 0 &&
        (file ? strcmp(file, "syncrep.c") == 0 : ctx->committing)) {
        ctx->unconfirmed++;
    }
}

/* Said once, not as each commit is answered: a command that goes on after
 * such a commit and then fails, or cannot write its output, would say two
 * lines where its exit status 1 promises one. */
void bbtoken_committed(bbtoken_ctx_t *ctx, const char *what)
{
    if (ctx->unconfirmed) {
        if (!ctx->unconfirmed_commits) {
            snprintf(ctx->unconfirmed_what, sizeof(ctx->unconfirmed_what), "%s",
                     what);
        }
        ctx->unconfirmed_commits += ctx->unconfirmed;
        ctx->unconfirmed = 0;
    }
}

/* Those not yet counted too: a statement that was its own transaction
 * (bbtoken_exec outside one) is counted at the next COMMIT or at the
 * command's end, and a failure may come first.  A COMMIT whose answer was
 * lost takes its own (xact.c) before anything fails. */
const char *bbtoken_unconfirmed_tail(void *arg)
{
    bbtoken_ctx_t *ctx = arg;
    unsigned n = ctx->unconfirmed_commits + ctx->unconfirmed;

    if (!n) {
        return NULL;
    }
    snprintf(ctx->tail, sizeof(ctx->tail), BBTOKEN_UNCONFIRMED_OF, n,
             n == 1 ? "it" : "they");
    return ctx->tail;
}

void bbtoken_unconfirmed_said(bbtoken_ctx_t *ctx)
{
    unsigned n = ctx->unconfirmed_commits;

    if (n == 1 && !ctx->several) {
        bbtoken_warn("%s: committed on this server, but " BBTOKEN_UNCONFIRMED,
                     ctx->unconfirmed_what);
    } else if (n) {
        bbtoken_warn("done, but " BBTOKEN_UNCONFIRMED_OF, n,
                     n == 1 ? "it" : "they");
    }
}

int bbtoken_connect(bbtoken_ctx_t *ctx)
{
    /* dbname with expand_dbname takes a conninfo, a URI or a bare database
     * name; a NULL value is skipped, leaving libpq's environment. */
    const char *const keys[] = {"dbname", "fallback_application_name",
                                "client_encoding", NULL};
    /* Labels travel as UTF-8 whatever the terminal, PGCLIENTENCODING or
     * --db say (JSON needs it): set in the startup packet, a later key
     * than dbname's, it overrides theirs without a round trip of its own. */
    const char *const vals[] = {ctx->db, "bbtoken", "UTF8", NULL};
    char *masked;
    int rc;

    if (ctx->db && bbtoken_is_conninfo(ctx->db)) {
        /* libpq's parse errors quote the text around the fault, which may
         * be a password: check first and say less. */
        char *err = NULL;
        PQconninfoOption *opts = PQconninfoParse(ctx->db, &err);

        PQfreemem(err);
        if (!opts) {
            return bbtoken_fail("--db: not a valid connection string (not "
                                "quoted: it may hold a password)");
        }
        rc = bbtoken_db_unnamed(ctx->db, opts);
        PQconninfoFree(opts);
        if (rc != 0) {
            return rc;
        }
    }
    ctx->conn = PQconnectdbParams(keys, vals, 1);
    if (!ctx->conn) {
        return bbtoken_fail("out of memory");
    }
    /* Set once connected: libpq's blocking connect takes no hooks, so a
     * warning the server gives as the session starts (a database's
     * collation version) is printed by libpq's default, as psql prints
     * it, before the CLI's own line: it asks the administrator to act.
     * Connecting step by step instead would take over what libpq does
     * alone (connect_timeout for each address, then --db's next host). */
    PQsetNoticeReceiver(ctx->conn, bbtoken_notice, ctx);
    if (PQstatus(ctx->conn) == CONNECTION_OK) {
        bbtoken_interrupt_conn(ctx->conn);
        return bbtoken_session(ctx);
    }
    if (!ctx->db) {
        /* libpq's environment: the administrator's own settings, no
         * command line's. */
        return bbtoken_fail("cannot connect to the database: %s",
                            PQerrorMessage(ctx->conn));
    }
    if (!(masked = bbtoken_masked(ctx->db, PQerrorMessage(ctx->conn)))) {
        return bbtoken_fail("cannot connect to the database (libpq's "
                            "message not shown: it may quote --db)");
    }
    rc = bbtoken_fail("cannot connect to the database: %s", masked);
    free(masked);
    return rc;
}

int bbtoken_analyze(bbtoken_ctx_t *ctx, const char *tables)
{
    /* Stale: no rows in pages (the state above), or more rows changed
     * since the last ANALYZE than autovacuum lets pass.  A table another
     * holds a lock on that ANALYZE's conflicts with is skipped, not waited
     * for, and without the warning: most often that is autovacuum or
     * another command mending the same statistics. */
    static const char fmt[] =
        "DO $bbtoken$ DECLARE t regclass; BEGIN"
        " IF pg_is_in_recovery() THEN RETURN; END IF;"
        " PERFORM set_config('client_min_messages', 'error', true);"
        " FOR t IN SELECT c.oid FROM pg_class c"
        " LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid"
        " WHERE c.oid IN (SELECT to_regclass(n)"
        " FROM unnest(string_to_array('%s', ',')) n)"
        " AND pg_has_role(c.relowner, 'USAGE')"
        " AND ((c.reltuples = 0 AND c.relpages > 0)"
        " OR s.n_mod_since_analyze >"
        " current_setting('autovacuum_analyze_threshold')::float8"
        " + current_setting('autovacuum_analyze_scale_factor')::float8"
        " * greatest(c.reltuples, 0))"
        " ORDER BY c.relname"
        " LOOP EXECUTE format('ANALYZE (SKIP_LOCKED) %%s', t); END LOOP;"
        " END $bbtoken$";
    char sql[1024];
    PGresult *res;

    if ((size_t)snprintf(sql, sizeof(sql), fmt, tables) >= sizeof(sql)) {
        return bbtoken_fail("internal error: too many tables to analyze");
    }
    if (!(res = bbtoken_exec(ctx, "updating the planner's statistics", sql, 0,
                             NULL))) {
        return BBTOKEN_EXIT_FAIL;
    }
    PQclear(res);
    return 0;
}

bbt_sql_class_t bbtoken_classify(const PGresult *res)
{
    return bbt_sql_classify(PQresultErrorField(res, PG_DIAG_SQLSTATE),
                            PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME),
                            PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
}

void bbtoken_done(bbtoken_ctx_t *ctx, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(ctx->done, sizeof(ctx->done), fmt, ap);
    va_end(ap);
    ctx->unlisted[0] = ctx->refused[0] = '\0';
}

void bbtoken_done_unlisted(bbtoken_ctx_t *ctx, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(ctx->unlisted, sizeof(ctx->unlisted), fmt, ap);
    va_end(ap);
    ctx->listed = 0;
}

/* ctx->refused, cut short as done is where what fills it (vsnprintf:
 * no warning of the truncation bbtoken_done_rest may ask for). */
static void bbtoken_done_refused(bbtoken_ctx_t *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void bbtoken_done_refused(bbtoken_ctx_t *ctx, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(ctx->refused, sizeof(ctx->refused), fmt, ap);
    va_end(ap);
}

void bbtoken_done_rest(bbtoken_ctx_t *ctx, const char *again, const char *fmt,
                       ...)
{
    char what[sizeof(ctx->done)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    bbtoken_done(ctx, "%s (%s)", what, again);
    /* The owner guard's refusal (the catalog's state) meets a run again
     * as well: it does the rest only once that is put right. */
    bbtoken_done_refused(ctx, "%s; once that is put right, %s", what, again);
}

/* A listing that cannot be written ends the command, but what its
 * transactions did before it stays done: a bulk revocation's batch is
 * revoked before it is printed, and "listed above" would be untrue.
 * After a closed pipe it is untrue whatever was written before: the pipe
 * took the lines into its buffer, and its reader (`| head -c 1`) may
 * have gone without reading them. */
int bbtoken_flush_stdout(bbtoken_ctx_t *ctx, const char *what)
{
    char after[sizeof(ctx->done) + 16];
    const char *but = after;
    int e;

    if (bbtoken_stdout_written(&e) == 0) {
        ctx->listed = 1;
        return 0;
    }
    if (ctx->unlisted[0] && (!ctx->listed || e == EPIPE)) {
        snprintf(after, sizeof(after), "; but %s", ctx->unlisted);
    } else {
        but = bbtoken_changed(ctx, "", "; but ", after, sizeof(after));
    }
    bbtoken_fail("%s%scannot write to stdout%s%s%s", what ? what : "",
                 what ? ": " : "", e ? ": " : "", e ? strerror(e) : "", but);
    return -1;
}

const char *bbtoken_changed(const bbtoken_ctx_t *ctx, const char *plain,
                            const char *lead, char *buf, size_t size)
{
    if (!ctx->done[0]) {
        return plain;
    }
    snprintf(buf, size, "%s%s", lead, ctx->done);
    return buf;
}

/* Only the server's primary message is shown, and for a refusal only what
 * bbt_sql_message makes of it: DETAIL may repeat the failing row (a token
 * row holds the salt and the hash), and a rule's name is not for people.
 * After transactions of the command committed, what they did follows:
 * whoever reads "not done" must not take the command for undone. */
int bbtoken_db_fail(bbtoken_ctx_t *ctx, PGresult *res, const char *what)
{
    const char *msg =
        res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *state, *constraint, *text, *enc, *but;
    char unchanged[sizeof(ctx->done) + 64], after[sizeof(ctx->done) + 16];
    char line[1024];
    int rc;

    but = bbtoken_changed(ctx, "", "; but ", after, sizeof(after));
    /* Cancelled by the CLI's own interrupt (interrupt.c), not by a
     * statement_timeout, whose SQLSTATE it shares. */
    state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (msg && bbtoken_interrupted() && state && strcmp(state, "57014") == 0) {
        PQclear(res);
        return bbtoken_interrupt_fail(ctx, what);
    }
    if (!msg) {
        /* No server message: libpq's own (connection lost, out of
         * memory), which carries no row data.  A transaction whose
         * COMMIT was never sent was not committed. */
        if (ctx->begun && PQstatus(ctx->conn) == CONNECTION_BAD) {
            rc = bbtoken_fail("%s: not done: the connection was lost before "
                              "its transaction's COMMIT, so %s: %s",
                              what, BBTOKEN_UNCHANGED(ctx, unchanged),
                              PQerrorMessage(ctx->conn));
        } else {
            rc = bbtoken_fail(
                "%s: %s%s", what,
                bbt_sql_line(line, sizeof(line), PQerrorMessage(ctx->conn), ""),
                but);
        }
        PQclear(res);
        return rc;
    }
    constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
    if (ctx->in_tx && bbtoken_classify(res) == BBT_SQL_CONFLICT) {
        /* Not yet a failure: bbtoken_tx may run the transaction again. */
        snprintf(ctx->aborted, sizeof(ctx->aborted), "%s", state);
        PQclear(res);
        return BBTOKEN_EXIT_FAIL;
    }
    switch (bbtoken_classify(res)) {
    case BBT_SQL_POLICY:
        /* The schema's own rules: their messages are written for people. */
        rc = bbtoken_fail("%s%s", bbt_sql_message(state, constraint, msg), but);
        break;
    case BBT_SQL_NAME_TAKEN:
        rc = bbtoken_fail("%s: the owner already has a token with that "
                          "name%s",
                          what, but);
        break;
    case BBT_SQL_UNSTORABLE:
        /* The server's message names bytes; the database is the reason. */
        enc = PQparameterStatus(ctx->conn, "server_encoding");
        rc = bbtoken_fail("%s: %s (%s): a database in UTF8 holds every "
                          "character%s",
                          what, bbt_sql_message(state, constraint, msg),
                          enc ? enc : "unknown", but);
        break;
    case BBT_SQL_FAULT:
    case BBT_SQL_PRIVILEGE:
        /* For the administrator: what the server said went wrong. */
        rc = bbtoken_fail("%s: %s%s", what, msg, but);
        break;
    default:
        text = bbt_sql_message(state, constraint, msg);
        rc = bbtoken_fail("%s: %s%s%s", what,
                          state && strncmp(state, "23", 2) == 0
                              ? "the database refused: "
                              : "",
                          text, but);
        break;
    }
    PQclear(res);
    return rc;
}

PGresult *bbtoken_exec_once(bbtoken_ctx_t *ctx, const char *what,
                            const char *sql, int n, const char *const *params)
{
    PGresult *res;
    ExecStatusType st;

    /* Interrupted: the command stops here, between its transactions or
     * before its transaction's next statement. */
    if (bbtoken_interrupt_stops()) {
        bbtoken_interrupt_fail(ctx, what);
        return NULL;
    }
    res = PQexecParams(ctx->conn, sql, n, NULL, params, NULL, NULL, 0);
    st = PQresultStatus(res);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        bbtoken_db_fail(ctx, res, what);
        return NULL;
    }
    return res;
}

void bbtoken_exec_quiet(bbtoken_ctx_t *ctx, const char *sql)
{
    /* Interrupted, no cleanup is sent either: the session's end rolls
     * back, closes and lets go what it would (interrupt.c). */
    if (!bbtoken_interrupt_stops()) {
        PQclear(PQexec(ctx->conn, sql));
    }
}

const char *bbtoken_get(const PGresult *res, int row, int col, const char *null)
{
    return PQgetisnull(res, row, col) ? null : PQgetvalue(res, row, col);
}
