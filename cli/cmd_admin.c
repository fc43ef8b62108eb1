/*
 * Administration: the token policy, purging dead tokens, and the schema
 * (db status, db upgrade with the compiled-in migrations).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_pgjson.h"
#include "bbt_xact.h"
#include "db.h"

/* ---- policy ----------------------------------------------------------- */

/* Seconds as the DURATION the CLI reads back: days, else hours. */
static const char *bbtoken_secs_text(const char *secs, char *buf, size_t len)
{
    long long v = atoll(secs);

    if (v % 86400 == 0) {
        snprintf(buf, len, "%lldd", v / 86400);
    } else {
        snprintf(buf, len, "%lldh", v / 3600);
    }
    return buf;
}

/* The change policy makes, checked against the row it changes. */
typedef struct {
    const bbtoken_args_t *a;
    const char *unused; /* --revoke-unused-after in seconds, or "none" */
} bbtoken_policy_t;

static int bbtoken_policy_body(bbtoken_ctx_t *ctx, void *arg)
{
    const bbtoken_policy_t *p = arg;
    const bbtoken_args_t *a = p->a;
    const char *params[3];
    PGresult *res;
    int has_max;

    res = bbtoken_exec(ctx, "reading the policy",
                       "SELECT max_expiry_days IS NOT NULL"
                       " FROM bbtoken_policy FOR UPDATE",
                       0, NULL);
    if (!res || PQntuples(res) != 1) {
        PQclear(res);
        return res ? bbtoken_fail("the policy row is missing")
                   : BBTOKEN_EXIT_FAIL;
    }
    has_max = a->max_days ? strcmp(a->max_days, "none") != 0
                          : PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    /* The maximum is what requires an expiry (the database gives it to a
     * token asked without one, and sets expiry_required by it): the
     * options --expiry-required and --expiry-optional, kept for scripts,
     * are only checked against it. */
    if (a->required == 1 && !has_max) {
        return bbtoken_fail("a required expiry needs a maximum: give "
                            "--max-expiry-days N");
    }
    if (a->required == 0 && has_max) {
        return bbtoken_fail("a maximum expiry applies to every new token, "
                            "which then expires: for tokens that may never "
                            "expire give --max-expiry-days none");
    }
    params[0] = a->max_days;
    params[1] = a->max_tokens;
    params[2] = a->revoke_unused ? p->unused : NULL;
    /* A change of revoke_unused_after restarts the unused tokens'
     * warnings: one sent before it gave the date of another policy (or of
     * one switched off since, whose warnings would otherwise stand for a
     * revocation the day it is switched on again), so every live token's
     * is forgotten, and its owner warned again in the week before the date
     * the new policy gives. */
    res = bbtoken_exec(
        ctx, "changing the policy",
        "WITH old AS (SELECT revoke_unused_after AS a FROM bbtoken_policy),"
        " new AS (UPDATE bbtoken_policy SET"
        " max_expiry_days = CASE WHEN $1::text IS NULL THEN max_expiry_days"
        " WHEN $1 = 'none' THEN NULL ELSE $1::integer END,"
        " max_tokens_per_user = COALESCE($2::integer, max_tokens_per_user),"
        " revoke_unused_after = CASE WHEN $3::text IS NULL"
        " THEN revoke_unused_after WHEN $3 = 'none' THEN NULL"
        " ELSE make_interval(secs => $3::bigint) END"
        " RETURNING revoke_unused_after AS a),"
        " restart AS (SELECT 1 FROM old, new WHERE old.a IS DISTINCT FROM "
        "new.a),"
        " warned AS (DELETE FROM bbtoken_notices n USING bbtoken_tokens t"
        " WHERE n.kind = 'unused' AND t.id = n.token_id"
        " AND t.revoked_at IS NULL AND EXISTS (SELECT 1 FROM restart)),"
        " copied AS (DELETE FROM bbtoken_notice_copies c USING bbtoken_tokens t"
        " WHERE c.kind = 'unused' AND t.id = c.token_id"
        " AND t.revoked_at IS NULL AND EXISTS (SELECT 1 FROM restart))"
        " SELECT count(*) FROM new",
        3, params);
    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    PQclear(res);
    return 0;
}

