/*
 * The schema: db status, and db upgrade with the compiled-in migrations
 * (migrations.c), run as the tables' owner (owner.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_xact.h"
#include "db.h"
#include "interrupt.h"
#include "lookup.h"
#include "migrations.h"
#include "owner.h"
#include "tx.h"

int bbtoken_cmd_db_status(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                          const bbtoken_args_t *a)
{
    int rc, version, i, pending = 0;

    (void)cmd;
    (void)a;
    ctx->any_schema = 1;
    if ((rc = bbtoken_connect(ctx)) ||
        (rc = bbtoken_schema_version(ctx, &version))) {
        return rc;
    }
    if (version < 0) {
        return bbtoken_fail("this database has no mod_bbtoken schema "
                            "(bbtoken db upgrade --init creates it)");
    }
    printf("schema version: %d\nlatest known: %d\n", version,
           BBTOKEN_SCHEMA_LATEST);
    for (i = 0; i < bbtoken_migration_count; i++) {
        if (bbtoken_migration_list[i].version > version) {
            printf("pending: %s\n", bbtoken_migration_list[i].name);
            pending++;
        }
    }
    if (version > BBTOKEN_SCHEMA_LATEST) {
        printf("status: the database is newer than this bbtoken\n");
    } else {
        printf("status: %s\n",
               pending ? "upgrade needed (bbtoken db upgrade)" : "up to date");
    }
    return 0;
}

/* Run a migration's script, which may hold many statements: 0, or -1
 * with the database's word printed and the transaction rolled back. */
static int bbtoken_migrate_script(bbtoken_ctx_t *ctx, const char *sql,
                                  const char *what)
{
    PGresult *res;

    /* Its statements are sent at once, not each through
     * bbtoken_exec_once: interrupted, none is. */
    if (bbtoken_interrupt_stops()) {
        bbtoken_interrupt_fail(ctx, what);
        return -1;
    }
    res = PQexec(ctx->conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK &&
        PQresultStatus(res) != PGRES_TUPLES_OK) {
        bbtoken_db_fail(ctx, res, what);
        bbtoken_exec_quiet(ctx, "ROLLBACK");
        return -1;
    }
    PQclear(res);
    return 0;
}

/* A session lock of the database's for `db upgrade --init`, which has no
 * table to lock before it makes them.  One that finds no schema holds it
 * exclusively from then until its session ends, after its last
 * migration: another --init waits for all of it, and takes the schema it
 * then finds for the other's making, not for one that was there.  It
 * looks for a schema holding the lock shared, so that two --init at once
 * on a database that has one both refuse it.  A plain `db upgrade` does
 * not take it (its migrations take turns on bbtoken_schema's lock, which
 * httpd's roles, readers of the table, cannot take): any role that may
 * connect may take this one, and hold it (notify_lock.c). */
#define BBTOKEN_INIT_LOCK "27692799942681966"

/* Take that lock and read *version under it; an exit status after saying
 * why --init stops there.  A schema found while no --init that found none
 * is at work was there before: refused.  One found after waiting for such
 * an --init is what that one made: upgraded from there, as by any other
 * upgrade (nothing left to do: "already up to date"). */
static int bbtoken_init_start(bbtoken_ctx_t *ctx, int *version)
{
    static const char what[] = "taking the lock of db upgrade --init";
    PGresult *res;
    int rc, looking;

    if ((looking = bbtoken_exec_bool(
             ctx, what,
             "SELECT pg_try_advisory_lock_shared(" BBTOKEN_INIT_LOCK ")", 0,
             NULL)) < 0) {
        return BBTOKEN_EXIT_FAIL;
    }
    if (looking) {
        if ((rc = bbtoken_schema_version(ctx, version))) {
            return rc;
        }
        if (*version >= 0 && *version < BBTOKEN_SCHEMA_LATEST) {
            /* As an --init whose first migration was done though its
             * COMMIT's answer was lost leaves it (xact.c). */
            return bbtoken_fail("--init: this database has a mod_bbtoken "
                                "schema already (version %d): bbtoken db "
                                "upgrade upgrades it to version %d",
                                *version, BBTOKEN_SCHEMA_LATEST);
        }
        if (*version >= 0) {
            return bbtoken_fail("--init: this database has a mod_bbtoken "
                                "schema already (version %d)",
                                *version);
        }
        /* Two holding it shared and both asking for it exclusively would
         * deadlock. */
        if (bbtoken_exec_bool(
                ctx, what,
                "SELECT pg_advisory_unlock_shared(" BBTOKEN_INIT_LOCK ")", 0,
                NULL) != 1) {
            return BBTOKEN_EXIT_FAIL;
        }
    }
    if (!(res = bbtoken_exec(ctx, what,
                             "SELECT pg_advisory_lock(" BBTOKEN_INIT_LOCK ")",
                             0, NULL))) {
        return BBTOKEN_EXIT_FAIL;
    }
    PQclear(res);
    /* Held by this session until it ends: the migrations may not go on in
     * another. */
    ctx->held |= BBTOKEN_HELD_INIT_LOCK;
    return bbtoken_schema_version(ctx, version);
}