int bbtoken_cmd_policy(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                       const bbtoken_args_t *a)
{
    char unused[32], shown[32];
    bbtoken_policy_t p = {a, unused};
    /* Audited: the policy's trigger records any change of its row, and
     * the warnings it forgets go with a change of revoke_unused_after. */
    const bbtoken_tx_t tx = {"changing the policy",
                             "BEGIN",
                             NULL,
                             bbtoken_policy_body,
                             &p,
                             NULL,
                             NULL,
                             1};
    PGresult *res;
    int rc;

    (void)cmd;
    if ((a->max_days &&
         (rc = bbtoken_check_number("--max-expiry-days", a->max_days,
                                    BBT_EXPIRY_DAYS_MAX, 1))) ||
        (a->max_tokens &&
         (rc = bbtoken_check_number("--max-tokens", a->max_tokens,
                                    BBT_POLICY_MAX_TOKENS, 0))) ||
        (a->revoke_unused && (rc = bbtoken_check_unused(
                                  a->revoke_unused, unused, sizeof(unused))))) {
        return rc;
    }
    if ((rc = bbtoken_connect(ctx))) {
        return rc;
    }
    if ((a->required != -1 || a->max_days || a->max_tokens ||
         a->revoke_unused) &&
        (rc = bbtoken_tx(ctx, &tx))) {
        return rc;
    }
    res = bbtoken_exec(ctx, "reading the policy",
                       "SELECT expiry_required, max_expiry_days,"
                       " max_tokens_per_user,"
                       " extract(epoch FROM revoke_unused_after)::bigint"
                       " FROM bbtoken_policy",
                       0, NULL);
    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return bbtoken_fail("the policy row is missing");
    }
    if (a->json) {
        rc = bbtoken_json_out(json_pack(
            "{s:b, s:o, s:o, s:o}", "expiryRequired",
            PQgetvalue(res, 0, 0)[0] == 't', "maxExpiryDays",
            PQgetisnull(res, 0, 1) ? json_null() : bbt_pgjson_int(res, 0, 1),
            "maxTokensPerUser", bbt_pgjson_int(res, 0, 2),
            "revokeUnusedAfterSeconds",
            PQgetisnull(res, 0, 3) ? json_null() : bbt_pgjson_int(res, 0, 3)));
    } else {
        printf("expiry-required: %s\n"
               "max-expiry-days: %s\n"
               "max-tokens: %s\n"
               "revoke-unused-after: %s\n",
               PQgetvalue(res, 0, 0)[0] == 't' ? "yes" : "no",
               bbtoken_get(res, 0, 1, "none"), PQgetvalue(res, 0, 2),
               PQgetisnull(res, 0, 3)
                   ? "none"
                   : bbtoken_secs_text(PQgetvalue(res, 0, 3), shown,
                                       sizeof(shown)));
        rc = 0;
    }
    PQclear(res);
    return rc;
}

/* ---- purge ------------------------------------------------------------ */

/* Ended leak report counts a transaction of purge deletes at most: each
 * batch's locks last a moment, and a run stopped midway keeps the batches
 * it committed. */
#define BBTOKEN_THROTTLE_BATCH 10000

/* What the purge's transactions committed so far deleted (ctx->done). */
static void bbtoken_purge_done(bbtoken_ctx_t *ctx, long tokens, long counts)
{
    char more[64] = "";

    if (tokens + counts == 0) {
        return;
    }
    if (counts > 0) {
        snprintf(more, sizeof(more), " and %ld ended leak report count%s",
                 counts, counts == 1 ? "" : "s");
    }
    bbtoken_done(ctx,
                 "%ld token%s%s %s purged before it (running the command "
                 "again purges the rest)",
                 tokens, tokens == 1 ? "" : "s", more,
                 tokens + counts == 1 ? "was" : "were");
}

/* Delete the leak reports' counts whose window has ended (the API's
 * window, BBT_LEAK_WINDOW_SECS), a batch at a time, oldest first through
 * the window_start index; those a report holds are skipped, never waited
 * for (it is counting them anew).  A report clears a few itself
 * (sql/migrations/0055_leak_sweep_bound.sql), too few to catch up with a
 * flood from many addresses, whose rows would otherwise stay.  tokens:
 * how many tokens the purge deleted before, for a failure's message. */
static int bbtoken_purge_throttle(bbtoken_ctx_t *ctx, long tokens, long *total)
{
    char secs[16], batch[16];
    const char *params[2] = {secs, batch};
    long rows;
    int rc;

    snprintf(secs, sizeof(secs), "%d", BBT_LEAK_WINDOW_SECS);
    snprintf(batch, sizeof(batch), "%d", BBTOKEN_THROTTLE_BATCH);
    *total = 0;
    do {
        rc = bbtoken_exec_rows(
            ctx, "purging ended leak report counts",
            "DELETE FROM bbtoken_leak_throttle WHERE ctid = ANY (ARRAY("
            "SELECT ctid FROM bbtoken_leak_throttle"
            " WHERE window_start <= now() - make_interval(secs => $1::integer)"
            " ORDER BY window_start LIMIT $2::integer FOR UPDATE SKIP LOCKED))",
            2, params, &rows);
        if (rc == 0) {
            *total += rows;
            bbtoken_purge_done(ctx, tokens, *total);
        }
    } while (rc == 0 && rows == BBTOKEN_THROTTLE_BATCH);
    return rc;
}