/* What tells a migration's commit after its COMMIT's answer was lost
 * (xact.c), where the audit trail cannot (a migration writes no record
 * of itself, and those of the rows it mends are the upgrade's):
 * bbtoken_schema's version has reached it ($3), which only an upgrade's
 * transaction makes; the first's, --init's, that bbtoken_schema ($3) is
 * there, which only that one makes.  Whoever's upgrade it was, the
 * schema is then what this one would have made. */
static const char bbtoken_migrate_ask_sql[] = BBT_XACT_ASK(
    "(SELECT COALESCE(max(version), 0) FROM bbtoken_schema) >= $3::integer");
static const char bbtoken_migrate_first_ask_sql[] =
    BBT_XACT_ASK("pg_catalog.to_regclass($3) IS NOT NULL");

/* The first migration's script (the first release's schema.sql, kept as
 * it was) without its own BEGIN and COMMIT, blanked, so that it runs in
 * bbtoken_tx's transaction and its id is read before the COMMIT, as every
 * other write's.  NULL where the script is not so made, or out of
 * memory. */
static char *bbtoken_migrate_first_sql(const char *sql)
{
    static const char begin[] = "\nBEGIN;\n", commit[] = "\nCOMMIT;\n";
    const char *b = strstr(sql, begin), *c = NULL, *p, *end;
    char *out;

    for (p = sql; (p = strstr(p, commit)) != NULL; p++) {
        c = p;
    }
    if (!b || !c || c < b) {
        return NULL;
    }
    end = c + sizeof(commit) - 1;
    if (end[strspn(end, " \n")] != '\0' || !(out = strdup(sql))) {
        return NULL;
    }
    /* The words alone, their newlines kept. */
    memset(out + (b - sql) + 1, ' ', sizeof(begin) - 3);
    memset(out + (c - sql) + 1, ' ', sizeof(commit) - 3);
    return out;
}

/* A migration, in a transaction: what it applies (sql its script), and
 * what the try that committed did. */
typedef struct {
    const bbtoken_migration_t *m;
    const char *what;
    const char *sql;
    int prev;
    int done;
} bbtoken_migrating_t;

static int bbtoken_migrate_body(bbtoken_ctx_t *ctx, void *arg)
{
    bbtoken_migrating_t *g = arg;
    PGresult *res;
    int version;

    g->done = 0;
    /* --init's, under its lock, in a database with no schema. */
    if (g->m->version == 1) {
        if (bbtoken_migrate_script(ctx, g->sql, g->what) != 0) {
            return BBTOKEN_EXIT_FAIL;
        }
        g->done = 1;
        return 0;
    }
    /* One upgrade at a time; the second finds the work done.  httpd only
     * reads this table, which the lock lets it do. */
    if (!(res = bbtoken_exec(ctx, g->what,
                             "LOCK TABLE bbtoken_schema IN EXCLUSIVE MODE", 0,
                             NULL)) ||
        (PQclear(res), bbtoken_schema_version(ctx, &version) != 0)) {
        return BBTOKEN_EXIT_FAIL;
    }
    if (version >= g->m->version) {
        return 0;
    }
    if (version != g->prev) {
        return bbtoken_fail("%s: the database is at version %d", g->what,
                            version);
    }
    if (bbtoken_migrate_script(ctx, g->sql, g->what) != 0) {
        return BBTOKEN_EXIT_FAIL;
    }
    if (bbtoken_schema_version(ctx, &version) != 0 ||
        version != g->m->version) {
        return bbtoken_fail("%s: it did not record version %d", g->what,
                            g->m->version);
    }
    g->done = 1;
    return 0;
}

/* Apply one migration in its own transaction.  Each records its version,
 * which is checked; the first (--init's, under its lock) records version
 * 1.  prev is the version of the migration before m in the list: the
 * database must be at exactly that one (versions increase, and need not
 * be consecutive).  *done is 1 when this run applied it, 0 when another
 * upgrade had. */
static int bbtoken_migrate(bbtoken_ctx_t *ctx, const bbtoken_migration_t *m,
                           int prev, int *done)
{
    char what[128], version[16], evidence[64];
    bbtoken_migrating_t g = {m, what, m->sql, prev, 0};
    const bbtoken_tx_ask_t ask = {
        m->version == 1 ? bbtoken_migrate_first_ask_sql
                        : bbtoken_migrate_ask_sql,
        {m->version == 1 ? "bbtoken_schema" : version, NULL},
        evidence,
        NULL};
    const bbtoken_tx_t tx = {what, "BEGIN", NULL, bbtoken_migrate_body,
                             &g,   NULL,    &ask, 0};
    char *first = NULL;
    int rc;

    *done = 0;
    snprintf(what, sizeof(what), "applying migration %s", m->name);
    snprintf(version, sizeof(version), "%d", m->version);
    snprintf(evidence, sizeof(evidence), "bbtoken_schema%s%s",
             m->version == 1 ? "" : "'s version ",
             m->version == 1 ? "" : version);
    if (m->version == 1 &&
        !(g.sql = first = bbtoken_migrate_first_sql(m->sql))) {
        return bbtoken_fail("%s: its script is not one transaction of its "
                            "own, BEGIN to COMMIT, or out of memory",
                            what);
    }
    if ((rc = bbtoken_tx(ctx, &tx)) == 0) {
        *done = g.done;
    }
    free(first);
    return rc;
}