int bbtoken_cmd_purge(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                      const bbtoken_args_t *a)
{
    bbtoken_when_t before;
    const char *params[2];
    long rows;
    int rc;

    if (!a->before) {
        return bbtoken_usage_error(cmd->usage,
                                   "purge needs --expired-before WHEN");
    }
    /* It reads every token, and its triggers each deleted one's lookup
     * row, notices and copies (db.h). */
    if ((rc = bbtoken_when(a->before, "--expired-before", &before)) ||
        (rc = bbtoken_connect(ctx)) ||
        (rc = bbtoken_analyze(ctx, BBTOKEN_ANALYZE_TOKENS
                              ",bbtoken_notices,bbtoken_notice_copies"))) {
        return rc;
    }
    params[0] = before.abs;
    params[1] = before.ago;
    /* Dead rows only, whatever WHEN says: a revoked token, or one whose
     * expiry is past.  The audit trigger records each deletion.  Locked
     * lowest id first, as every statement taking several tokens
     * (sql/migrations/0024_lock_order.sql): taken in the order of the rows
     * on disk, the expired ones could each be held by a purge and by a
     * revoke --user or the deletion of their owner, waiting for another
     * the other holds. */
    rc = bbtoken_exec_audited(
        ctx, "purging tokens",
        "WITH t(cut) AS (SELECT " BBTOKEN_WHEN_12 "),"
        " d AS (SELECT k.id FROM bbtoken_tokens k, t WHERE"
        " (k.revoked_at IS NOT NULL AND k.revoked_at < t.cut)"
        " OR (k.expires_at <= now() AND k.expires_at < t.cut)"
        " ORDER BY k.id FOR UPDATE OF k)"
        " DELETE FROM bbtoken_tokens WHERE id IN (SELECT id FROM d)",
        2, params, &rows);
    if (rc == 0) {
        printf("purged %ld token%s\n", rows, rows == 1 ? "" : "s");
        bbtoken_purge_done(ctx, rows, 0);
        rc = bbtoken_purge_throttle(ctx, rows, &rows);
    }
    if (rc == 0) {
        printf("purged %ld ended leak report count%s\n", rows,
               rows == 1 ? "" : "s");
    }
    return rc;
}

/* ---- project ---------------------------------------------------------- */

int bbtoken_cmd_project(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                        const bbtoken_args_t *a)
{
    bbtoken_target_t t;
    const char *params[2] = {NULL, NULL};
    PGresult *res;
    long rows;
    int rc, may;

    (void)cmd;
    if (a->repo_admins && strcmp(a->repo_admins, "yes") != 0 &&
        strcmp(a->repo_admins, "no") != 0) {
        return bbtoken_fail("--repo-admins-manage-tokens takes yes or no, "
                            "not %s",
                            bbtoken_repeatable(a->repo_admins));
    }
    if ((rc = bbtoken_parse_target(a->operands[0], &t))) {
        return rc;
    }
    if (t.slug) {
        return bbtoken_fail("project takes a project KEY, not a repository: "
                            "%s",
                            a->operands[0]);
    }
    if ((rc = bbtoken_connect(ctx))) {
        return rc;
    }
    params[0] = t.key;
    if (a->repo_admins) {
        params[1] = strcmp(a->repo_admins, "yes") == 0 ? "true" : "false";
        /* The audit trigger records only a real change. */
        rc = bbtoken_exec_audited(
            ctx, "changing the project",
            "INSERT INTO bbtoken_projects (project_key,"
            " repo_admins_manage_tokens) VALUES ($1, $2::boolean)"
            " ON CONFLICT (project_key) DO UPDATE"
            " SET repo_admins_manage_tokens = "
            "EXCLUDED.repo_admins_manage_tokens"
            " WHERE bbtoken_projects.repo_admins_manage_tokens"
            " IS DISTINCT FROM EXCLUDED.repo_admins_manage_tokens",
            2, params, &rows);
        if (rc) {
            return rc;
        }
    }
    res = bbtoken_exec(ctx, "reading the project",
                       "SELECT COALESCE((SELECT repo_admins_manage_tokens"
                       " FROM bbtoken_projects WHERE project_key = $1), true)",
                       1, params);
    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    may = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (a->json) {
        return bbtoken_json_out(json_pack("{s:s, s:b}", "key", t.key,
                                          "repoAdminsManageTokens", may));
    }
    printf("project %s\nrepo-admins-manage-tokens: %s\n", t.key,
           may ? "yes" : "no");
    return 0;
}

/* ---- db --------------------------------------------------------------- */

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
    PGresult *res = PQexec(ctx->conn, sql);

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

int bbtoken_cmd_db_upgrade(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                           const bbtoken_args_t *a)
{
    int rc, version, i, done, applied = 0, as_owner = 0;
    const char *enc;

    (void)cmd;
    ctx->any_schema = 1;
    ctx->upgrading = 1;
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
        if ((rc = bbtoken_migrate(ctx, &bbtoken_migration_list[i],
                                  i ? bbtoken_migration_list[i - 1].version : 0,
                                  &done))) {
            return rc;
        }
        if (done) {
            printf("applied %s\n", bbtoken_migration_list[i].name);
            applied++;
            bbtoken_done(ctx,
                         applied == 1
                             ? "the migration listed above as applied was "
                               "committed before it (running db upgrade "
                               "again applies the rest)"
                             : "the %d migrations listed above as applied "
                               "were committed before it (running db "
                               "upgrade again applies the rest)",
                         applied);
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