#define BBTOKEN_UPGRADE_REST "running db upgrade again applies the rest"

/* What a failure after the applied migrations says of them.  A run
 * again applies the rest (bbtoken_done_rest, which says it of the owner
 * guard's refusal too); after the last migration no rest is left to
 * promise. */
static void bbtoken_upgrade_done(bbtoken_ctx_t *ctx, int applied, int last)
{
    char many[64];
    const char *which = "the migration listed above as applied was";

    if (applied > 1) {
        snprintf(many, sizeof(many),
                 "the %d migrations listed above as applied were", applied);
        which = many;
    }
    if (last) {
        bbtoken_done(ctx, "%s committed before it", which);
    } else {
        bbtoken_done_rest(ctx, BBTOKEN_UPGRADE_REST, "%s committed before it",
                          which);
    }
    /* Listed on stdout, which is written at the end: a write that fails
     * then may leave any of those lines out. */
    bbtoken_done_unlisted(
        ctx,
        "%d migration%s committed before it, perhaps not %slisted as "
        "applied%s",
        applied, applied == 1 ? " was" : "s were", applied == 1 ? "" : "all ",
        last ? "" : " (" BBTOKEN_UPGRADE_REST ")");
}

int bbtoken_cmd_db_upgrade(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                           const bbtoken_args_t *a)
{
    int rc, version, i, done, applied = 0, as_owner = 0;
    const char *enc;

    (void)cmd;
    ctx->any_schema = 1;
    ctx->upgrading = 1;
    ctx->several = 1;
    if ((rc = bbtoken_connect(ctx)) ||
        (rc = a->init ? bbtoken_init_start(ctx, &version)
                      : bbtoken_schema_version(ctx, &version))) {
        return rc;
    }
    if (version < 0 && !a->init) {
        return bbtoken_fail("this database has no mod_bbtoken schema: "
                            "bbtoken db upgrade --init creates it here");
    }
    if (version < 0 &&
        (enc = PQparameterStatus(ctx->conn, "server_encoding")) != NULL &&
        strcmp(enc, "SQL_ASCII") == 0) {
        /* As sql/schema.sql: PostgreSQL would check no text there. */
        return bbtoken_fail("--init: this database's encoding is SQL_ASCII, "
                            "which stores any bytes unchecked: create it "
                            "with ENCODING UTF8 (createdb -E UTF8 -T "
                            "template0 NAME)");
    }
    if (version > BBTOKEN_SCHEMA_LATEST) {
        return bbtoken_fail("the database schema is version %d, newer than "
                            "this bbtoken knows (%d)",
                            version, BBTOKEN_SCHEMA_LATEST);
    }
    /* The owner's role for every migration after the first (and its
     * checks though none is pending); the first made here (--init) is
     * this role's, or another's made it meanwhile (a superuser's session
     * looks only where no one else can make it: the guard). */
    if (version >= 0) {
        if ((rc = bbtoken_upgrade_as_owner(ctx))) {
            return rc;
        }
        as_owner = 1;
    }
    for (i = 0; i < bbtoken_migration_count; i++) {
        if (bbtoken_migration_list[i].version <= version) {
            continue;
        }
        if (bbtoken_migration_list[i].version > 1 && !as_owner) {
            if ((rc = bbtoken_upgrade_as_owner(ctx))) {
                return rc;
            }
            as_owner = 1;
        }
        /* What follows the last needs nothing of this session's role,
         * search path or lock: the guard looks again in whichever session
         * it has, and the version line is the list's.  A COMMIT of it
         * whose answer was lost, and which was done, leaves nothing
         * undone (xact.c goes on). */
        if (i == bbtoken_migration_count - 1) {
            ctx->held &= ~(BBTOKEN_HELD_OWNER | BBTOKEN_HELD_INIT_LOCK);
        }
        if ((rc = bbtoken_migrate(ctx, &bbtoken_migration_list[i],
                                  i ? bbtoken_migration_list[i - 1].version : 0,
                                  &done))) {
            return rc;
        }
        if (done) {
            printf("applied %s\n", bbtoken_migration_list[i].name);
            applied++;
            bbtoken_upgrade_done(ctx, applied,
                                 i == bbtoken_migration_count - 1);
        }
        /* What it made may let another role in (default privileges on a
         * new table): a superuser's session looks again before the next
         * statement. */
        if ((rc = bbtoken_owner_recheck(ctx))) {
            return rc;
        }
    }
    printf("schema version: %d%s\n", BBTOKEN_SCHEMA_LATEST,
           applied ? "" : " (already up to date)");
    return 0;
}
